from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import func, select

from core.database import TaskOutbox, db
from miniprogram_api import examples as ex

blp = Blueprint("system", __name__, url_prefix="/", description="Health")


class HealthSchema(Schema):
    status = fields.String(
        metadata={"enum": ["ok", "degraded", "unavailable"], "description": "degraded: the broker is down (tasks wait)"}
    )
    database = fields.String(metadata={"description": "ok or unreachable"})
    broker = fields.String(metadata={"description": "ok, unreachable, or eager (in-process) without a broker"})
    pending_tasks = fields.Integer(
        metadata={"description": "Task rows not yet handed to the broker (the relay publishes them)"}
    )


class LiveSchema(Schema):
    status = fields.String(metadata={"enum": ["ok"], "description": "The process answers"})


def _readiness() -> tuple[dict, int]:
    """Ready when the database answers. A broker outage is reported, not fatal: committed tasks wait as
    rows in the task outbox and the relay publishes them when it returns (restarting web processes would
    not help)."""
    result = {"status": "ok", "database": "ok", "broker": "eager (in-process)", "pending_tasks": 0}
    try:
        result["pending_tasks"] = db.session.scalar(
            select(func.count()).select_from(TaskOutbox).where(TaskOutbox.status == "pending")
        )
    except Exception:  # noqa: BLE001 - report, never raise
        db.session.rollback()
        result["database"], result["status"] = "unreachable", "unavailable"
    celery = current_app.extensions.get("celery")
    if celery is not None and current_app.config.get("CELERY_BROKER_URL"):
        try:
            with celery.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
            result["broker"] = "ok"
        except Exception:  # noqa: BLE001
            result["broker"] = "unreachable"
            if result["status"] == "ok":
                result["status"] = "degraded"
    return result, (503 if result["status"] == "unavailable" else 200)


_NOT_READY = {
    "schema": HealthSchema,
    "description": "The database is unreachable",
    "example": {"status": "unavailable", "database": "unreachable", "broker": "ok", "pending_tasks": 0},
}


@blp.route("livez")
class Live(MethodView):
    @blp.doc(security=[])
    @blp.response(200, LiveSchema, example={"status": "ok"})
    def get(self):
        """存活检查

        The process is up and serving (touches no dependency): for the orchestrator's restart decision."""
        return {"status": "ok"}


@blp.route("readyz")
class Ready(MethodView):
    @blp.doc(security=[])
    @blp.response(200, HealthSchema, example=ex.HEALTH_OUT)
    @blp.alt_response(503, **_NOT_READY)
    def get(self):
        """就绪检查

        Ready for traffic when the database answers; a broker outage is `degraded` (200): tasks wait in the
        task outbox (`pending_tasks`) and are published when it returns."""
        return _readiness()


@blp.route("healthz")
class Health(MethodView):
    @blp.doc(security=[])
    @blp.response(200, HealthSchema, example=ex.HEALTH_OUT)
    @blp.alt_response(503, **_NOT_READY)
    def get(self):
        """健康检查

        The readiness check under its older name (same answer as /readyz)."""
        return _readiness()
