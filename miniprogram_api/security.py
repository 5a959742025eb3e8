"""Deny by default: every API endpoint needs a valid access token unless listed here."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, g, request

from core.accounts import services as accounts
from core.accounts import tokens
from core.actor import Actor
from core.errors import AuthenticationFailed, PermissionDenied

# The explicit public list (endpoint names). Everything else under /api/ requires a token.
PUBLIC_ENDPOINTS = frozenset(
    {
        "system.Health",
        "system.Live",
        "system.Ready",
        "regions.RegionList",
        "regions.RegionDetail",
        "auth.SmsSend",
        "auth.SmsVerify",
        "auth.Refresh",
        "auth.WechatLogin",
        "auth.AlipayLogin",
        "reports.ReportCategories",
        "api-docs.openapi_json",
        "api-docs.openapi_swagger_ui",
        "api_docs_static",
    }
)


def client_ip() -> str | None:
    return request.remote_addr


def _authenticate() -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("请先登录", code="unauthenticated")
    user, session = tokens.decode_access(token.strip())
    g.user = user
    g.auth_session = session
    g.actor = accounts.citizen_actor(user, ip=client_ip(), user_agent=request.headers.get("User-Agent"))


def install_authentication(app: Flask) -> None:
    @app.before_request
    def _require_token() -> None:
        if not (request.path.startswith("/api/") or request.path in ("/healthz", "/livez", "/readyz")):
            return
        if request.endpoint in PUBLIC_ENDPOINTS or request.method == "OPTIONS":
            return
        if request.endpoint is None:
            return  # 404/405 are answered by the router
        if request.blueprint == "exchange":
            return  # department systems sign every call instead (miniprogram_api/exchange/routes.py)
        _authenticate()


def current_actor() -> Actor:
    actor = g.get("actor")
    if actor is None:
        raise AuthenticationFailed("请先登录")
    return actor


def require_roles(*roles: str) -> Callable:
    """Allow only users holding one of ``roles`` (reporter roles, later officer API roles)."""

    def decorator(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not set(roles) & set(current_actor().roles):
                raise PermissionDenied()
            return fn(*args, **kwargs)

        return wrapper

    return decorator


def config(key: str) -> Any:
    return current_app.config[key]
