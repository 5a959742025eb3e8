"""Demo/testing only (DEMO_ENDPOINTS_ENABLED): open a case in a township's queue.

The real case kinds (applications, reports) arrive with their own endpoints.
"""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.pagination import PaginationParameters

from core.casework import services as casework
from miniprogram_api import examples as ex
from miniprogram_api.cases.schemas import CaseSchema, DemoCaseIn
from miniprogram_api.idempotency import idempotent
from miniprogram_api.openapi import errors
from miniprogram_api.security import current_actor

blp = Blueprint(
    "demo_cases",
    __name__,
    url_prefix="/api/v1/demo/cases",
    description="演示 Demo only (disabled in production): open a case routed to a township",
)


@blp.route("")
class DemoCaseList(MethodView):
    @blp.response(200, CaseSchema(many=True), example=[ex.DEMO_CASE_OUT])
    @blp.paginate()
    def get(self, pagination_parameters: PaginationParameters):
        """演示：我开立的案件

        Demo only: cases I opened, newest first, paginated (`X-Pagination`)."""
        page = casework.cases_opened_by(
            current_actor(), page=pagination_parameters.page, page_size=pagination_parameters.page_size
        )
        pagination_parameters.item_count = page.total
        return page.items

    @idempotent
    @blp.arguments(DemoCaseIn, example=ex.DEMO_CASE_IN)
    @blp.response(201, CaseSchema, example=ex.DEMO_CASE_OUT)
    def post(self, data: dict):
        """演示：开立案件

        Demo only: opens a case in the township's queue, due in `DEFAULT_ACCEPT_WORKING_DAYS` working days."""
        actor = current_actor()
        return casework.open_case(
            actor,
            kind="demo",
            township_code=data["township_code"],
            title=data["title"],
            due_in_working_days=current_app.config["DEFAULT_ACCEPT_WORKING_DAYS"],
            opened_by_user_id=actor.id,
        )


@blp.route("/<int:case_id>")
class DemoCaseDetail(MethodView):
    @blp.response(200, CaseSchema, example=ex.DEMO_CASE_OUT)
    @errors("case_not_found")
    def get(self, case_id: int):
        """演示：查看案件

        Demo only: a case I opened; another user's is 404."""
        return casework.get_case_for_citizen(current_actor(), case_id)
