from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from core.regions import services as regions
from miniprogram_api import examples as ex
from miniprogram_api.openapi import errors
from miniprogram_api.regions.schemas import RegionDetailSchema, RegionQuerySchema, RegionSchema

blp = Blueprint(
    "regions",
    __name__,
    url_prefix="/api/v1/regions",
    description="行政区划 China's administrative divisions (public; for the cascade picker)",
)


@blp.route("")
class RegionList(MethodView):
    @blp.doc(security=[])
    @blp.arguments(RegionQuerySchema, location="query")
    @blp.response(200, RegionSchema(many=True), example=ex.REGIONS_OUT)
    def get(self, args: dict):
        """行政区划列表（级联选择）

        Children of a region (the provinces without `parent`), or a search by name with `q` (optionally only
        one `level` and only `within` a region). Public, for the cascade picker."""
        if "q" in args:
            return regions.search(args["q"], level=args.get("level"), within=args.get("within"))
        return regions.list_children(args.get("parent"))


@blp.route("/<string:code>")
class RegionDetail(MethodView):
    @blp.doc(security=[])
    @blp.response(200, RegionDetailSchema, example=ex.REGION_OUT)
    @errors("region_not_found")
    def get(self, code: str):
        """行政区划详情

        One region with its ancestors, outermost first. Public."""
        region = regions.get_region(code)
        return {**region.to_dict(), "ancestors": [a.to_dict() for a in regions.get_ancestors(region)]}
