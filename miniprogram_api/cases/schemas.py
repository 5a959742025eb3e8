from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.casework.models import CASE_KINDS, CASE_STATUSES
from miniprogram_api.schemas import StrictSchema


class DemoCaseIn(StrictSchema):
    township_code = fields.String(
        required=True,
        validate=validate.Regexp(r"^\d{9}$", error="请选择乡镇（街道）"),
        metadata={"example": "360124100"},
    )
    title = fields.String(required=True, validate=validate.Length(min=1, max=100, error="标题为1-100个字符"))


class CaseSchema(Schema):
    id = fields.Integer()
    reference = fields.String(metadata={"example": "JZ20261123A1B2C3D4"})
    kind = fields.String(metadata={"enum": list(CASE_KINDS)})
    title = fields.String()
    status = fields.String(metadata={"enum": list(CASE_STATUSES)})
    status_label = fields.Method("_status_label")
    township_code = fields.String()
    due_date = fields.Date()
    created_at = fields.DateTime()

    def _status_label(self, obj: object) -> str:
        return CASE_STATUSES.get(obj.status, obj.status)
