"""Composition of the core: the one place that installs settings and wires the areas together.

The app factory (``wsgi.create_app``), a Celery worker and a CLI call ``setup`` with the configuration and
the adapters the edge provides (message channels, the task dispatcher). Nothing in ``core`` sets these
itself, and no module registers hooks as a side effect of being imported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from core import crypto, workdays
from core.accounts import session_cache, tokens
from core.applications import settings as program_settings
from core.database import set_task_dispatcher
from core.exchange import store as exchange_store
from core.files import storage
from core.notifications import services as outbox


def wire() -> None:
    """Cross-area hooks, registered explicitly (idempotent)."""
    from core.applications import services as applications
    from core.applications import workflow
    from core.authorizations import services as authorizations
    from core.checks import services as checks
    from core.identity import services as identity
    from core.registry import services as registry
    from core.reports import services as reports

    # the data check waits until every adult member has authorized it
    workflow.register_gate("data_check", authorizations.missing)
    # the economic check (核对) runs once the gate opens: the last adult member has authorized
    authorizations.on_gate_open("checks", checks.on_gate_open)
    # one authorization request per adult member, re-planned when the household changes
    applications.on_household_change("authorizations", authorizations.plan)
    # a log-in's drafts become the person's at its first real-name verification
    identity.on_first_verification("applications", applications.adopt_drafts)
    # the registry (一人一档): submitted members (linked by a task after the commit) and named report subjects
    # are persons; an approval enrolls
    applications.on_submitted("registry", registry.schedule_link)
    reports.on_filed("registry", registry.register_report)
    workflow.on_approved("registry", registry.enroll_approved)
    workflow.validate_all()  # a broken workflow definition stops start-up
    _wire_file_references()


def _wire_file_references() -> None:
    """The columns naming the files of each storage area (core.files): the orphan sweep removes old files
    of these areas that none of them names. A new column holding storage keys is declared here."""
    from core.applications.models import Attachment
    from core.authorizations.models import FaceVerification, Signature
    from core.casework.models import StepFile
    from core.identity.models import IdentityVerification
    from core.registry.models import Transfer
    from core.reports.models import ReportPhoto

    storage.register_references("attachments", Attachment.storage_key)
    storage.register_references("reports", ReportPhoto.storage_key)
    storage.register_references("signatures", Signature.storage_key)  # e-signatures and window scans
    storage.register_references("home_visits", StepFile.storage_key)
    storage.register_references("transfers", Transfer.hukou_storage_key)  # 户口簿 pages
    storage.register_references("faces-tmp", FaceVerification.frame_keys, many=True)
    storage.register_references("faces-tmp", IdentityVerification.frame_keys, many=True)


def setup(config: Mapping[str, Any], *, channels: Callable[[str], Any], dispatcher: Callable[..., Any]) -> None:
    """Install the configuration's keys and settings, the edge's adapters, and the cross-area hooks."""
    crypto.configure(config["DATA_ENCRYPTION_KEY"], config["SECRET_KEY"])
    tokens.configure(
        tokens.TokenSettings(
            secret=config["JWT_SECRET_KEY"],
            issuer=config["JWT_ISSUER"],
            audience=config["JWT_AUDIENCE"],
            access_ttl=config["JWT_ACCESS_TTL_SECONDS"],
            refresh_ttl_days=config["REFRESH_TOKEN_TTL_DAYS"],
        )
    )
    session_cache.configure(config.get("AUTH_CACHE_REDIS_URL"), ttl_seconds=config.get("AUTH_CACHE_TTL_SECONDS", 30))
    session_cache.install_events()
    workdays.load_holiday_file(config["HOLIDAY_FILE"])
    program_settings.configure(default_accept_days=config["DEFAULT_ACCEPT_WORKING_DAYS"])
    storage.configure(config["STORAGE_DIR"])
    exchange_store.configure(
        store_url=config.get("EXCHANGE_STORE_URL"),
        storage_dir=config["STORAGE_DIR"],
        memory_limit=config.get("EXCHANGE_DUCKDB_MEMORY_LIMIT", "512MB"),
        threads=config.get("EXCHANGE_DUCKDB_THREADS", 2),
    )
    outbox.set_channel_factory(channels)
    set_task_dispatcher(dispatcher)
    wire()
