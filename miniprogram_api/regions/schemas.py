from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.regions.models import LEVELS
from miniprogram_api.schemas import StrictSchema


class RegionSchema(Schema):
    code = fields.String(metadata={"description": "Statistical division code (2-12 digits)", "example": "360124100"})
    name = fields.String(metadata={"description": "Official name", "example": "民和镇"})
    level = fields.String(metadata={"enum": list(LEVELS), "description": "Administrative level"})
    parent_code = fields.String(allow_none=True, metadata={"description": "The enclosing region (null: a province)"})


class RegionDetailSchema(RegionSchema):
    ancestors = fields.List(fields.Nested(RegionSchema), metadata={"description": "Outermost first"})


class RegionQuerySchema(StrictSchema):
    parent = fields.String(
        validate=validate.Regexp(r"^\d{2,12}$", error="行政区划代码应为2-12位数字"),
        metadata={"description": "Children of this code; omit for provinces"},
    )
    q = fields.String(validate=validate.Length(min=1, max=30), metadata={"description": "Search by name"})
    level = fields.String(validate=validate.OneOf(LEVELS), metadata={"description": "With q: only this level"})
    within = fields.String(
        validate=validate.Regexp(r"^\d{2,12}$", error="行政区划代码应为2-12位数字"),
        metadata={"description": "With q: only under this code"},
    )
