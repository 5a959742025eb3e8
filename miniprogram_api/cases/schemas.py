from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.casework.models import CASE_KINDS, CASE_STATUSES
from miniprogram_api.schemas import StrictSchema


class DemoCaseIn(StrictSchema):
    township_code = fields.String(
        required=True,
        validate=validate.Regexp(r"^\d{9}$", error="请选择乡镇（街道）"),
        metadata={"description": "Township (9 digits) whose queue gets the case", "example": "360124100"},
    )
    title = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100, error="标题为1-100个字符"),
        metadata={"description": "Title shown in the queue (1-100 characters)"},
    )


class CaseSchema(Schema):
    id = fields.Integer(metadata={"description": "Case id ({case_id})"})
    reference = fields.String(metadata={"description": "Reference shown to people", "example": "JZ20261123A1B2C3D4"})
    kind = fields.String(metadata={"enum": list(CASE_KINDS), "description": "What the case is about"})
    title = fields.String(metadata={"description": "Title in the queue"})
    status = fields.String(metadata={"enum": list(CASE_STATUSES), "description": "Where the case stands"})
    status_label = fields.Method("_status_label", metadata={"type": "string", "description": "Status, Chinese"})
    township_code = fields.String(metadata={"description": "Township handling it"})
    due_date = fields.Date(metadata={"description": "Due date (working days, Asia/Shanghai)"})
    created_at = fields.DateTime(metadata={"description": "Opened at (UTC)"})

    def _status_label(self, obj: object) -> str:
        return CASE_STATUSES.get(obj.status, obj.status)
