"""Builds the ReliefLink Flask app: ``flask --app wsgi …`` or ``gunicorn 'wsgi:create_app()'``."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask
from flask_migrate import Migrate
from sqlalchemy import event
from sqlalchemy.engine import Engine

import config as config_module
import core.models  # noqa: F401 - every model, so that the metadata is complete
from core import setup as core_setup
from core.accounts.alipay import HttpAlipayClient
from core.accounts.wechat import HttpWechatClient
from core.database import db, install_session_events
from core.identity.providers import ConsoleIdentityService, HttpIdentityService, WechatRealName
from core.notifications.channels import Channel, ConsoleChannel, HttpSmsGateway, WechatSubscribeChannel

migrate = Migrate()
log = logging.getLogger("relieflink")


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
            "daily_digest": cfg["WECHAT_TEMPLATE_OFFICER_DIGEST"] or "",
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
            from core.faces.engine import load_engine

            cache["engine"] = load_engine()
        return cache["engine"]

    return load


def _portrait_source_factory(app: Flask):
    cfg = app.config
    cache: dict[str, Any] = {}

    def source() -> Any:
        if "source" not in cache:
            from core.faces import engine as faces
            from core.faces import portraits

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
    core_setup.setup(app.config, channels=_channel_factory(app), dispatcher=app.extensions["task_dispatcher"])
    celery = app.extensions["celery"]
    celery.set_default()
    celery.set_current()  # shared tasks resolve to this app's Celery (a second app made itself current)


def postgres_session_settings(cfg: Any) -> dict[str, Any]:
    """Connect and per-session timeouts: a down, slow or locked database fails a request in seconds (503),
    never hangs a worker (0 disables one)."""
    options = " ".join(
        f"-c {name}={int(cfg[key])}"
        for name, key in (
            ("statement_timeout", "DB_STATEMENT_TIMEOUT_MS"),
            ("lock_timeout", "DB_LOCK_TIMEOUT_MS"),
            ("idle_in_transaction_session_timeout", "DB_IDLE_IN_TRANSACTION_TIMEOUT_MS"),
        )
    )
    return {"connect_timeout": int(cfg["DB_CONNECT_TIMEOUT_SECONDS"]), "options": options}


def create_app(env: str | None = None, **overrides: Any) -> Flask:
    cfg = config_module.get_config(env)
    if overrides:
        cfg = type(cfg.__name__, (cfg,), overrides)
    cfg.validate()

    app = Flask(__name__, instance_path=str(config_module.INSTANCE_DIR), static_folder=None)
    app.config.from_object(cfg)
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # the portal guard checks every portal form
    app.json.ensure_ascii = False
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    # SQL parameters (ID numbers, phone numbers, names) never reach logs or error text
    engine_options: dict[str, Any] = {"hide_parameters": True}
    if app.config["DATABASE_URL"].startswith("postgresql"):
        engine_options.update(
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=10,
            pool_timeout=app.config["DB_POOL_TIMEOUT_SECONDS"],
            connect_args=postgres_session_settings(app.config),
        )
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options
    logging.basicConfig(level=app.config["LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if app.config["DATABASE_URL"].startswith("sqlite:///"):
        Path(app.config["DATABASE_URL"].removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    Path(app.config["STORAGE_DIR"]).mkdir(parents=True, exist_ok=True)

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

    app.extensions["alipay_client"] = HttpAlipayClient(
        app.config["ALIPAY_GATEWAY"],
        app.config["ALIPAY_APP_ID"],
        app.config["ALIPAY_PRIVATE_KEY"],
        app.config["ALIPAY_PUBLIC_KEY"],
        timeout=app.config["ALIPAY_TIMEOUT_SECONDS"],
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
    from web import init_web
    from workers.celery_app import init_celery

    init_web(app)  # shared plumbing first: the id converter precedes every route
    init_portal(app)
    init_api(app)
    init_h5(app)
    init_celery(app)
    register_commands(app)
    activate(app)

    log.info(
        "ReliefLink started (env=%s, db=%s, tasks=%s)",
        app.config["APP_ENV"],
        app.config["DATABASE_URL"].split("@")[-1],
        "celery" if app.config.get("CELERY_BROKER_URL") else "eager",
    )
    return app


if os.environ.get("RELIEFLINK_EAGER_APP") == "1":  # pragma: no cover - for servers wanting `wsgi:app`
    app = create_app()
