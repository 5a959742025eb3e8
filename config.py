"""Configuration: one class per environment, every key listed.

The environment is chosen by ``APP_ENV`` (development | testing | production).
Every key can be overridden by an environment variable of the same name.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


class ConfigError(RuntimeError):
    """A required configuration key is missing or unsafe."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


class BaseConfig:
    APP_ENV = "development"
    # --- storage -----------------------------------------------------------------------
    DATABASE_URL = f"sqlite:///{INSTANCE_DIR / 'relieflink.db'}"
    # `flask db …` (migrations, grant-app-role) connect with this URL when it is set: the owner of the
    # tables, while DATABASE_URL names the app's least-privilege role (docs/deployment.md)
    MIGRATION_DATABASE_URL = None
    STORAGE_DIR = str(INSTANCE_DIR / "storage")
    # PostgreSQL timeouts (milliseconds; 0 = none): a slow statement, a held lock or a client that left a
    # transaction open fails fast with 503 instead of stopping the workers. Bulk jobs run on the same limits:
    # each statement of the set-based imports and roll drafts is far below them.
    DB_CONNECT_TIMEOUT_SECONDS = 5
    DB_STATEMENT_TIMEOUT_MS = 30_000
    DB_LOCK_TIMEOUT_MS = 5_000
    DB_IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000
    DB_POOL_TIMEOUT_SECONDS = 10
    # --- secrets (development defaults; production must set them) -------------------------
    SECRET_KEY = "dev-only-secret-key-change-me"  # noqa: S105 - development default; production refuses it
    JWT_SECRET_KEY = "dev-only-jwt-key-change-me-0123456789abcdef"  # noqa: S105 - as above
    DATA_ENCRYPTION_KEY = None  # Fernet key; derived from SECRET_KEY if unset
    JWT_ISSUER = "relieflink"
    JWT_AUDIENCE = "relieflink-miniprogram"
    JWT_ACCESS_TTL_SECONDS = 15 * 60
    REFRESH_TOKEN_TTL_DAYS = 30
    # The token check's in-process cache (core.accounts.session_cache): a Redis URL turns it on (every
    # process that changes users must have it: API, portal, workers); unset = every request checks the database
    AUTH_CACHE_REDIS_URL = None
    AUTH_CACHE_TTL_SECONDS = 30
    # --- tasks ---------------------------------------------------------------------------
    CELERY_BROKER_URL = None  # unset = tasks run in-process (eager)
    CELERY_RESULT_BACKEND = None
    CELERY_TASK_TIME_LIMIT = 300
    CELERY_TASK_SOFT_TIME_LIMIT = 240
    TASK_RELAY_AFTER_SECONDS = 30  # a task row still pending after this is published by the beat relay
    # a message claimed (sending) this long ago by a worker that never answered is settled by asking the provider
    NOTIFY_RECONCILE_AFTER_SECONDS = 300
    # timeline events still without their messages this long after they were recorded (a notify task lost
    # after the broker took it) get their task again from the beat's sweep
    NOTIFY_EVENTS_SWEEP_AFTER_SECONDS = 600
    REDIS_SOCKET_TIMEOUT_SECONDS = 3.0  # broker connect/read timeout: an outage fails fast, never hangs
    # --- API -----------------------------------------------------------------------------
    API_DOCS_ENABLED = True
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024
    MAX_UPLOAD_BYTES = 10 * 1024 * 1024
    API_MAX_PAGE_SIZE = 100
    IDEMPOTENCY_TTL_HOURS = 24
    # files no row names are removed by the daily sweep once older than this (core.files.storage.sweep_orphans)
    ORPHAN_FILE_MIN_AGE_HOURS = 24
    IDEMPOTENCY_STALE_SECONDS = 120
    DEMO_ENDPOINTS_ENABLED = True
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_ENABLED = True
    # the rate-limit store (Redis in production) being down must not take the API down: limits fall back to
    # each process's memory until it returns; its client gives up within seconds
    RATELIMIT_SWALLOW_ERRORS = True
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_STORAGE_OPTIONS = {"socket_timeout": 2, "socket_connect_timeout": 2}  # noqa: RUF012 - read-only
    SMS_SEND_IP_LIMIT = "20 per hour"
    # --- SMS -----------------------------------------------------------------------------
    SMS_BACKEND = "console"  # console | http
    SMS_GATEWAY_URL = None
    SMS_GATEWAY_API_KEY = None
    SMS_GATEWAY_SIGN_NAME = "救助通"
    SMS_CODE_TTL_SECONDS = 300
    SMS_RESEND_SECONDS = 60
    SMS_DAILY_LIMIT_PER_PHONE = 10
    SMS_MAX_ATTEMPTS = 5
    SMS_EXPOSE_DEV_CODE = True
    # --- WeChat --------------------------------------------------------------------------
    WECHAT_APPID = "wx-dev-appid"
    WECHAT_SECRET = "wx-dev-secret"  # noqa: S105 - development default
    WECHAT_API_BASE = "https://api.weixin.qq.com"
    WECHAT_TIMEOUT_SECONDS = 5.0
    WECHAT_SUBSCRIBE_ENABLED = False  # send subscription messages (else they go to the console outbox)
    WECHAT_TEMPLATE_APPLICATION_STATUS = None  # template id for application status changes
    WECHAT_TEMPLATE_REPORT_STATUS = None  # template id for report progress (thing1 category, phrase2, thing3)
    WECHAT_TEMPLATE_OFFICER_DIGEST = None  # officers' daily digest (thing1, number2-4 overdue/soon/open, date5)
    WECHAT_MINIPROGRAM_STATE = "formal"  # formal | trial | developer
    ALIPAY_APP_ID = None  # Alipay log-in is off until the app id and both keys are set
    ALIPAY_PRIVATE_KEY = None  # the application's RSA private key (PEM or the console's base64), signs requests
    ALIPAY_PUBLIC_KEY = None  # Alipay's RSA public key (PEM or base64), verifies every answer
    ALIPAY_GATEWAY = "https://openapi.alipay.com/gateway.do"
    ALIPAY_TIMEOUT_SECONDS = 5.0
    # --- portal --------------------------------------------------------------------------
    PORTAL_IDLE_TIMEOUT_MINUTES = 30
    PORTAL_SESSION_ABSOLUTE_HOURS = 12  # a portal session ends this long after log-in, however active
    PORTAL_MAX_FAILED_LOGINS = 5
    PORTAL_LOCKOUT_MINUTES = 15
    PORTAL_PAGE_SIZE = 20
    SESSION_COOKIE_NAME = "relieflink_portal"  # holds only a random session id (rows in portal_sessions)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    WTF_CSRF_TIME_LIMIT = None  # the session's idle time-out bounds the token instead
    # --- casework ------------------------------------------------------------------------
    DEFAULT_ACCEPT_WORKING_DAYS = 3
    HOLIDAY_FILE = None  # extra holidays/workdays for years chinese_calendar lacks
    # --- authorizations and face checks -------------------------------------------------
    AUTH_QR_TTL_HOURS = 72
    AUTH_HANDOVER_TTL_MINUTES = 15
    AUTH_LINK_BASE = "http://127.0.0.1:5000/h5/authorize"  # the H5/mini-program page the QR opens
    FACE_TOLERANCE = 0.6
    FACE_TURN_THRESHOLD = 0.15  # head-turn range of the nose on the eye line (live: 0.26-0.47; photo < 0.07)
    FACE_FRAME_RETENTION_SECONDS = 0  # raw frames are deleted after the check
    FACE_MAX_FRAME_BYTES = 2 * 1024 * 1024
    FACE_CHALLENGE_TTL_SECONDS = 180  # a face challenge (nonce + head-turn sequence) must be answered within this
    FACE_SIGN_WINDOW_SECONDS = 600  # the signature must follow the latest passing face check within this
    FACE_REPLAY_MAX_DISTANCE = 3  # perceptual-hash bits (of 64) within which a frame counts as seen before
    SIGNATURE_MAX_BYTES = 512 * 1024
    PORTRAIT_SOURCE = "registry"  # registry | http
    PORTRAIT_HTTP_URL = None
    PORTRAIT_HTTP_KEY = None
    FACE_ENGINE_CHECK_ON_WORKER_START = True
    PDF_CJK_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"  # Debian fonts-noto-cjk
    PDF_CJK_FONT_INDEX = 2  # Noto Sans CJK SC in that collection
    # --- real-name verification (实名核验) -------------------------------------------------
    IDENTITY_SERVICE_BACKEND = "console"  # console (development: every claim matches) | http | none
    IDENTITY_SERVICE_URL = None  # provincial identity service: POST {url}/v1/verify (name, ID number, phone)
    IDENTITY_SERVICE_API_KEY = None
    IDENTITY_SERVICE_TIMEOUT_SECONDS = 5.0
    REAL_NAME_WECHAT_ENABLED = False  # WeChat real-name check of the log-in's openid
    REAL_NAME_MAX_FAILURES_PER_DAY = 5
    REAL_NAME_REBIND_COOLDOWN_DAYS = 30
    # --- reports (主动发现) ---------------------------------------------------------------
    REPORT_DAILY_CAPS = "resident=3,volunteer=20,social_worker=50,grid_worker=50,official=50"
    REPORT_IP_LIMIT = "60 per hour"
    # --- registry: payment rolls (发放名册) ---------------------------------------------------
    ROLL_DRAFT_DAY = 20  # day of the month (1-28) on which the beat drafts next month's rolls
    # --- registry import (flask registry import) --------------------------------------------
    REGISTRY_IMPORT_MAX_AMOUNT = 5000  # 元 per month; a row above it is refused (a typo, or not a 低保/特困 amount)
    # --- department data exchange: catalogue, loads, columnar store (docs/exchange.md) -----------
    EXCHANGE_STORE_URL = None  # Parquet root; default STORAGE_DIR/exchange (s3://bucket/prefix with httpfs)
    EXCHANGE_DUCKDB_MEMORY_LIMIT = "512MB"  # DuckDB's memory_limit per load (it spills beyond)
    EXCHANGE_DUCKDB_THREADS = 2
    EXCHANGE_MAX_UPLOAD_BYTES = 4 * 1024 * 1024 * 1024  # one department file (streamed to disk)
    # --- demo ----------------------------------------------------------------------------
    LOAD_DEMO_DATA = False
    LOG_LEVEL = "INFO"
    # Behind a reverse proxy: how many proxies set X-Forwarded-For/-Proto (0 = none; trust nothing).
    PROXY_FIX_X_FOR = 0

    @classmethod
    def validate(cls) -> None:
        """Raise ConfigError when the configuration cannot run safely."""


class DevelopmentConfig(BaseConfig):
    APP_ENV = "development"


class TestingConfig(BaseConfig):
    APP_ENV = "testing"
    TESTING = True
    DATABASE_URL = f"sqlite:///{INSTANCE_DIR / 'test.db'}"
    STORAGE_DIR = str(INSTANCE_DIR / "test-storage")
    RATELIMIT_STORAGE_URI = "memory://"


class ProductionConfig(BaseConfig):
    APP_ENV = "production"
    SECRET_KEY = None
    JWT_SECRET_KEY = None
    DATA_ENCRYPTION_KEY = None
    DATABASE_URL = None
    API_DOCS_ENABLED = False
    DEMO_ENDPOINTS_ENABLED = False
    SMS_EXPOSE_DEV_CODE = False
    SMS_BACKEND = "http"
    IDENTITY_SERVICE_BACKEND = "none"
    SESSION_COOKIE_SECURE = True
    WECHAT_APPID = None
    WECHAT_SECRET = None

    @classmethod
    def validate(cls) -> None:
        missing = [
            key
            for key in (
                "SECRET_KEY",
                "JWT_SECRET_KEY",
                "DATA_ENCRYPTION_KEY",
                "DATABASE_URL",
                "CELERY_BROKER_URL",
            )
            if not getattr(cls, key)
        ]
        if missing:
            raise ConfigError(
                "Production start-up refused: missing required configuration "
                + ", ".join(missing)
                + ". Set them as environment variables (see README, 'Configuration')."
            )
        problems = []
        try:
            from cryptography.fernet import Fernet

            Fernet(cls.DATA_ENCRYPTION_KEY.encode())
        except ValueError:
            problems.append("DATA_ENCRYPTION_KEY must be a Fernet key (Fernet.generate_key())")
        if any((getattr(cls, k) or "").startswith("dev-only") for k in ("SECRET_KEY", "JWT_SECRET_KEY")):
            problems.append("SECRET_KEY and JWT_SECRET_KEY must not be the development defaults")
        if len(cls.SECRET_KEY or "") < 32 or len(cls.JWT_SECRET_KEY or "") < 32:
            problems.append("SECRET_KEY and JWT_SECRET_KEY must be at least 32 characters")
        if (cls.DATABASE_URL or "").startswith("sqlite"):
            problems.append("DATABASE_URL must not be SQLite in production")
        if cls.SMS_BACKEND == "console":
            problems.append("SMS_BACKEND=console is a development adapter")
        if cls.IDENTITY_SERVICE_BACKEND == "console":
            problems.append("IDENTITY_SERVICE_BACKEND=console is a development adapter (use http or none)")
        if cls.IDENTITY_SERVICE_BACKEND == "http" and not (cls.IDENTITY_SERVICE_URL and cls.IDENTITY_SERVICE_API_KEY):
            problems.append("IDENTITY_SERVICE_BACKEND=http needs IDENTITY_SERVICE_URL and IDENTITY_SERVICE_API_KEY")
        if cls.LOAD_DEMO_DATA:
            problems.append("LOAD_DEMO_DATA must be off in production")
        if cls.DEMO_ENDPOINTS_ENABLED:
            problems.append("DEMO_ENDPOINTS_ENABLED must be off in production")
        if cls.SMS_EXPOSE_DEV_CODE:
            problems.append("SMS_EXPOSE_DEV_CODE must be off in production")
        if cls.RATELIMIT_STORAGE_URI.startswith("memory"):
            problems.append("RATELIMIT_STORAGE_URI must be shared storage (e.g. redis://) in production")
        if problems:
            raise ConfigError("Production start-up refused: " + "; ".join(problems) + ".")


CONFIGS: dict[str, type[BaseConfig]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def get_config(env: str | None = None) -> type[BaseConfig]:
    """Return the config class for ``env`` (default: ``APP_ENV`` or development)."""
    name = env or _env("APP_ENV", "development")
    if name not in CONFIGS:
        raise ConfigError(f"APP_ENV must be one of {', '.join(CONFIGS)}, not {name!r}")
    cls = CONFIGS[name]
    # Re-read the environment so that a variable set after import (tests, CLIs) counts.
    return type(cls.__name__, (cls,), _overrides(cls))


def _overrides(cls: type[BaseConfig]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key in dir(cls):
        if not key.isupper():
            continue
        value = os.environ.get(key)
        if value in (None, ""):
            continue
        current = getattr(cls, key)
        if isinstance(current, bool):
            result[key] = value.strip().lower() in {"1", "true", "yes", "on"}
        elif isinstance(current, int) and not isinstance(current, bool):
            result[key] = int(value)
        elif isinstance(current, float):
            result[key] = float(value)
        else:
            result[key] = value
    return result
