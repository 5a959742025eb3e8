from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from core.applications import settings
from core.applications.programs import PROGRAMS
from miniprogram_api import examples as ex
from miniprogram_api.schemas import DecimalString, StrictSchema

blp = Blueprint(
    "programs",
    __name__,
    url_prefix="/api/v1/programs",
    description="救助项目 What a resident of a region can apply for",
)


class MaterialSchema(Schema):
    code = fields.String(metadata={"description": "Material code (the `material` of an upload)", "example": "hukou"})
    label = fields.String(metadata={"description": "Material, Chinese", "example": "户口簿"})


class ProgramSchema(Schema):
    program = fields.String(metadata={"enum": list(PROGRAMS), "description": "Program code (send when applying)"})
    label = fields.String(metadata={"description": "Program, Chinese", "example": "最低生活保障"})
    short = fields.String(metadata={"description": "Short name, Chinese", "example": "低保"})
    county_code = fields.String(metadata={"description": "County whose settings apply", "example": "360124"})
    monthly_standard = DecimalString(
        allow_none=True,
        metadata={"description": "Local standard, yuan per person per month, a decimal string", "example": "905.00"},
    )
    required_materials = fields.List(fields.Nested(MaterialSchema), metadata={"description": "Materials to upload"})
    asset_limits = fields.Dict(metadata={"description": "Local asset limits by asset kind (may be empty)"})
    confirmation_delegated = fields.Boolean(metadata={"description": "Township confirms instead of the county"})
    accept_working_days = fields.Integer(metadata={"description": "The township accepts within this many working days"})


class ProgramQuery(StrictSchema):
    region = fields.String(
        required=True,
        validate=validate.Regexp(r"^\d{6,12}$", error="请选择所在地区"),
        metadata={"description": "County, township or village code of the residence"},
    )


@blp.route("")
class ProgramList(MethodView):
    @blp.arguments(ProgramQuery, location="query")
    @blp.response(200, ProgramSchema(many=True), example=ex.PROGRAMS_OUT)
    def get(self, args: dict):
        """可申请的救助项目

        Programs open to residents of `region` (a county, township or village code), with the materials to
        upload and the local standard."""
        return settings.programs_for_region(args["region"])
