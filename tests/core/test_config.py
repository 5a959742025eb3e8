"""Configuration: production refuses to start unsafe, and never gives dev conveniences."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

import config
from config import ConfigError

GOOD_PRODUCTION = {
    "SECRET_KEY": "s" * 40,
    "JWT_SECRET_KEY": "j" * 40,
    "DATA_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    "DATABASE_URL": "postgresql+psycopg://relieflink@127.0.0.1/relieflink",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/1",
    "SMS_GATEWAY_URL": "http://127.0.0.1:9/sms",
}


@pytest.fixture
def production_env(monkeypatch):
    for key, value in GOOD_PRODUCTION.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.delenv("DEMO_ENDPOINTS_ENABLED", raising=False)
    return monkeypatch


def test_production_with_everything_set_validates(production_env):
    cfg = config.get_config()
    cfg.validate()
    assert cfg.API_DOCS_ENABLED is False and cfg.DEMO_ENDPOINTS_ENABLED is False
    assert cfg.SMS_EXPOSE_DEV_CODE is False and cfg.SESSION_COOKIE_SECURE is True


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "JWT_SECRET_KEY", "DATA_ENCRYPTION_KEY", "DATABASE_URL", "CELERY_BROKER_URL"]
)
def test_production_refuses_missing_keys(production_env, missing):
    production_env.delenv(missing)
    with pytest.raises(ConfigError, match=missing):
        config.get_config().validate()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("DATABASE_URL", "sqlite:///x.db", "must not be SQLite"),
        ("SMS_BACKEND", "console", "development adapter"),
        ("LOAD_DEMO_DATA", "true", "LOAD_DEMO_DATA"),
        ("SMS_EXPOSE_DEV_CODE", "true", "SMS_EXPOSE_DEV_CODE"),
        ("DEMO_ENDPOINTS_ENABLED", "true", "DEMO_ENDPOINTS_ENABLED"),
        ("SECRET_KEY", "short", "at least 32"),
        ("RATELIMIT_STORAGE_URI", "memory://", "shared storage"),
        ("DATA_ENCRYPTION_KEY", "not-a-fernet-key", "Fernet key"),
    ],
)
def test_production_refuses_dev_conveniences(production_env, key, value, message):
    production_env.setenv(key, value)
    with pytest.raises(ConfigError, match=message):
        config.get_config().validate()


def test_unknown_env_refused():
    with pytest.raises(ConfigError, match="APP_ENV"):
        config.get_config("staging")


def test_env_overrides_are_typed(monkeypatch):
    monkeypatch.setenv("JWT_ACCESS_TTL_SECONDS", "60")
    monkeypatch.setenv("API_DOCS_ENABLED", "false")
    cfg = config.get_config("development")
    assert cfg.JWT_ACCESS_TTL_SECONDS == 60 and cfg.API_DOCS_ENABLED is False


def test_production_app_never_returns_dev_code(app, production_env):
    """A real production app (its own config) on the test database: no dev_code, no demo routes, no docs."""
    from wsgi import activate, create_app

    production_env.setenv("DATABASE_URL", app.config["DATABASE_URL"])
    production_env.setenv("RATELIMIT_STORAGE_URI", "memory://")  # only to run here without Redis set-up
    cfg = config.get_config("production")
    overrides = {
        "DATABASE_URL": app.config["DATABASE_URL"],
        "RATELIMIT_STORAGE_URI": "memory://",
        "validate": classmethod(lambda cls: None),
    }  # the refusals themselves are tested above
    prod = create_app("production", **overrides)
    try:
        assert prod.config["APP_ENV"] == "production" and cfg.APP_ENV == "production"
        client = prod.test_client()
        resp = client.post("/api/v1/auth/sms/send", json={"phone": "13900005000"})
        assert resp.status_code == 200
        assert "dev_code" not in resp.get_json()
        assert client.get("/api/openapi.json").status_code == 404
        assert client.get("/api/docs").status_code == 404
        assert client.post("/api/v1/demo/cases", json={}).status_code in (401, 404)
    finally:
        activate(app)


def test_client_ip_behind_a_trusted_proxy(app, monkeypatch):
    """With PROXY_FIX_X_FOR=1 the audit log records the client's address from the proxy's header."""
    from sqlalchemy import select

    from core.audit.models import AuditEntry
    from core.database import db
    from wsgi import activate, create_app

    behind = create_app("testing", PROXY_FIX_X_FOR=1, DATABASE_URL=app.config["DATABASE_URL"])
    try:
        client = behind.test_client()
        code = client.post("/api/v1/auth/sms/send", json={"phone": "13900080000"}).get_json()["dev_code"]
        resp = client.post(
            "/api/v1/auth/sms/verify",
            json={"phone": "13900080000", "code": code},
            headers={"X-Forwarded-For": "203.0.113.7"},
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        )
        assert resp.status_code == 200
        with behind.app_context():
            entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "auth.login"))
            assert entry.ip == "203.0.113.7"
            db.session.remove()
        direct = app.test_client()  # the default app trusts no header
        code = direct.post("/api/v1/auth/sms/send", json={"phone": "13900080001"}).get_json()["dev_code"]
        direct.post(
            "/api/v1/auth/sms/verify",
            json={"phone": "13900080001", "code": code},
            headers={"X-Forwarded-For": "203.0.113.8"},
        )
        with app.app_context():
            ips = db.session.scalars(select(AuditEntry.ip).where(AuditEntry.action == "auth.login")).all()
            assert "203.0.113.8" not in ips
            db.session.remove()
    finally:
        activate(app)
