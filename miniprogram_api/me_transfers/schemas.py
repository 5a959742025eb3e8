from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.registry.models import TRANSFER_STATUSES
from miniprogram_api.schemas import StrictSchema


class TransferRequestForm(StrictSchema):
    """The multipart body of a transfer request: where the 户籍 moved, why, and the new 户口簿 page."""

    to_township_code = fields.String(
        required=True,
        validate=validate.Length(max=12, error="请选择新户籍地所在的乡镇（街道）"),
        metadata={
            "description": "The new 户籍 township (9-digit division code) in another county of the same province",
            "example": "360121100",
        },
    )
    to_village_code = fields.String(
        load_default=None,
        validate=validate.Length(max=12, error="村（社区）区划代码不存在"),
        metadata={"description": "The new village or community (12-digit code), optional", "example": "360121100001"},
    )
    to_address = fields.String(
        load_default=None,
        validate=validate.Length(max=200, error="新住址不能超过200个字"),
        metadata={"description": "The new address, optional", "example": "莲塘镇府前路88号"},
    )
    reason = fields.String(
        required=True,
        validate=validate.Length(max=300, error="转移原因不能超过300个字"),
        metadata={
            "description": "Why the 户籍 moved, in the household's words",
            "example": "户籍随子女迁入南昌县莲塘镇",
        },
    )
    file = fields.Raw(
        required=True,
        metadata={
            "type": "string",
            "format": "binary",
            "description": (
                "The new 户口簿 page (head's or own page): JPEG, PNG or PDF by content, at most MAX_UPLOAD_BYTES"
            ),
        },
    )


class TransferOut(Schema):
    """An eligibility transfer (资格转移) of one of my household's benefits."""

    id = fields.Integer(metadata={"description": "Use as {id} in /me/transfers/{id}"})
    reference = fields.String(metadata={"description": "The transfer's reference", "example": "ZY20261203A1B2C3D4"})
    enrollment_id = fields.Integer(metadata={"description": "The benefit moved (its /me/benefits/{id})"})
    program = fields.String(metadata={"enum": ["dibao", "tekun"], "description": "The programme"})
    program_label = fields.String(metadata={"description": "The programme, Chinese", "example": "最低生活保障"})
    status = fields.String(metadata={"enum": list(TRANSFER_STATUSES), "description": "Where the transfer stands"})
    status_label = fields.String(metadata={"description": "Status, Chinese", "example": "待原县确认"})
    text = fields.String(metadata={"description": "Where it stands, in plain Chinese for the household"})
    from_county_code = fields.String(metadata={"description": "The county that paid so far", "example": "360124"})
    from_county_name = fields.String(allow_none=True, metadata={"description": "Its name"})
    from_township_code = fields.String(
        metadata={"description": "The township that paid so far", "example": "360124100"}
    )
    from_township_name = fields.String(allow_none=True, metadata={"description": "Its name"})
    to_county_code = fields.String(metadata={"description": "The new county", "example": "360121"})
    to_county_name = fields.String(allow_none=True, metadata={"description": "Its name"})
    to_township_code = fields.String(metadata={"description": "The new township", "example": "360121100"})
    to_township_name = fields.String(allow_none=True, metadata={"description": "Its name"})
    to_village_code = fields.String(allow_none=True, metadata={"description": "The new village, if given"})
    to_village_name = fields.String(allow_none=True, metadata={"description": "Its name"})
    to_address = fields.String(allow_none=True, metadata={"description": "The new address, if given"})
    reason = fields.String(allow_none=True, metadata={"description": "The reason given with the request"})
    end_month = fields.String(
        allow_none=True, metadata={"description": "Last month the old county pays (YYYY-MM), once it confirmed"}
    )
    first_month_new_county = fields.String(
        allow_none=True, metadata={"description": "First month the new county pays (YYYY-MM), once known"}
    )
    new_enrollment_id = fields.Integer(
        allow_none=True, metadata={"description": "The benefit in the new county, once accepted"}
    )
    refusal_reason = fields.String(allow_none=True, metadata={"description": "Why a county refused"})
    can_cancel = fields.Boolean(
        metadata={"description": "Whether I can still withdraw it (my request, not yet confirmed)"}
    )
    created_at = fields.DateTime(metadata={"description": "Requested at (UTC)"})
    updated_at = fields.DateTime(metadata={"description": "Last change (UTC)"})
