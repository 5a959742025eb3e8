from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.applications.models import STATUSES
from core.applications.programs import MATERIALS, PROGRAMS
from core.households.vocabulary import (
    ASSET_KINDS,
    EMPLOYMENT,
    HEALTH,
    INCOME_CATEGORIES,
    PROXY_REASONS,
    PROXY_RELATIONS,
    RELATIONS,
)
from miniprogram_api.schemas import DecimalString, StrictSchema

CODE = validate.Regexp(r"^\d{9}$|^\d{12}$", error="行政区划代码不正确")
# Numbers are bounded to what their columns hold (core/households/models.py), so that no input
# reaches the database as an overflow: Numeric(12, 2) monthly_amount, Numeric(10, 2) area_sqm,
# Numeric(14, 2) value_yuan, INTEGER quantity / member_index / ids, SMALLINT disability_grade.
MAX_MEMBERS = 30
MAX_ASSET_VALUE_YUAN = 100_000_000_000  # 1000亿元, below Numeric(14, 2)'s 10¹²
MAX_ID = 2**31 - 1


def _choice(options: dict, message: str) -> validate.OneOf:
    return validate.OneOf(list(options), error=message)


class MemberIn(StrictSchema):
    """Drafts may be incomplete; submit checks every field."""

    name = fields.String(
        allow_none=True,
        validate=validate.Length(max=50, error="姓名不能超过50个字"),
        metadata={"description": "Member's name as on the ID card", "example": "张建国"},
    )
    id_number = fields.String(
        allow_none=True,
        validate=validate.Length(max=18, error="身份证号码为18位"),
        metadata={"description": "18-character resident ID number (GB 11643, checked on submit)"},
    )
    relation = fields.String(
        allow_none=True,
        validate=_choice(RELATIONS, "与申请人关系不正确"),
        metadata={"enum": list(RELATIONS), "description": "Relation to the applicant (`self` for the applicant)"},
    )
    health = fields.String(
        allow_none=True,
        validate=_choice(HEALTH, "健康状况不正确"),
        metadata={"enum": list(HEALTH), "description": "Health: healthy, chronic illness, serious illness, disabled"},
    )
    disability_grade = fields.Integer(
        allow_none=True,
        validate=validate.Range(1, 4, error="残疾等级为1-4级"),
        metadata={"description": "Disability certificate grade 1-4 (with health `disabled`)"},
    )
    employment = fields.String(
        allow_none=True,
        validate=_choice(EMPLOYMENT, "就业状况不正确"),
        metadata={"enum": list(EMPLOYMENT), "description": "Employment situation"},
    )


class IncomeIn(StrictSchema):
    category = fields.String(
        required=True,
        validate=_choice(INCOME_CATEGORIES, "收入类别不正确"),
        metadata={"enum": list(INCOME_CATEGORIES), "description": "Kind of income"},
    )
    monthly_amount = DecimalString(
        required=True,
        validate=validate.Range(min=0, max=10_000_000, error="月收入应在0到1000万元之间"),
        metadata={"description": "Yuan per month, a decimal string with up to 2 places", "example": "300.00"},
    )
    member_index = fields.Integer(
        allow_none=True,
        validate=validate.Range(min=0, max=MAX_MEMBERS - 1, error="成员序号不正确"),
        metadata={"description": "Index in `members` of the earner, if known"},
    )
    note = fields.String(
        allow_none=True, validate=validate.Length(max=200), metadata={"description": "Free text, e.g. the source"}
    )


class AssetIn(StrictSchema):
    kind = fields.String(
        required=True,
        validate=_choice(ASSET_KINDS, "财产类别不正确"),
        metadata={"enum": list(ASSET_KINDS), "description": "Kind of asset"},
    )
    description = fields.String(
        allow_none=True, validate=validate.Length(max=200), metadata={"description": "What it is, free text"}
    )
    address = fields.String(
        allow_none=True, validate=validate.Length(max=200), metadata={"description": "Where it is (property)"}
    )
    area_sqm = DecimalString(
        allow_none=True,
        validate=validate.Range(min=0, max=100000, error="面积应在0到100000平方米之间"),
        metadata={"description": "Floor area in square metres, a decimal string", "example": "60.50"},
    )
    value_yuan = DecimalString(
        allow_none=True,
        validate=validate.Range(min=0, max=MAX_ASSET_VALUE_YUAN, error="金额应在0到1000亿元之间"),
        metadata={
            "description": "Value in yuan (deposits, securities, vehicles), a decimal string",
            "example": "35000.00",
        },
    )
    quantity = fields.Integer(
        allow_none=True,
        validate=validate.Range(min=0, max=1000, error="数量应在0到1000之间"),
        metadata={"description": "How many (vehicles)"},
    )


class DraftFields(StrictSchema):
    residence_township_code = fields.String(
        allow_none=True,
        validate=CODE,
        metadata={"description": "Township (9 digits) of residence: the township that handles the application"},
    )
    residence_village_code = fields.String(
        allow_none=True, validate=CODE, metadata={"description": "Village or community (12 digits) of residence"}
    )
    residence_address = fields.String(
        allow_none=True,
        validate=validate.Length(max=200, error="地址不能超过200个字"),
        metadata={"description": "Street address of residence"},
    )
    hukou_township_code = fields.String(
        allow_none=True,
        validate=CODE,
        metadata={"description": "户籍 township (household registration); a different one gets a copy"},
    )
    hardship_reason = fields.String(
        allow_none=True,
        validate=validate.Length(max=2000),
        metadata={"description": "Why the household needs assistance, in the applicant's words"},
    )
    applicant_phone = fields.String(
        allow_none=True,
        validate=validate.Regexp(r"^1[3-9]\d{9}$", error="请输入正确的11位手机号码"),
        metadata={"description": "Contact mobile number (11 digits)"},
    )
    members = fields.List(
        fields.Nested(MemberIn),
        validate=validate.Length(max=MAX_MEMBERS, error=f"家庭成员不能超过{MAX_MEMBERS}人"),
        metadata={"description": "Household members, the applicant first (`relation: self`); replaces the whole list"},
    )
    incomes = fields.List(
        fields.Nested(IncomeIn),
        validate=validate.Length(max=100),
        metadata={"description": "Household incomes; replaces the whole list"},
    )
    assets = fields.List(
        fields.Nested(AssetIn),
        validate=validate.Length(max=100),
        metadata={"description": "Household assets; replaces the whole list"},
    )


class OnBehalfOfIn(StrictSchema):
    name = fields.String(
        required=True,
        validate=validate.Length(min=2, max=50, error="请填写被代办人姓名"),
        metadata={"description": "Name of the person applied for"},
    )
    id_number = fields.String(
        required=True, metadata={"description": "Their 18-character resident ID number (GB 11643)"}
    )
    phone = fields.String(
        allow_none=True,
        validate=validate.Regexp(r"^1[3-9]\d{9}$", error="请输入正确的11位手机号码"),
        metadata={"description": "Their mobile number, if they have one"},
    )
    relation = fields.String(
        required=True,
        validate=_choice(PROXY_RELATIONS, "请选择代办人身份"),
        metadata={"enum": list(PROXY_RELATIONS), "description": "Who the proxy is to them"},
    )
    reason = fields.String(
        required=True,
        validate=_choice(PROXY_REASONS, "请选择代办原因"),
        metadata={"enum": list(PROXY_REASONS), "description": "Why they cannot apply themselves"},
    )
    reason_note = fields.String(
        allow_none=True, validate=validate.Length(max=200), metadata={"description": "Details of the reason"}
    )


class CreateIn(DraftFields):
    program = fields.String(
        required=True,
        validate=_choice(PROGRAMS, "救助项目不存在"),
        metadata={"enum": list(PROGRAMS), "description": "The program applied for (GET /api/v1/programs)"},
    )
    on_behalf_of = fields.Nested(
        OnBehalfOfIn, allow_none=True, metadata={"description": "Proxy (代办): the person this application is for"}
    )


class MemberOut(Schema):
    name = fields.String(allow_none=True, metadata={"description": "Member's name"})
    id_number = fields.String(
        allow_none=True, metadata={"description": "Full ID number (the applicant's own application: they typed it)"}
    )
    relation = fields.String(
        allow_none=True, metadata={"enum": list(RELATIONS), "description": "Relation to the applicant"}
    )
    health = fields.String(allow_none=True, metadata={"enum": list(HEALTH), "description": "Health"})
    disability_grade = fields.Integer(allow_none=True, metadata={"description": "Disability grade 1-4"})
    employment = fields.String(allow_none=True, metadata={"enum": list(EMPLOYMENT), "description": "Employment"})


class IncomeOut(Schema):
    category = fields.String(metadata={"enum": list(INCOME_CATEGORIES), "description": "Kind of income"})
    monthly_amount = DecimalString(metadata={"description": "Yuan per month, a decimal string", "example": "300.00"})
    member_index = fields.Integer(allow_none=True, metadata={"description": "Index in `members` of the earner"})
    note = fields.String(allow_none=True, metadata={"description": "Free text"})


class AssetOut(Schema):
    kind = fields.String(metadata={"enum": list(ASSET_KINDS), "description": "Kind of asset"})
    description = fields.String(allow_none=True, metadata={"description": "What it is"})
    address = fields.String(allow_none=True, metadata={"description": "Where it is"})
    area_sqm = DecimalString(
        allow_none=True, metadata={"description": "Floor area in square metres, a decimal string", "example": "60.50"}
    )
    value_yuan = DecimalString(
        allow_none=True, metadata={"description": "Value in yuan, a decimal string", "example": "35000.00"}
    )
    quantity = fields.Integer(allow_none=True, metadata={"description": "How many"})


class AttachmentOut(Schema):
    id = fields.Integer(metadata={"description": "Attachment id ({attachment_id} in its URL)"})
    material = fields.String(metadata={"enum": list(MATERIALS), "description": "Kind of material"})
    material_label = fields.Function(
        lambda a: MATERIALS.get(a.material, a.material),
        metadata={"type": "string", "description": "Kind of material, Chinese", "example": "户口簿"},
    )
    original_name = fields.String(metadata={"description": "File name as uploaded", "example": "户口簿.jpg"})
    content_type = fields.String(
        metadata={"enum": ["image/jpeg", "image/png", "application/pdf"], "description": "Type, by content"}
    )
    size = fields.Integer(metadata={"description": "Bytes stored (images re-encoded without EXIF)"})
    created_at = fields.DateTime(metadata={"description": "Uploaded at (UTC, ISO 8601)"})


class ApplicationSummary(Schema):
    id = fields.Integer(metadata={"description": "Application id ({application_id} in its URLs)"})
    reference = fields.String(
        metadata={"description": "Reference shown to people (申请编号)", "example": "SQ20261123A1B2C3D4"}
    )
    program = fields.String(metadata={"enum": list(PROGRAMS), "description": "Program applied for"})
    program_label = fields.Function(
        lambda a: PROGRAMS[a.program]["label"],
        metadata={"type": "string", "description": "Program, Chinese", "example": "最低生活保障"},
    )
    status = fields.String(metadata={"enum": list(STATUSES), "description": "Where the application stands"})
    status_label = fields.Function(
        lambda a: STATUSES[a.status], metadata={"type": "string", "description": "Status, Chinese", "example": "草稿"}
    )
    is_proxy = fields.Boolean(metadata={"description": "代办: made by a proxy for another person"})
    principal_confirmed = fields.Boolean(
        metadata={"description": "Proxy applications: false until the person applied for confirms"}
    )
    applicant_name = fields.String(allow_none=True, metadata={"description": "The applicant's name"})
    submitted_at = fields.DateTime(allow_none=True, metadata={"description": "Submitted at (UTC); null for a draft"})
    created_at = fields.DateTime(metadata={"description": "Created at (UTC)"})
    updated_at = fields.DateTime(metadata={"description": "Last changed at (UTC)"})


class ApplicationOut(ApplicationSummary):
    applicant_id_number = fields.String(allow_none=True, metadata={"description": "The applicant's ID number"})
    applicant_phone = fields.String(allow_none=True, metadata={"description": "Contact mobile number"})
    proxy_relation = fields.String(
        allow_none=True, metadata={"enum": list(PROXY_RELATIONS), "description": "Proxy: who the proxy is to them"}
    )
    proxy_reason = fields.String(
        allow_none=True, metadata={"enum": list(PROXY_REASONS), "description": "Proxy: why they cannot apply"}
    )
    residence_township_code = fields.String(allow_none=True, metadata={"description": "Township of residence"})
    residence_village_code = fields.String(allow_none=True, metadata={"description": "Village of residence"})
    residence_address = fields.String(allow_none=True, metadata={"description": "Street address of residence"})
    hukou_township_code = fields.String(allow_none=True, metadata={"description": "户籍 township"})
    hardship_reason = fields.String(allow_none=True, metadata={"description": "Why assistance is needed"})
    members = fields.List(fields.Nested(MemberOut), metadata={"description": "Household members"})
    incomes = fields.List(fields.Nested(IncomeOut), metadata={"description": "Household incomes"})
    assets = fields.List(fields.Nested(AssetOut), metadata={"description": "Household assets"})
    attachments = fields.Method(
        "_attachments",
        metadata={
            "type": "array",
            "items": {"$ref": "#/components/schemas/AttachmentOut"},
            "description": "Materials uploaded",
        },
    )

    economic_check = fields.Method(
        "_economic_check",
        metadata={
            "type": "object",
            "nullable": True,
            "description": (
                "The household economic check (家庭经济状况核对), in neutral words for the applicant: its status "
                "(queued, running, done, blocked, failed) and a Chinese sentence; never the department data or "
                "the grade. null until every adult member has authorized the check."
            ),
            "properties": {
                "status": {
                    "type": "string",
                    "enum": ["queued", "running", "done", "blocked", "failed"],
                    "description": "Where the check stands",
                },
                "summary": {
                    "type": "string",
                    "description": "A neutral sentence for the applicant, Chinese",
                    "example": "家庭经济状况核对已完成，工作人员将结合入户调查情况继续审核。",
                },
                "finished_at": {
                    "type": "string",
                    "format": "date-time",
                    "nullable": True,
                    "description": "When the check finished (UTC)",
                },
            },
            "example": {
                "status": "done",
                "summary": "家庭经济状况核对已完成，工作人员将结合入户调查情况继续审核。",
                "finished_at": "2026-11-23T08:30:00+00:00",
            },
        },
    )

    def _economic_check(self, app: object) -> dict | None:
        from core.checks.services import applicant_summary

        summary = applicant_summary(app)
        if summary is None:
            return None
        finished = summary["finished_at"]
        return {**summary, "finished_at": finished.isoformat() if finished else None}

    def _attachments(self, app: object) -> list:
        from core.applications.services import attachments_of

        return AttachmentOut(many=True).dump(attachments_of(app))


class ListQuery(StrictSchema):
    status = fields.String(
        validate=_choice(STATUSES, "状态不正确"),
        metadata={"enum": list(STATUSES), "description": "Only applications in this status"},
    )


class WithdrawIn(StrictSchema):
    reason = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200, error="撤回原因为1-200个字"),
        metadata={"description": "Why the application is withdrawn (1-200 characters)", "example": "家庭收入已增加"},
    )


class CorrectionIn(StrictSchema):
    text = fields.String(
        load_default="",
        validate=validate.Length(max=1000, error="补正说明不能超过1000个字"),
        metadata={"description": "What was corrected (text, materials or both needed)"},
    )
    attachment_ids = fields.List(
        fields.Integer(validate=validate.Range(min=1, max=MAX_ID, error="材料编号不正确")),
        load_default=list,
        validate=validate.Length(max=50, error="一次最多补正50份材料"),
        metadata={"description": "Attachments uploaded for this correction"},
    )


class EventOut(Schema):
    at = fields.DateTime(metadata={"description": "When (UTC)"})
    kind = fields.String(
        metadata={"description": "What happened (machine-readable)", "example": "correction_requested"}
    )
    status = fields.String(metadata={"enum": list(STATUSES), "description": "Status after the event"})
    status_label = fields.Function(
        lambda e: STATUSES[e.status], metadata={"type": "string", "description": "Status, Chinese"}
    )
    text = fields.String(attribute="citizen_text", metadata={"description": "Plain Chinese for the citizen"})
    reason = fields.String(allow_none=True, metadata={"description": "The officer's reason, when one was given"})


class UploadForm(StrictSchema):
    """The multipart body of a material upload."""

    material = fields.String(
        required=True,
        validate=_choice(MATERIALS, "请选择材料类别"),
        metadata={"enum": list(MATERIALS), "description": "Kind of material"},
    )
    file = fields.Raw(
        required=True,
        metadata={
            "type": "string",
            "format": "binary",
            "description": "JPEG, PNG or PDF (by content), at most MAX_UPLOAD_BYTES (10 MiB)",
        },
    )


def summary_items(rows: list) -> list[dict]:
    """What ``ApplicationSummary(many=True).dump(rows)`` gives for the list's rows, without marshmallow's
    per-field machinery (the hot list; tests/api/test_list_serialization.py holds it equal to the schema)."""
    return [
        {
            "id": r.id,
            "reference": r.reference,
            "program": r.program,
            "program_label": PROGRAMS[r.program]["label"],
            "status": r.status,
            "status_label": STATUSES[r.status],
            "is_proxy": r.is_proxy,
            "principal_confirmed": r.principal_confirmed,
            "applicant_name": r.applicant_name,
            "submitted_at": r.submitted_at.isoformat() if r.submitted_at is not None else None,
            "created_at": r.created_at.isoformat() if r.created_at is not None else None,
            "updated_at": r.updated_at.isoformat() if r.updated_at is not None else None,
        }
        for r in rows
    ]
