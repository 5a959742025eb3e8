"""The database handle shared by every domain package, and the commit helper edges call."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, returns timezone-aware UTC; refuses naive input."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use core.clock.utcnow()")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


# --- tasks sent after commit -------------------------------------------------------------
# Services call enqueue_after_commit(); the edge's commit() sends them once the data they
# refer to is committed. A rollback drops them.

_dispatcher: Any = None


def set_task_dispatcher(dispatcher: Any) -> None:
    """Register ``dispatcher(name, args, queue)``; the workers package installs Celery's."""
    global _dispatcher
    _dispatcher = dispatcher


def enqueue_after_commit(name: str, *args: Any, queue: str = "default") -> None:
    db.session.info.setdefault("pending_tasks", []).append((name, list(args), queue))


def commit() -> None:
    """Commit the current unit of work, then send the tasks it queued."""
    session = db.session
    session.commit()
    ready = session.info.pop("ready_tasks", [])
    for name, args, queue in ready:
        if _dispatcher is None:
            raise RuntimeError("no task dispatcher installed (workers.celery_app.init_celery)")
        _dispatcher(name, args, queue)


def rollback() -> None:
    db.session.rollback()


def install_session_events() -> None:
    """Hook the task queue into the session's lifecycle (called once by the app factory)."""
    from sqlalchemy.orm import Session

    if getattr(install_session_events, "_done", False):
        return

    @event.listens_for(Session, "after_commit")
    def _after_commit(session: Session) -> None:
        pending = session.info.pop("pending_tasks", [])
        if pending:
            session.info.setdefault("ready_tasks", []).extend(pending)

    @event.listens_for(Session, "after_soft_rollback")
    def _after_rollback(session: Session, previous_transaction: Any) -> None:
        if previous_transaction.parent is None:
            session.info.pop("pending_tasks", None)

    install_session_events._done = True  # type: ignore[attr-defined]
