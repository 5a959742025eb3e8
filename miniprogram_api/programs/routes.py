from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from core.applications import settings
from core.applications.programs import PROGRAMS
from miniprogram_api.schemas import StrictSchema

blp = Blueprint(
    "programs",
    __name__,
    url_prefix="/api/v1/programs",
    description="救助项目 What a resident of a region can apply for",
)


class MaterialSchema(Schema):
    code = fields.String(metadata={"example": "hukou"})
    label = fields.String(metadata={"example": "户口簿"})


class ProgramSchema(Schema):
    program = fields.String(metadata={"enum": list(PROGRAMS)})
    label = fields.String(metadata={"example": "最低生活保障"})
    short = fields.String(metadata={"example": "低保"})
    county_code = fields.String()
    monthly_standard = fields.Decimal(
        as_string=True, allow_none=True, metadata={"description": "Local standard, yuan per person per month"}
    )
    required_materials = fields.List(fields.Nested(MaterialSchema))
    asset_limits = fields.Dict()
    confirmation_delegated = fields.Boolean(metadata={"description": "Township confirms instead of the county"})
    accept_working_days = fields.Integer()


class ProgramQuery(StrictSchema):
    region = fields.String(
        required=True,
        validate=validate.Regexp(r"^\d{6,12}$", error="请选择所在地区"),
        metadata={"description": "County, township or village code of the residence"},
    )


@blp.route("")
class ProgramList(MethodView):
    @blp.arguments(ProgramQuery, location="query")
    @blp.response(200, ProgramSchema(many=True))
    def get(self, args: dict):
        """Programs open to residents of `region`, with required materials and the local standard."""
        return settings.programs_for_region(
            args["region"], default_accept_days=current_app.config["DEFAULT_ACCEPT_WORKING_DAYS"]
        )
