"""The department exchange API (/api/v1/exchange): signed calls from department systems, not the
mini-program. Every call is authenticated by its HMAC signature (core/exchange/signing.py) instead of a
bearer token and audited, accepted or not."""

from __future__ import annotations

import logging
import time

from flask import g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from core.actor import Actor
from core.audit import services as audit
from core.database import commit, rollback
from core.errors import AuthenticationFailed
from core.exchange import clients, events, signing
from core.exchange.clients import Caller
from miniprogram_api.exchange.schemas import ClientOut, EventsIn, EventsOut
from miniprogram_api.openapi import errors

log = logging.getLogger(__name__)
SECURITY = [{"departmentSignature": []}]
blp = Blueprint(
    "exchange",
    __name__,
    url_prefix="/api/v1/exchange",
    description="部门数据交换 Department data exchange (signed calls from department systems)",
)
EVENTS_EXAMPLE = {
    "events": [
        {
            "event_id": "HH-20261203-000123",
            "type": "cremation",
            "id_number": "140105195003120018",
            "date": "2026-12-01",
            "name": "王建国",
            "place": "太原市殡仪馆",
        }
    ]
}


def caller() -> Caller:
    found = g.get("exchange_caller")
    if found is None:
        raise AuthenticationFailed("请求未签名", code="signature_missing")
    return found


def _query() -> str:
    return request.query_string.decode("latin-1")


@blp.before_request
def _verify_signature() -> None:
    """Every call is signed. Bodies up to MAX_CONTENT_LENGTH are read and their digest compared here; a
    streamed upload (``streams_body``) compares it while streaming, after the headers are verified."""
    g.exchange_started = time.perf_counter()
    view = request.url_rule and blp_views.get(request.url_rule.endpoint)
    streams = bool(view and getattr(view, "streams_body", False))
    signing.parse_input(request.headers.get("Signature-Input"))  # an unsigned call: signature_missing first
    digest = None
    if not streams:
        algorithm, _ = signing.parse_content_digest(request.headers.get("Content-Digest"))
        digest = signing.body_digest(algorithm, request.get_data(cache=True))
    g.exchange_caller = clients.authenticate(
        method=request.method,
        path=request.path,
        query=_query(),
        headers=request.headers,
        content_digest=digest,
        ip=request.remote_addr,
    )


@blp.after_request
def _audit_call(response):  # noqa: ANN001 - Flask's hook signature
    """One audit entry per call, accepted or refused (a refused call's own changes are rolled back first)."""
    found: Caller | None = g.get("exchange_caller")
    actor = found.actor if found else Actor(kind="department", id=None, roles=("department",), ip=request.remote_addr)
    key_id = None
    if found is None:
        header = request.headers.get("Signature-Input", "")
        start = header.find('keyid="')
        key_id = header[start + 7 : header.find('"', start + 7)][:40] if start >= 0 else None
    detail = {
        "method": request.method,
        "path": request.path,
        "query": _query()[:300],
        "status": response.status_code,
        "key_id": found.client.key_id if found else key_id,
        "ms": round((time.perf_counter() - g.get("exchange_started", time.perf_counter())) * 1000, 1),
    }
    region = found.department.region_code if found else None
    try:
        if response.status_code >= 400:
            rollback()
            audit.record(actor, "exchange.call", ("exchange_clients", str(actor.id or "")), region=region, **detail)
            commit()
        else:
            audit.record(actor, "exchange.call", ("exchange_clients", str(actor.id or "")), region=region, **detail)
    except Exception:  # auditing a refused call must never turn it into a 500
        log.exception("could not audit an exchange call")
        rollback()
    return response


@blp.route("/client")
class ClientInfo(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(
        200,
        ClientOut,
        example={
            "key_id": "gongan-taiyuan-3f9a1c2b7d4e",
            "name": "公安人口信息系统",
            "algorithm": "hmac-sha256",
            "department_code": "gongan-taiyuan",
            "department_name": "太原市公安局",
            "region_code": "1401",
            "categories": ["deaths"],
            "server_time": 1764770000,
        },
    )
    def get(self):
        """接入系统信息（联调）

        Who the signature says the caller is: the key id, its department, the data categories it may send
        and the server's clock. Use it to test signing before the first push."""
        found = caller()
        return {
            "key_id": found.client.key_id,
            "name": found.client.name,
            "algorithm": found.client.algorithm,
            "department_code": found.department.code,
            "department_name": found.department.name,
            "region_code": found.department.region_code,
            "categories": list(found.client.categories or []),
            "server_time": int(time.time()),
        }


@blp.route("/events")
class Events(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(EventsIn, example=EVENTS_EXAMPLE)
    @blp.response(
        200,
        EventsOut,
        example={"results": [{"event_id": "HH-20261203-000123", "status": "received", "matched_enrollments": 1}]},
    )
    @errors("category_not_allowed")
    def post(self, data: dict):
        """推送死亡、火化事件

        Deaths (公安, 卫健) and cremations (殡葬) as they happen, 1-1000 per call, all or none. Each is stored
        once per `event_id` (a retry answers `duplicate` and does nothing again) and checked against the
        registry at once: the death of a person in an active enrollment becomes a red warning in the
        township's queue (核查 within 3 working days). Needs the `deaths` / `cremations` category."""
        results = events.receive(caller(), data["events"])
        return {"results": [r.__dict__ for r in results]}


# endpoint name -> view class (the before_request hook asks whether a view streams its body)
blp_views: dict[str, type] = {}


def _register_views() -> None:
    for name in ("ClientInfo", "Events"):
        blp_views[f"exchange.{name}"] = globals()[name]


_register_views()
