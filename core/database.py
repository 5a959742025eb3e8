"""The database handle shared by every domain package, and the commit helper edges call."""

from __future__ import annotations

import logging
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
log = logging.getLogger("relieflink.database")


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


def after_commit(callback: Any, *args: Any) -> None:
    """Run ``callback(*args)`` once the current transaction has committed (dropped on rollback): side
    effects that must not happen for a change that never lands, e.g. deleting a file the change unlinks."""
    db.session.info.setdefault("pending_callbacks", []).append((callback, args))


def after_rollback(callback: Any, *args: Any) -> None:
    """Run ``callback(*args)`` if the current transaction rolls back (dropped on commit): undo an outside
    effect made in advance, e.g. remove a file written for a row that was never committed."""
    db.session.info.setdefault("undo_callbacks", []).append((callback, args))


def _run(callbacks: list) -> None:
    for callback, args in callbacks:
        try:
            callback(*args)
        except Exception:
            log.exception("after-commit callback %s failed", getattr(callback, "__name__", callback))


def commit() -> None:
    """Commit the current unit of work, then send the tasks it queued and run its after-commit callbacks."""
    session = db.session
    session.commit()
    ready = session.info.pop("ready_tasks", [])
    for name, args, queue in ready:
        if _dispatcher is None:
            raise RuntimeError("no task dispatcher installed (workers.celery_app.init_celery)")
        _dispatcher(name, args, queue)
    # a commit with no database work emits no after_commit event: its callbacks are still pending
    session.info.pop("undo_callbacks", None)
    _run(session.info.pop("ready_callbacks", []) + session.info.pop("pending_callbacks", []))


def rollback() -> None:
    session = db.session
    session.rollback()
    session.info.pop("pending_callbacks", None)
    _run(session.info.pop("rolled_back_callbacks", []) + session.info.pop("undo_callbacks", []))


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
        callbacks = session.info.pop("pending_callbacks", [])
        if callbacks:
            session.info.setdefault("ready_callbacks", []).extend(callbacks)
        session.info.pop("undo_callbacks", None)

    @event.listens_for(Session, "after_soft_rollback")
    def _after_rollback(session: Session, previous_transaction: Any) -> None:
        if previous_transaction.parent is None:
            session.info.pop("pending_tasks", None)
            session.info.pop("pending_callbacks", None)
            undo = session.info.pop("undo_callbacks", [])
            if undo:
                session.info.setdefault("rolled_back_callbacks", []).extend(undo)

    install_session_events._done = True  # type: ignore[attr-defined]


def include_for(dialect: str) -> Any:
    """An Alembic ``include_object`` hook: leave out schema items created only on another dialect
    (``Index(...).ddl_if(dialect="postgresql")``), so SQLite and PostgreSQL both compare clean."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        ddl_if = getattr(obj, "_ddl_if", None) or getattr(compare_to, "_ddl_if", None)
        return ddl_if is None or ddl_if.dialect in (None, dialect)

    return include
