"""``@idempotent``: the Idempotency-Key mechanism for create/submit endpoints."""

from __future__ import annotations

import copy
import functools
import hashlib
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
            "schema": {"type": "string", "pattern": idem.KEY_RE.pattern, "minLength": 8, "maxLength": 100},
            "example": "7f3e9c2a-4b1d-4e8f-9a6c-0d2b5e8f1a3c",
            "description": (
                "A client-made unique key (a UUID is best) for this write, 8-100 letters, digits or `_ . : -`. "
                "A retry with the same key and body returns the first response with `Idempotent-Replayed: true` "
                "and does nothing again; the same key with a different body is 422 `idempotency_key_reused`; "
                "while the first is still running, 409 `idempotency_in_progress`. Keys are per account and kept "
                "`IDEMPOTENCY_TTL_HOURS` (24 h); a failed request (4xx/5xx) does not keep its key."
            ),
        }
    ],
    "x-errors": {"idempotency_in_progress": True, "idempotency_key_reused": True},
}


def request_fingerprint() -> str:
    """What a retry must repeat: the method, the path and the body. A multipart body is taken by its parts
    (fields, file names and contents), not its bytes: a client's retry picks a new boundary."""
    if request.mimetype == "multipart/form-data":
        digest = hashlib.sha256()
        for name, value in sorted(request.form.items(multi=True)):
            digest.update(f"field\0{name}\0{value}\0".encode())
        for name, upload in sorted(request.files.items(multi=True), key=lambda item: item[0]):
            content = upload.stream.read()
            upload.stream.seek(0)
            digest.update(f"file\0{name}\0{upload.filename}\0".encode())
            digest.update(hashlib.sha256(content).digest())
        body = b"multipart:" + digest.hexdigest().encode()
    else:
        body = request.get_data(cache=True)
    return idem.fingerprint(request.method, request.path, body)


def idempotent(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return fn(*args, **kwargs)
        actor = current_actor()
        cfg = current_app.config
        fp = request_fingerprint()
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

    wrapper._apidoc = deepupdate(  # type: ignore[attr-defined]
        copy.deepcopy(getattr(fn, "_apidoc", {})), {"manual_doc": copy.deepcopy(DOC)}
    )
    return wrapper
