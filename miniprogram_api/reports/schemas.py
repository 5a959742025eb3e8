from __future__ import annotations

from marshmallow import Schema, fields, validate

from core import pii
from core.idnumber import mask
from core.reports.vocabulary import (
    AGE_GROUPS,
    CATEGORIES,
    COORDINATE_SYSTEMS,
    OUTCOMES,
    REPORTER_ROLES,
    STATUSES,
    URGENCY,
)
from miniprogram_api.schemas import StrictSchema


def _choice(options: dict, message: str) -> validate.OneOf:
    return validate.OneOf(list(options), error=message)


class ReportIn(StrictSchema):
    category = fields.String(
        required=True,
        validate=_choice(CATEGORIES, "请选择困难类别"),
        metadata={"enum": list(CATEGORIES), "description": "Kind of difficulty"},
    )
    township_code = fields.String(
        required=True,
        validate=validate.Regexp(r"^\d{9}$", error="请选择乡镇（街道）"),
        metadata={"description": "Township (9 digits) where the person is: it handles the report"},
    )
    village_code = fields.String(
        allow_none=True,
        validate=validate.Regexp(r"^\d{12}$", error="村（社区）代码不正确"),
        metadata={"description": "Village or community (12 digits), if known"},
    )
    latitude = fields.Float(
        allow_none=True,
        validate=validate.Range(-90, 90, error="纬度应在-90到90之间"),
        metadata={"description": "GPS latitude (with longitude and coordinate_system)"},
    )
    longitude = fields.Float(
        allow_none=True,
        validate=validate.Range(-180, 180, error="经度应在-180到180之间"),
        metadata={"description": "GPS longitude"},
    )
    coordinate_system = fields.String(
        allow_none=True,
        validate=_choice(COORDINATE_SYSTEMS, "坐标系应为 wgs84 或 gcj02"),
        metadata={
            "enum": [*COORDINATE_SYSTEMS, None],
            "description": "Required with a GPS point: wgs84 (GPS; wx.getLocation's default) or gcj02",
        },
    )
    address = fields.String(
        allow_none=True,
        validate=validate.Length(max=200, error="地址不能超过200个字"),
        metadata={"description": "Where to find the person, in words"},
    )
    person_name = fields.String(
        allow_none=True,
        validate=validate.Length(max=50, error="姓名不能超过50个字"),
        metadata={"description": "The person's name, if known"},
    )
    person_id_number = fields.String(
        allow_none=True,
        validate=validate.Length(max=18, error="身份证号码为18位"),
        metadata={"description": "The person's ID number, if known (checked; never shown back in full)"},
    )
    person_phone = fields.String(
        allow_none=True,
        validate=validate.Regexp(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$", error="电话号码格式不正确"),
        metadata={"description": "A mobile or landline number to reach the person"},
    )
    age_group = fields.String(
        allow_none=True,
        validate=_choice(AGE_GROUPS, "年龄段不正确"),
        metadata={"enum": [*AGE_GROUPS, None], "description": "Age group, if the age is not known"},
    )
    description = fields.String(
        allow_none=True,
        validate=validate.Length(max=1000, error="情况描述不能超过1000个字"),
        metadata={"description": "What the reporter saw"},
    )
    urgency = fields.String(
        load_default="normal",
        validate=_choice(URGENCY, "紧急程度应为 urgent 或 normal"),
        metadata={"enum": list(URGENCY), "description": "urgent: contact within the urgent limit (default normal)"},
    )
    as_role = fields.String(
        allow_none=True,
        validate=_choice(REPORTER_ROLES, "报告人身份不正确"),
        metadata={
            "enum": [*REPORTER_ROLES, None],
            "description": "Report as one of my roles (default: my highest role covering the place)",
        },
    )


class ProgressOut(Schema):
    at = fields.DateTime(metadata={"description": "When (UTC)"})
    text = fields.String(attribute="reporter_text", metadata={"description": "What happened, Chinese"})


class PhotoOut(Schema):
    id = fields.Integer(metadata={"description": "Photo id ({photo_id})"})
    content_type = fields.String(metadata={"enum": ["image/jpeg", "image/png"], "description": "Type, by content"})
    size = fields.Integer(metadata={"description": "Bytes stored"})
    created_at = fields.DateTime(metadata={"description": "Uploaded at (UTC)"})


class ReportOut(Schema):
    """What the reporter may see: what they gave, the status and the outcome category — nothing more."""

    id = fields.Integer(metadata={"description": "Report id ({report_id})"})
    reference = fields.String(metadata={"description": "Reference shown to people", "example": "BG20261123A1B2C3D4"})
    category = fields.String(metadata={"enum": list(CATEGORIES), "description": "Kind of difficulty"})
    category_label = fields.Function(
        lambda r: CATEGORIES[r.category], metadata={"type": "string", "description": "Kind, Chinese"}
    )
    urgency = fields.String(metadata={"enum": list(URGENCY), "description": "Urgency"})
    reporter_role = fields.String(metadata={"enum": list(REPORTER_ROLES), "description": "Role reported as"})
    reporter_role_label = fields.Function(
        lambda r: REPORTER_ROLES[r.reporter_role], metadata={"type": "string", "description": "Role, Chinese"}
    )
    township_code = fields.String(metadata={"description": "Township handling the report"})
    village_code = fields.String(allow_none=True, metadata={"description": "Village or community"})
    address = fields.String(allow_none=True, metadata={"description": "Where, in words"})
    latitude = fields.Float(allow_none=True, metadata={"description": "Latitude"})
    longitude = fields.Float(allow_none=True, metadata={"description": "Longitude"})
    coordinate_system = fields.String(
        allow_none=True, metadata={"enum": [*COORDINATE_SYSTEMS, None], "description": "Of latitude/longitude"}
    )
    person_name = fields.String(allow_none=True, metadata={"description": "The person's name, as given"})
    person_id_number_masked = fields.Function(
        lambda r: mask(r.person_id_number),
        allow_none=True,
        metadata={"type": "string", "nullable": True, "description": "The ID number given, masked"},
    )
    age_group = fields.String(allow_none=True, metadata={"enum": [*AGE_GROUPS, None], "description": "Age group"})
    description = fields.String(allow_none=True, metadata={"description": "What the reporter saw"})
    status = fields.String(metadata={"enum": list(STATUSES), "description": "Where the report stands"})
    status_label = fields.Function(
        lambda r: STATUSES[r.status], metadata={"type": "string", "description": "Status, Chinese"}
    )
    outcome = fields.String(
        allow_none=True, metadata={"enum": [*OUTCOMES, None], "description": "How it ended (when closed)"}
    )
    outcome_label = fields.Function(
        lambda r: OUTCOMES.get(r.outcome) if r.outcome else None,
        allow_none=True,
        metadata={"type": "string", "nullable": True, "description": "Outcome, Chinese"},
    )
    is_duplicate = fields.Function(
        lambda r: r.duplicate_of_id is not None,
        metadata={"type": "boolean", "description": "Someone reported this person already; it is handled"},
    )
    created_at = fields.DateTime(metadata={"description": "Reported at (UTC)"})


class CreatedReportOut(ReportOut):
    message = fields.String(allow_none=True, metadata={"description": "What to tell the reporter, in Chinese"})


class ReportDetailOut(ReportOut):
    progress = fields.List(fields.Nested(ProgressOut), metadata={"description": "Progress, oldest first"})
    photos = fields.List(fields.Nested(PhotoOut), metadata={"description": "Photos added"})


class OptionOut(Schema):
    code = fields.String(metadata={"description": "The value to send"})
    label = fields.String(metadata={"description": "What to show, Chinese"})


class CategoriesOut(Schema):
    categories = fields.List(fields.Nested(OptionOut), metadata={"description": "Kinds of difficulty"})
    urgency = fields.List(fields.Nested(OptionOut), metadata={"description": "Urgency levels"})
    age_groups = fields.List(fields.Nested(OptionOut), metadata={"description": "Age groups"})
    coordinate_systems = fields.List(fields.Nested(OptionOut), metadata={"description": "Coordinate systems"})
    reporter_roles = fields.List(fields.Nested(OptionOut), metadata={"description": "Reporter roles"})


class PhotoFile(Schema):
    file = fields.Raw(
        required=True,
        metadata={"type": "string", "format": "binary", "description": "JPEG or PNG, at most MAX_UPLOAD_BYTES"},
    )


def report_items(rows: list) -> list[dict]:
    """What ``ReportOut(many=True).dump(reports)`` gives, from the list's rows (core.reports.queries
    SUMMARY_COLUMNS) without marshmallow's per-field machinery (the hot list; tests/api/test_list_serialization.py
    holds it equal to the schema)."""
    return [
        {
            "id": r.id,
            "reference": r.reference,
            "category": r.category,
            "category_label": CATEGORIES[r.category],
            "urgency": r.urgency,
            "reporter_role": r.reporter_role,
            "reporter_role_label": REPORTER_ROLES[r.reporter_role],
            "township_code": r.township_code,
            "village_code": r.village_code,
            "address": r.address,
            "latitude": float(r.latitude) if r.latitude is not None else None,
            "longitude": float(r.longitude) if r.longitude is not None else None,
            "coordinate_system": r.coordinate_system,
            "person_name": r.person_name,
            "person_id_number_masked": mask(pii.decrypt_id(r.person_id_number_enc)),
            "age_group": r.age_group,
            "description": r.description,
            "status": r.status,
            "status_label": STATUSES[r.status],
            "outcome": r.outcome,
            "outcome_label": OUTCOMES.get(r.outcome) if r.outcome else None,
            "is_duplicate": r.duplicate_of_id is not None,
            "created_at": r.created_at.isoformat() if r.created_at is not None else None,
        }
        for r in rows
    ]
