"""``@idempotent``: the Idempotency-Key mechanism for create/submit endpoints."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import current_app, g, make_response, request
from flask_smorest.utils import deepupdate

from core.idempotency import services as idem
from miniprogram_api.security import current_actor

HEADER = "Idempotency-Key"
DOC = {
    "parameters": [
        {
            "in": "header",
            "name": HEADER,
            "required": False,
            "schema": {"type": "string", "minLength": 8, "maxLength": 100},
            "description": (
                "A client-made unique key (UUID recommended) for this write. A retry with the same "
                "key and body returns the first response with `Idempotent-Replayed: true`; a "
                "different body is 422; while the first is still running, 409. Kept 24 hours."
            ),
        }
    ],
    "responses": {
        "409": {
            "description": "A request with the same Idempotency-Key is still being processed",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}},
        }
    },
}


def idempotent(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return fn(*args, **kwargs)
        actor = current_actor()
        cfg = current_app.config
        fp = idem.fingerprint(request.method, request.path, request.get_data(cache=True))
        claimed = idem.claim(
            actor.label,
            key,
            request.endpoint or request.path,
            fp,
            ttl_hours=cfg["IDEMPOTENCY_TTL_HOURS"],
            stale_seconds=cfg["IDEMPOTENCY_STALE_SECONDS"],
        )
        if isinstance(claimed, idem.Replay):
            resp = make_response(claimed.body, claimed.status)
            resp.headers["Content-Type"] = claimed.content_type or "application/json"
            if claimed.location:
                resp.headers["Location"] = claimed.location
            resp.headers["Idempotent-Replayed"] = "true"
            return resp
        record_id = claimed.id
        g.idempotency_cleanup = lambda: idem.release(record_id)
        try:
            resp = make_response(fn(*args, **kwargs))
        except Exception:
            idem.release(record_id)
            g.idempotency_cleanup = None
            raise
        if resp.status_code >= 400:
            idem.release(record_id)
            g.idempotency_cleanup = None
            return resp
        idem.complete(
            claimed, resp.status_code, resp.get_data(), resp.headers.get("Content-Type"), resp.headers.get("Location")
        )
        return resp

    wrapper._apidoc = deepupdate(getattr(fn, "_apidoc", {}), {"manual_doc": DOC})  # type: ignore[attr-defined]
    return wrapper
