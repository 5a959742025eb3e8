from __future__ import annotations

from marshmallow import Schema, fields, validate

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
        required=True, validate=_choice(CATEGORIES, "请选择困难类别"), metadata={"enum": list(CATEGORIES)}
    )
    township_code = fields.String(required=True, validate=validate.Regexp(r"^\d{9}$", error="请选择乡镇（街道）"))
    village_code = fields.String(allow_none=True, validate=validate.Regexp(r"^\d{12}$", error="村（社区）代码不正确"))
    latitude = fields.Float(allow_none=True, validate=validate.Range(-90, 90, error="纬度应在-90到90之间"))
    longitude = fields.Float(allow_none=True, validate=validate.Range(-180, 180, error="经度应在-180到180之间"))
    coordinate_system = fields.String(
        allow_none=True,
        validate=_choice(COORDINATE_SYSTEMS, "坐标系应为 wgs84 或 gcj02"),
        metadata={"enum": list(COORDINATE_SYSTEMS), "description": "Required with a GPS point: wgs84 (GPS) or gcj02"},
    )
    address = fields.String(allow_none=True, validate=validate.Length(max=200, error="地址不能超过200个字"))
    person_name = fields.String(allow_none=True, validate=validate.Length(max=50, error="姓名不能超过50个字"))
    person_id_number = fields.String(allow_none=True, validate=validate.Length(max=18, error="身份证号码为18位"))
    person_phone = fields.String(
        allow_none=True, validate=validate.Regexp(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$", error="电话号码格式不正确")
    )
    age_group = fields.String(
        allow_none=True, validate=_choice(AGE_GROUPS, "年龄段不正确"), metadata={"enum": list(AGE_GROUPS)}
    )
    description = fields.String(allow_none=True, validate=validate.Length(max=1000, error="情况描述不能超过1000个字"))
    urgency = fields.String(
        load_default="normal",
        validate=_choice(URGENCY, "紧急程度应为 urgent 或 normal"),
        metadata={"enum": list(URGENCY)},
    )
    as_role = fields.String(
        allow_none=True,
        validate=_choice(REPORTER_ROLES, "报告人身份不正确"),
        metadata={"enum": list(REPORTER_ROLES), "description": "Report as one of my roles (default: my highest)"},
    )


class ProgressOut(Schema):
    at = fields.DateTime()
    text = fields.String(attribute="reporter_text")


class PhotoOut(Schema):
    id = fields.Integer()
    content_type = fields.String()
    size = fields.Integer()
    created_at = fields.DateTime()


class ReportOut(Schema):
    """What the reporter may see: what they gave, the status and the outcome category — nothing more."""

    id = fields.Integer()
    reference = fields.String(metadata={"example": "BG20261123A1B2C3D4"})
    category = fields.String(metadata={"enum": list(CATEGORIES)})
    category_label = fields.Function(lambda r: CATEGORIES[r.category])
    urgency = fields.String(metadata={"enum": list(URGENCY)})
    reporter_role = fields.String(metadata={"enum": list(REPORTER_ROLES)})
    reporter_role_label = fields.Function(lambda r: REPORTER_ROLES[r.reporter_role])
    township_code = fields.String()
    village_code = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    coordinate_system = fields.String(allow_none=True)
    person_name = fields.String(allow_none=True)
    person_id_number_masked = fields.Function(lambda r: mask(r.person_id_number))
    age_group = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    status = fields.String(metadata={"enum": list(STATUSES)})
    status_label = fields.Function(lambda r: STATUSES[r.status])
    outcome = fields.String(allow_none=True, metadata={"enum": list(OUTCOMES)})
    outcome_label = fields.Function(lambda r: OUTCOMES.get(r.outcome) if r.outcome else None)
    is_duplicate = fields.Function(
        lambda r: r.duplicate_of_id is not None,
        metadata={"description": "Someone reported this person already; it is handled"},
    )
    created_at = fields.DateTime()


class CreatedReportOut(ReportOut):
    message = fields.String(metadata={"description": "What to tell the reporter, in Chinese"})


class ReportDetailOut(ReportOut):
    progress = fields.List(fields.Nested(ProgressOut))
    photos = fields.List(fields.Nested(PhotoOut))


class OptionOut(Schema):
    code = fields.String()
    label = fields.String()


class CategoriesOut(Schema):
    categories = fields.List(fields.Nested(OptionOut))
    urgency = fields.List(fields.Nested(OptionOut))
    age_groups = fields.List(fields.Nested(OptionOut))
    coordinate_systems = fields.List(fields.Nested(OptionOut))
    reporter_roles = fields.List(fields.Nested(OptionOut))


class PhotoFile(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})
