"""Request hooks for the whole app: bounded integer ids in URLs, one commit per request (none for the hot
reads, which only read), security headers, client IPs behind a configured number of proxies."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, request
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from core.database import commit, db, rollback
from core.errors import Conflict
from web.errors import commit_failed_response, is_outage, outage_response

log = logging.getLogger("relieflink")
INT_ID_MAX = 2**31 - 1  # the largest INTEGER primary key (PostgreSQL and SQLite alike hold it)


class IdConverter(IntegerConverter):
    """``<int:…>`` for every route: 0 … 2³¹-1. A larger number matches no route (404) instead of
    reaching the database as an out-of-range parameter (a 500 on PostgreSQL)."""

    def __init__(
        self,
        map: Any,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = INT_ID_MAX,
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def install_id_converter(app: Flask) -> None:
    app.url_map.converters["int"] = IdConverter


READ_ONLY = "read_only_endpoints"  # app.extensions key: GET endpoints whose requests only read


class WriteInReadOnlyRequest(RuntimeError):
    """A request declared read-only (``read_only``) tried to write: a bug, answered 500, nothing written."""


def read_only(app: Flask, *endpoints: str) -> None:
    """Declare GET ``endpoints`` read-only: their statements run on a connection in autocommit, so the request
    costs no BEGIN and no COMMIT round trip (each statement sees committed data, as in READ COMMITTED it would
    inside a transaction). Any write in such a request raises WriteInReadOnlyRequest before it reaches the
    database (``start_read_only``)."""
    app.extensions.setdefault(READ_ONLY, set()).update(endpoints)


def start_read_only(session: Any) -> bool:
    """Put the request's session on an autocommit connection and refuse writes (False when it has begun)."""
    session = session() if callable(session) else session  # the scoped session's current Session
    if session.in_transaction():
        return False
    session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    session.info["read_only"] = True
    return True


def _install_read_only_guard() -> None:
    if getattr(_install_read_only_guard, "_done", False):
        return

    @event.listens_for(Session, "before_flush")
    def _no_flush(session: Session, flush_context: Any, instances: Any) -> None:
        if session.info.get("read_only") and (session.new or session.dirty or session.deleted):
            raise WriteInReadOnlyRequest("a read-only request tried to write (flush)")

    @event.listens_for(Session, "do_orm_execute")
    def _no_write_statement(state: Any) -> None:
        if state.session.info.get("read_only") and not state.is_select:
            raise WriteInReadOnlyRequest("a read-only request tried to write (statement)")

    _install_read_only_guard._done = True  # type: ignore[attr-defined]


def install(app: Flask) -> None:
    _install_read_only_guard()

    @app.before_request
    def _read_only_unit_of_work() -> None:
        # before the token check and the views: the request's first statement opens the connection
        if request.method == "GET" and request.endpoint in app.extensions.get(READ_ONLY, ()):
            start_read_only(db.session)

    if app.config["PROXY_FIX_X_FOR"]:
        # client IPs (rate limits, audit) come from the proxy's header, trusting only that many hops
        hops = app.config["PROXY_FIX_X_FOR"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    # after-request hooks run in reverse order: the commit first, then the headers (on a 409 replacement too)
    @app.after_request
    def _security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.is_secure or app.config["SESSION_COOKIE_SECURE"]:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.path.startswith("/portal"):
            response.headers.setdefault("X-Frame-Options", "DENY")
            # scripts only from the portal's own files: no inline <script>, no on…= attributes
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
            )
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.after_request
    def _finish_unit_of_work(response: Response) -> Response:
        """One commit per request: commit on success, roll back on an error status."""
        if response.status_code < 400:
            try:
                commit()
            except (IntegrityError, StaleDataError) as err:
                # nothing landed: a constraint, or a versioned row another writer changed since this request
                # read it (the request's rows are flushed here when nothing flushed them before)
                rollback()
                cleanup = g.get("idempotency_cleanup")
                if cleanup:
                    cleanup()
                log.warning("%s committing %s %s", type(err).__name__, request.method, request.path)
                if isinstance(err, StaleDataError):
                    conflict = Conflict("该记录已被他人修改，请刷新后重试", code="edit_conflict")
                else:
                    conflict = Conflict("数据已被其他操作修改，请刷新后重试", code="conflict")
                return commit_failed_response(app, conflict)
            except Exception as err:
                if not is_outage(err):
                    raise
                # The connection broke during COMMIT (the database restarted): the outcome is unknown, so
                # the answer is a retryable 503, never a 500. An Idempotency-Key marker is kept, not
                # released: if the commit did land, the retry replays its answer instead of running twice;
                # if it did not, the marker turns stale and the retry runs (IDEMPOTENCY_STALE_SECONDS).
                try:
                    rollback(undo=False)  # keep the files written for rows the commit may have landed
                except Exception:  # the connection is gone; the pool replaces it
                    log.debug("rollback after a failed commit failed", exc_info=True)
                log.warning("outage committing %s %s: %s", request.method, request.path, type(err).__name__)
                return outage_response(app)
        else:
            try:
                rollback()
            except Exception as err:  # the error answer stands; a dead connection is the pool's to replace
                if not is_outage(err):
                    raise
                log.debug("rollback failed", exc_info=True)
        return response
