from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from core.registry import citizen
from miniprogram_api import examples as ex
from miniprogram_api.me_benefits.schemas import BenefitDetailOut, BenefitOut
from miniprogram_api.openapi import errors

blp = Blueprint(
    "me_benefits", __name__, url_prefix="/api/v1/me/benefits", description="我的待遇 My household's benefits"
)


@blp.route("")
class MyBenefits(MethodView):
    @blp.response(200, BenefitOut(many=True), example=[ex.BENEFIT_OUT])
    def get(self):
        """我的待遇

        Every enrollment (低保 household, 特困 person) that covers me as payee or member: amount, months paid on
        the locked payment rolls, the next review, an open transfer. Empty before real-name verification and
        when nothing was approved (show the empty state)."""
        return citizen.benefits_for(g.user)


@blp.route("/<int:enrollment_id>")
class MyBenefit(MethodView):
    @blp.response(200, BenefitDetailOut, example=ex.BENEFIT_DETAIL_OUT)
    @errors("benefit_not_found")
    def get(self, enrollment_id: int):
        """待遇详情

        One of my household's benefits with its history in plain words (纳入, 调整, 暂停, 恢复, 复核, 退出, 转移),
        each with its reason; reductions and exits carry the appeal route. Another household's → 404."""
        return citizen.benefit_for(g.user, enrollment_id)
