"""Builds the ReliefLink Flask app: ``flask --app wsgi …`` or ``gunicorn 'wsgi:create_app()'``."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request
from flask_migrate import Migrate
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

import config as config_module
from core import crypto, workdays

# Import every model module so that metadata is complete (migrations, create_all).
from core.accounts import models as _accounts_models  # noqa: F401
from core.accounts import tokens
from core.accounts.wechat import HttpWechatClient
from core.applications import models as _application_models  # noqa: F401
from core.audit import models as _audit_models  # noqa: F401
from core.authorizations import models as _authorization_models  # noqa: F401
from core.authorizations import services as _authorization_services  # noqa: F401  (registers the data_check gate)
from core.casework import models as _casework_models  # noqa: F401
from core.casework import workflows
from core.database import commit, db, install_session_events, rollback, set_task_dispatcher
from core.files import storage
from core.households import models as _household_models  # noqa: F401
from core.idempotency import models as _idempotency_models  # noqa: F401
from core.identity import models as _identity_models  # noqa: F401
from core.identity.providers import ConsoleIdentityService, HttpIdentityService, WechatRealName
from core.liveness import models as _liveness_models  # noqa: F401
from core.notifications import models as _notification_models  # noqa: F401
from core.notifications import services as outbox
from core.notifications.channels import Channel, ConsoleChannel, HttpSmsGateway, WechatSubscribeChannel
from core.regions import models as _region_models  # noqa: F401
from core.reports import models as _report_models  # noqa: F401

migrate = Migrate()
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


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


def _channel_factory(app: Flask):
    cfg = app.config

    def factory(channel: str) -> Channel:
        if channel == "sms" and cfg["SMS_BACKEND"] == "http":
            return HttpSmsGateway(cfg["SMS_GATEWAY_URL"], cfg["SMS_GATEWAY_API_KEY"], cfg["SMS_GATEWAY_SIGN_NAME"])
        if channel == "wechat" and cfg["WECHAT_SUBSCRIBE_ENABLED"]:
            return wechat
        return ConsoleChannel(cfg["STORAGE_DIR"])

    # one instance per app, so that its access token is cached across messages
    wechat = WechatSubscribeChannel(
        cfg["WECHAT_API_BASE"],
        cfg["WECHAT_APPID"] or "",
        cfg["WECHAT_SECRET"] or "",
        {
            "application_status": cfg["WECHAT_TEMPLATE_APPLICATION_STATUS"] or "",
            "report_status": cfg["WECHAT_TEMPLATE_REPORT_STATUS"] or "",
        },
        timeout=cfg["WECHAT_TIMEOUT_SECONDS"],
        state=cfg["WECHAT_MINIPROGRAM_STATE"],
    )
    return factory


def _face_engine_loader():
    """face_recognition is loaded on first use (it costs ~150 MB): web processes that never check faces skip it."""
    cache: dict[str, Any] = {}

    def load() -> Any:
        if "engine" not in cache:
            from core.authorizations.faces import load_engine

            cache["engine"] = load_engine()
        return cache["engine"]

    return load


def _portrait_source_factory(app: Flask):
    cfg = app.config
    cache: dict[str, Any] = {}

    def source() -> Any:
        if "source" not in cache:
            from core.authorizations import faces, portraits

            if cfg["PORTRAIT_SOURCE"] == "http":
                engine = app.extensions["face_engine"]
                cache["source"] = portraits.HttpSource(
                    cfg["PORTRAIT_HTTP_URL"] or "",
                    cfg["PORTRAIT_HTTP_KEY"] or "",
                    lambda data: faces.encode_reference(engine(), data),
                )
            else:
                cache["source"] = portraits.RegistrySource()
        return cache["source"]

    return source


def _identity_service(app: Flask) -> Any:
    backend = app.config["IDENTITY_SERVICE_BACKEND"]
    if backend == "http":
        return HttpIdentityService(
            app.config["IDENTITY_SERVICE_URL"] or "",
            app.config["IDENTITY_SERVICE_API_KEY"] or "",
            timeout=app.config["IDENTITY_SERVICE_TIMEOUT_SECONDS"],
        )
    if backend == "console":
        return ConsoleIdentityService()
    return None


def activate(app: Flask) -> None:
    """Install this app's settings into the core's process-wide hooks (keys, senders, tasks).

    A process normally builds one app; tests that build a second one call this to switch back.
    """
    crypto.configure(app.config["DATA_ENCRYPTION_KEY"], app.config["SECRET_KEY"])
    tokens.configure(
        tokens.TokenSettings(
            secret=app.config["JWT_SECRET_KEY"],
            issuer=app.config["JWT_ISSUER"],
            audience=app.config["JWT_AUDIENCE"],
            access_ttl=app.config["JWT_ACCESS_TTL_SECONDS"],
            refresh_ttl_days=app.config["REFRESH_TOKEN_TTL_DAYS"],
        )
    )
    workdays.load_holiday_file(app.config["HOLIDAY_FILE"])
    storage.configure(app.config["STORAGE_DIR"])
    outbox.set_channel_factory(_channel_factory(app))
    celery = app.extensions["celery"]
    celery.set_default()
    celery.set_current()  # shared tasks resolve through the current Celery app (a second app made itself current)
    set_task_dispatcher(app.extensions["task_dispatcher"])


def create_app(env: str | None = None, **overrides: Any) -> Flask:
    cfg = config_module.get_config(env)
    if overrides:
        cfg = type(cfg.__name__, (cfg,), overrides)
    cfg.validate()
    workflows.validate_all()  # a broken workflow definition stops start-up

    app = Flask(__name__, instance_path=str(config_module.INSTANCE_DIR), static_folder=None)
    app.url_map.converters["int"] = IdConverter  # before any route is added
    app.config.from_object(cfg)
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # the portal guard checks every portal form
    app.json.ensure_ascii = False
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    # SQL parameters (ID numbers, phone numbers, names) never reach logs or error text
    engine_options: dict[str, Any] = {"hide_parameters": True}
    if app.config["DATABASE_URL"].startswith("postgresql"):
        engine_options.update(pool_pre_ping=True, pool_size=5, max_overflow=10)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options
    logging.basicConfig(level=app.config["LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if app.config["DATABASE_URL"].startswith("sqlite:///"):
        Path(app.config["DATABASE_URL"].removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    Path(app.config["STORAGE_DIR"]).mkdir(parents=True, exist_ok=True)

    if app.config["PROXY_FIX_X_FOR"]:
        # client IPs (rate limits, audit) come from the proxy's header, trusting only that many hops
        hops = app.config["PROXY_FIX_X_FOR"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    db.init_app(app)
    install_session_events()
    migrate.init_app(
        app,
        db,
        directory=str(Path(__file__).parent / "migrations"),
        render_as_batch=app.config["DATABASE_URL"].startswith("sqlite"),
    )

    app.extensions["wechat_client"] = HttpWechatClient(
        app.config["WECHAT_API_BASE"],
        app.config["WECHAT_APPID"] or "",
        app.config["WECHAT_SECRET"] or "",
        timeout=app.config["WECHAT_TIMEOUT_SECONDS"],
    )

    app.extensions["identity_service"] = _identity_service(app)
    app.extensions["platform_identity"] = (
        WechatRealName(
            app.config["WECHAT_API_BASE"],
            app.config["WECHAT_APPID"] or "",
            app.config["WECHAT_SECRET"] or "",
            timeout=app.config["WECHAT_TIMEOUT_SECONDS"],
        )
        if app.config["REAL_NAME_WECHAT_ENABLED"]
        else None
    )
    app.extensions["face_engine"] = _face_engine_loader()
    app.extensions["portrait_source"] = _portrait_source_factory(app)

    from commands import register_commands
    from h5 import init_h5
    from miniprogram_api import init_api
    from portal import init_portal
    from workers.celery_app import init_celery

    init_portal(app)
    init_api(app)
    init_h5(app)
    init_celery(app)
    register_commands(app)
    activate(app)

    @app.after_request
    def _finish_unit_of_work(response: Response) -> Response:
        """One commit per request: commit on success, roll back on an error status."""
        if response.status_code < 400:
            try:
                commit()
            except IntegrityError:
                rollback()
                cleanup = g.get("idempotency_cleanup")
                if cleanup:
                    cleanup()
                log.warning("integrity conflict committing %s %s", request.method, request.path)
                from miniprogram_api.errors import error_payload

                return app.json.response(
                    error_payload(409, "conflict", "数据已被其他操作修改，请刷新后重试"), status=409
                )
        else:
            rollback()
        return response

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

    log.info(
        "ReliefLink started (env=%s, db=%s, tasks=%s)",
        app.config["APP_ENV"],
        app.config["DATABASE_URL"].split("@")[-1],
        "celery" if app.config.get("CELERY_BROKER_URL") else "eager",
    )
    return app


if os.environ.get("RELIEFLINK_EAGER_APP") == "1":  # pragma: no cover - for servers wanting `wsgi:app`
    app = create_app()
