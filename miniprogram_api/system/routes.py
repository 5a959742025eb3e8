from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import text

from core.database import db
from miniprogram_api import examples as ex

blp = Blueprint("system", __name__, url_prefix="/", description="Health")


class HealthSchema(Schema):
    status = fields.String(metadata={"enum": ["ok", "degraded"], "description": "degraded: a dependency is down"})
    database = fields.String(metadata={"description": "ok or unreachable"})
    broker = fields.String(metadata={"description": "ok, unreachable, or eager (in-process) without a broker"})


@blp.route("healthz")
class Health(MethodView):
    @blp.doc(security=[])
    @blp.response(200, HealthSchema, example=ex.HEALTH_OUT)
    @blp.alt_response(
        503,
        schema=HealthSchema,
        description="A dependency is down",
        example={"status": "degraded", "database": "ok", "broker": "unreachable"},
    )
    def get(self):
        """健康检查

        Liveness and readiness for load balancers: the database and the broker are reachable."""
        result = {"status": "ok", "database": "ok", "broker": "eager (in-process)"}
        try:
            db.session.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 - report, never raise
            result["database"], result["status"] = "unreachable", "degraded"
        celery = current_app.extensions.get("celery")
        if celery is not None and current_app.config.get("CELERY_BROKER_URL"):
            try:
                with celery.connection_for_write() as conn:
                    conn.ensure_connection(max_retries=1, timeout=2)
                result["broker"] = "ok"
            except Exception:  # noqa: BLE001
                result["broker"], result["status"] = "unreachable", "degraded"
        return result, (200 if result["status"] == "ok" else 503)
