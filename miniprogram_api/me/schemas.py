from __future__ import annotations

from marshmallow import Schema, fields, validate

from miniprogram_api.schemas import StrictSchema


class RoleSchema(Schema):
    role = fields.String(metadata={"enum": ["grid_worker", "volunteer", "social_worker", "official"]})
    label = fields.String()
    region_code = fields.String()


class MeSchema(Schema):
    id = fields.Integer()
    phone_masked = fields.String(allow_none=True)
    wechat_bound = fields.Boolean()
    real_name_status = fields.String(metadata={"enum": ["unbound", "bound"]})
    real_name = fields.String(allow_none=True)
    id_number_masked = fields.String(allow_none=True, metadata={"example": "3601**********1234"})
    roles = fields.List(fields.Nested(RoleSchema), metadata={"description": "Reporter roles; every user is a citizen"})


class RealNameIn(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=2, max=50, error="姓名为2-50个字符"))
    id_number = fields.String(required=True, metadata={"description": "18-character resident ID number"})
