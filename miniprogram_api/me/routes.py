from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from core.accounts import services as accounts
from core.accounts.models import User
from core.idnumber import mask
from miniprogram_api.me.schemas import MeSchema, RealNameIn
from miniprogram_api.security import current_actor

blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="我的 The logged-in user")


def _me(user: User) -> dict:
    return {
        "id": user.id,
        "phone_masked": (user.phone[:3] + "****" + user.phone[-4:]) if user.phone else None,
        "wechat_bound": bool(user.wechat_openid),
        "real_name_status": "bound" if user.id_number else "unbound",
        "real_name": user.real_name,
        "id_number_masked": mask(user.id_number),
        "roles": accounts.user_roles(user),
    }


@blp.route("")
class Me(MethodView):
    @blp.response(200, MeSchema)
    def get(self):
        """The user, their reporter roles and real-name status."""
        return _me(g.user)


@blp.route("/real-name")
class RealName(MethodView):
    @blp.arguments(RealNameIn)
    @blp.response(200, MeSchema)
    @blp.alt_response(409, description="Already bound to another ID number")
    @blp.alt_response(422, description="Bad name or ID number (field-level Chinese messages)")
    def post(self, data: dict):
        """Bind real name and ID number (GB 11643 check digit, birth date, province code)."""
        user = accounts.bind_real_name(current_actor(), g.user, data["name"], data["id_number"])
        return _me(user)
