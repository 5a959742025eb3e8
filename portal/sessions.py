"""Server-side portal sessions as a Flask SessionInterface.

The cookie (``SESSION_COOKIE_NAME``, path ``/portal``, HttpOnly, SameSite=Lax, Secure when
configured) carries only a random token. ``core.accounts.portal_sessions`` keeps the rows. Requests
outside ``/portal`` (the API, the portal's static files) get no session at all.

Log-in and log-out call :func:`replace` so that the id changes whenever the privilege does (no
fixation). The row is written after the request's own unit of work, in its own short commit.
"""

from __future__ import annotations

import logging

from flask import Flask, Request, Response, request, session
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from core.accounts import portal_sessions
from core.accounts.models import PortalSession
from core.database import commit, rollback
from web.errors import is_outage, replace_with_outage

log = logging.getLogger(__name__)

PORTAL_PREFIX = "/portal"


def _is_portal(path: str) -> bool:
    if path.startswith(PORTAL_PREFIX + "/static/"):
        return False
    return path == PORTAL_PREFIX or path.startswith(PORTAL_PREFIX + "/")


class ServerSession(CallbackDict, SessionMixin):
    """The session of one request: its data, the row behind it, and what happened to it."""

    def __init__(self, data: dict | None = None, record: PortalSession | None = None, ended: str | None = None):
        def on_update(this: ServerSession) -> None:
            this.modified = True
            this.accessed = True

        super().__init__(data or {}, on_update)
        self.record = record
        self.record_id: int | None = record.id if record is not None else None
        self.officer_id: int | None = record.officer_id if record is not None else None
        self.ended = ended  # why the presented cookie's officer session is over (idle | expired | revoked)
        self.replaced: PortalSession | None = None
        self.had_cookie = False
        self.modified = False
        self.accessed = False


def replace(officer_id: int | None, data: dict | None = None) -> None:
    """Start a new session (a new id) for ``officer_id`` (None: anonymous); the old id dies."""
    current: ServerSession = session._get_current_object()  # type: ignore[attr-defined]
    if current.record is not None:
        current.replaced = current.record
    current.record = None
    current.record_id = None
    current.officer_id = officer_id
    current.clear()
    current.update(data or {})
    current.modified = True


class PortalSessionInterface(SessionInterface):
    def get_cookie_path(self, app: Flask) -> str:
        return app.config.get("SESSION_COOKIE_PATH") or PORTAL_PREFIX

    def _policy(self, app: Flask) -> portal_sessions.SessionPolicy:
        return portal_sessions.SessionPolicy.from_config(app.config)

    def open_session(self, app: Flask, request: Request) -> ServerSession | None:
        if not _is_portal(request.path):
            return self.make_null_session(app)
        token = request.cookies.get(self.get_cookie_name(app))
        loaded = portal_sessions.load(token, self._policy(app)) if token else portal_sessions.Loaded(None)
        if loaded.record is not None:
            return ServerSession(dict(loaded.record.data or {}), record=loaded.record)
        fresh = ServerSession(ended=loaded.ended)
        fresh.had_cookie = bool(token)
        return fresh

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not isinstance(session, ServerSession):
            return
        if session.accessed:
            response.vary.add("Cookie")
        name, path = self.get_cookie_name(app), self.get_cookie_path(app)
        domain = self.get_cookie_domain(app)
        try:
            if session.replaced is not None:
                portal_sessions.end(session.replaced, "rotated")
            if session.record_id is None:
                if not session and session.officer_id is None:
                    if session.had_cookie or session.replaced is not None:
                        response.delete_cookie(
                            name,
                            domain=domain,
                            path=path,
                            secure=self.get_cookie_secure(app),
                            httponly=self.get_cookie_httponly(app),
                            samesite=self.get_cookie_samesite(app),
                        )
                    commit()
                    return
                token, record = portal_sessions.create(
                    officer_id=session.officer_id,
                    data=dict(session),
                    ip=request.remote_addr,
                    user_agent=request.headers.get("User-Agent"),
                    policy=self._policy(app),
                )
                session.record, session.record_id = record, record.id
                response.set_cookie(
                    name,
                    token,
                    expires=record.expires_at,
                    httponly=self.get_cookie_httponly(app),
                    domain=domain,
                    path=path,
                    secure=self.get_cookie_secure(app),
                    samesite=self.get_cookie_samesite(app),
                )
                response.vary.add("Cookie")
            else:
                portal_sessions.touch(session.record_id, dict(session) if session.modified else None)
            commit()
        except Exception as err:
            try:
                rollback()
            except Exception:  # the connection is gone; the pool replaces it
                log.debug("rollback after a failed session save failed", exc_info=True)
            if not is_outage(err):
                log.exception("could not save the portal session")
                raise
            # the database went away after the request's commit: the retryable 503, not a 500 (the
            # session's row is not written, so the answer that needed it must not stand either)
            log.warning(
                "outage saving the portal session on %s %s: %s", request.method, request.path, type(err).__name__
            )
            replace_with_outage(app, response)


def install(app: Flask) -> None:
    app.session_interface = PortalSessionInterface()
