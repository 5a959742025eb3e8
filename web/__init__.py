"""Plumbing the edges share (no routes): the rate limiter, the app-wide error handlers (JSON under /api,
HTML under /portal) and the request hooks (one commit per request, security headers, bounded ids)."""

from __future__ import annotations

from flask import Blueprint, Flask

from web import hooks
from web.errors import install_retry_after, register_error_handlers
from web.limiter import limiter


def init_web(app: Flask) -> None:
    """Before the edges: the id converter must exist before any route is added."""
    hooks.install_id_converter(app)
    app.register_blueprint(Blueprint("web", __name__, template_folder="templates"))
    install_retry_after(app)  # before the limiter: after-request hooks run in reverse order
    limiter.init_app(app)
    register_error_handlers(app)
    hooks.install(app)
