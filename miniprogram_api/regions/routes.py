from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from core.regions import services as regions
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
    @blp.response(200, RegionSchema(many=True))
    def get(self, args: dict):
        """Children of a region (provinces without `parent`), or a name search with `q`."""
        if "q" in args:
            return regions.search(args["q"], level=args.get("level"), within=args.get("within"))
        return regions.list_children(args.get("parent"))


@blp.route("/<string:code>")
class RegionDetail(MethodView):
    @blp.doc(security=[])
    @blp.response(200, RegionDetailSchema)
    @blp.alt_response(404, schema=None, description="Unknown code")
    def get(self, code: str):
        """One region with its ancestors."""
        region = regions.get_region(code)
        return {**region.to_dict(), "ancestors": [a.to_dict() for a in regions.get_ancestors(region)]}
