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
from miniprogram_api.schemas import StrictSchema

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

    name = fields.String(allow_none=True, validate=validate.Length(max=50, error="姓名不能超过50个字"))
    id_number = fields.String(allow_none=True, validate=validate.Length(max=18, error="身份证号码为18位"))
    relation = fields.String(
        allow_none=True, validate=_choice(RELATIONS, "与申请人关系不正确"), metadata={"enum": list(RELATIONS)}
    )
    health = fields.String(allow_none=True, validate=_choice(HEALTH, "健康状况不正确"), metadata={"enum": list(HEALTH)})
    disability_grade = fields.Integer(allow_none=True, validate=validate.Range(1, 4, error="残疾等级为1-4级"))
    employment = fields.String(
        allow_none=True, validate=_choice(EMPLOYMENT, "就业状况不正确"), metadata={"enum": list(EMPLOYMENT)}
    )


class IncomeIn(StrictSchema):
    category = fields.String(
        required=True, validate=_choice(INCOME_CATEGORIES, "收入类别不正确"), metadata={"enum": list(INCOME_CATEGORIES)}
    )
    monthly_amount = fields.Decimal(
        required=True,
        places=2,
        as_string=True,
        validate=validate.Range(min=0, max=10_000_000, error="月收入应在0到1000万元之间"),
        metadata={"description": "Yuan per month"},
    )
    member_index = fields.Integer(
        allow_none=True,
        validate=validate.Range(min=0, max=MAX_MEMBERS - 1, error="成员序号不正确"),
        metadata={"description": "Index in `members` of the earner, if known"},
    )
    note = fields.String(allow_none=True, validate=validate.Length(max=200))


class AssetIn(StrictSchema):
    kind = fields.String(
        required=True, validate=_choice(ASSET_KINDS, "财产类别不正确"), metadata={"enum": list(ASSET_KINDS)}
    )
    description = fields.String(allow_none=True, validate=validate.Length(max=200))
    address = fields.String(allow_none=True, validate=validate.Length(max=200))
    area_sqm = fields.Decimal(
        allow_none=True,
        places=2,
        as_string=True,
        validate=validate.Range(min=0, max=100000, error="面积应在0到100000平方米之间"),
    )
    value_yuan = fields.Decimal(
        allow_none=True,
        places=2,
        as_string=True,
        validate=validate.Range(min=0, max=MAX_ASSET_VALUE_YUAN, error="金额应在0到1000亿元之间"),
    )
    quantity = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=1000, error="数量应在0到1000之间"))


class DraftFields(StrictSchema):
    residence_township_code = fields.String(allow_none=True, validate=CODE)
    residence_village_code = fields.String(allow_none=True, validate=CODE)
    residence_address = fields.String(allow_none=True, validate=validate.Length(max=200, error="地址不能超过200个字"))
    hukou_township_code = fields.String(
        allow_none=True, validate=CODE, metadata={"description": "户籍 township; a different one gets a copy"}
    )
    hardship_reason = fields.String(allow_none=True, validate=validate.Length(max=2000))
    applicant_phone = fields.String(
        allow_none=True, validate=validate.Regexp(r"^1[3-9]\d{9}$", error="请输入正确的11位手机号码")
    )
    members = fields.List(
        fields.Nested(MemberIn),
        validate=validate.Length(max=MAX_MEMBERS, error=f"家庭成员不能超过{MAX_MEMBERS}人"),
        metadata={"description": "Replaces the whole list"},
    )
    incomes = fields.List(
        fields.Nested(IncomeIn), validate=validate.Length(max=100), metadata={"description": "Replaces the whole list"}
    )
    assets = fields.List(
        fields.Nested(AssetIn), validate=validate.Length(max=100), metadata={"description": "Replaces the whole list"}
    )


class OnBehalfOfIn(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=2, max=50, error="请填写被代办人姓名"))
    id_number = fields.String(required=True)
    phone = fields.String(allow_none=True, validate=validate.Regexp(r"^1[3-9]\d{9}$", error="请输入正确的11位手机号码"))
    relation = fields.String(
        required=True, validate=_choice(PROXY_RELATIONS, "请选择代办人身份"), metadata={"enum": list(PROXY_RELATIONS)}
    )
    reason = fields.String(
        required=True, validate=_choice(PROXY_REASONS, "请选择代办原因"), metadata={"enum": list(PROXY_REASONS)}
    )
    reason_note = fields.String(allow_none=True, validate=validate.Length(max=200))


class CreateIn(DraftFields):
    program = fields.String(
        required=True, validate=_choice(PROGRAMS, "救助项目不存在"), metadata={"enum": list(PROGRAMS)}
    )
    on_behalf_of = fields.Nested(
        OnBehalfOfIn, allow_none=True, metadata={"description": "Proxy (代办): the person this application is for"}
    )


class MemberOut(Schema):
    name = fields.String(allow_none=True)
    id_number = fields.String(allow_none=True)
    relation = fields.String(allow_none=True)
    health = fields.String(allow_none=True)
    disability_grade = fields.Integer(allow_none=True)
    employment = fields.String(allow_none=True)


class IncomeOut(Schema):
    category = fields.String()
    monthly_amount = fields.Decimal(as_string=True)
    member_index = fields.Integer(allow_none=True)
    note = fields.String(allow_none=True)


class AssetOut(Schema):
    kind = fields.String()
    description = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    area_sqm = fields.Decimal(as_string=True, allow_none=True)
    value_yuan = fields.Decimal(as_string=True, allow_none=True)
    quantity = fields.Integer(allow_none=True)


class AttachmentOut(Schema):
    id = fields.Integer()
    material = fields.String(metadata={"enum": list(MATERIALS)})
    material_label = fields.Function(lambda a: MATERIALS.get(a.material, a.material))
    original_name = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    created_at = fields.DateTime()


class ApplicationSummary(Schema):
    id = fields.Integer()
    reference = fields.String(metadata={"example": "SQ20261123A1B2C3D4"})
    program = fields.String(metadata={"enum": list(PROGRAMS)})
    program_label = fields.Function(lambda a: PROGRAMS[a.program]["label"])
    status = fields.String(metadata={"enum": list(STATUSES)})
    status_label = fields.Function(lambda a: STATUSES[a.status])
    is_proxy = fields.Boolean(metadata={"description": "代办: submitted by a proxy"})
    principal_confirmed = fields.Boolean(metadata={"description": "False until the principal authorizes"})
    applicant_name = fields.String(allow_none=True)
    submitted_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ApplicationOut(ApplicationSummary):
    applicant_id_number = fields.String(allow_none=True)
    applicant_phone = fields.String(allow_none=True)
    proxy_relation = fields.String(allow_none=True)
    proxy_reason = fields.String(allow_none=True)
    residence_township_code = fields.String(allow_none=True)
    residence_village_code = fields.String(allow_none=True)
    residence_address = fields.String(allow_none=True)
    hukou_township_code = fields.String(allow_none=True)
    hardship_reason = fields.String(allow_none=True)
    members = fields.List(fields.Nested(MemberOut))
    incomes = fields.List(fields.Nested(IncomeOut))
    assets = fields.List(fields.Nested(AssetOut))
    attachments = fields.Method("_attachments")

    def _attachments(self, app: object) -> list:
        from core.applications.services import attachments_of

        return AttachmentOut(many=True).dump(attachments_of(app))


class ListQuery(StrictSchema):
    status = fields.String(validate=_choice(STATUSES, "状态不正确"), metadata={"enum": list(STATUSES)})


class WithdrawIn(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200, error="撤回原因为1-200个字"))


class CorrectionIn(StrictSchema):
    text = fields.String(load_default="", validate=validate.Length(max=1000, error="补正说明不能超过1000个字"))
    attachment_ids = fields.List(
        fields.Integer(validate=validate.Range(min=1, max=MAX_ID, error="材料编号不正确")),
        load_default=list,
        validate=validate.Length(max=50, error="一次最多补正50份材料"),
        metadata={"description": "Attachments uploaded for this correction"},
    )


class EventOut(Schema):
    at = fields.DateTime()
    kind = fields.String(metadata={"example": "correction_requested"})
    status = fields.String(metadata={"enum": list(STATUSES)})
    status_label = fields.Function(lambda e: STATUSES[e.status])
    text = fields.String(attribute="citizen_text", metadata={"description": "Plain Chinese for the citizen"})
    reason = fields.String(allow_none=True)


class UploadForm(StrictSchema):
    material = fields.String(
        required=True, validate=_choice(MATERIALS, "请选择材料类别"), metadata={"enum": list(MATERIALS)}
    )


class UploadFile(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})
