"""The database handle shared by every domain package, and the commit helper edges call."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON, DateTime, Index, Integer, MetaData, String, Text, event, inspect, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from core import clock

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


# --- tasks: a row in the same transaction, published after commit ------------------------
# Services call enqueue_after_commit(): the task is a row of ``task_outbox`` written with the change, so
# it exists exactly when the change does. The edge's commit() publishes it once the transaction commits;
# a broker that is down does not fail the request (the row stays ``pending``) and the beat relay
# (``relay_pending_tasks``) publishes what is left. Tasks are idempotent by the id they carry, so a row
# published twice (a relay racing a slow request) has no second effect. A rollback drops the row.


class TaskOutbox(db.Model):
    """A task to publish to the broker, written in the transaction of the change that asked for it."""

    __tablename__ = "task_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    args: Mapped[list] = mapped_column(JSON)
    queue: Mapped[str] = mapped_column(String(20))
    # pending | published | dead (failed after its retries; an administrator requeues it) | requeued
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_task_outbox_status_created", "status", "created_at"),)


_dispatcher: Any = None


def set_task_dispatcher(dispatcher: Any) -> None:
    """Register ``dispatcher(name, args, queue)``; the workers package installs Celery's."""
    global _dispatcher
    _dispatcher = dispatcher


def enqueue_after_commit(name: str, *args: Any, queue: str = "default", once: bool = False) -> None:
    """``once``: skip it when the same task with the same arguments is already queued in this transaction.
    A row a rolled-back savepoint dropped (no longer in the session) does not count."""
    session = db.session
    if once and any(
        row.name == name and row.args == list(args) and row in session for row in session.info.get("pending_tasks", ())
    ):
        return
    row = TaskOutbox(name=name, args=list(args), queue=queue, status="pending", created_at=clock.utcnow())
    db.session.add(row)
    db.session.info.setdefault("pending_tasks", []).append(row)


def _publish(rows: list[TaskOutbox]) -> int:
    """Hand committed task rows to the broker; mark those it took. Never raises: what the broker refused
    stays ``pending`` for the relay."""
    if _dispatcher is None:
        raise RuntimeError("no task dispatcher installed (workers.celery_app.init_celery)")
    published: list[int] = []
    failed: dict[int, str] = {}
    for row in rows:
        identity = inspect(row).identity
        if identity is None:  # added inside a savepoint that rolled back: the change it belonged to is gone
            continue
        try:
            _dispatcher(row.name, row.args, row.queue)
        except Exception as exc:  # the broker is down or refused: the request's change is committed
            log.warning("task %s (outbox %s) not published yet", row.name, identity[0], exc_info=True)
            failed[identity[0]] = f"{type(exc).__name__}: {exc}"[:500]
        else:
            published.append(identity[0])
    if published or failed:
        now = clock.utcnow()
        try:
            with db.engine.begin() as conn:
                if published:
                    conn.execute(
                        update(TaskOutbox)
                        .where(TaskOutbox.id.in_(published))
                        .values(status="published", published_at=now, attempts=TaskOutbox.attempts + 1)
                    )
                for row_id, error in failed.items():
                    conn.execute(
                        update(TaskOutbox)
                        .where(TaskOutbox.id == row_id)
                        .values(attempts=TaskOutbox.attempts + 1, last_error=error)
                    )
        except Exception:  # the database went away after the commit: the relay publishes again (idempotent)
            log.warning("could not mark %d task(s) published", len(published), exc_info=True)
    return len(published)


def record_dead_task(name: str, args: list, queue: str, error: str) -> None:
    """A task failed for good (its retries are spent): keep it as a ``dead`` row for the administrators'
    page, where it can be requeued. Written on its own connection (the task's session may be broken)."""
    try:
        with db.engine.begin() as conn:
            conn.execute(
                TaskOutbox.__table__.insert().values(
                    name=name,
                    args=list(args),
                    queue=queue,
                    status="dead",
                    attempts=1,
                    last_error=error[:2000],
                    created_at=clock.utcnow(),
                )
            )
    except Exception:  # the database is what failed: the log is all that is left
        log.exception("could not record the failed task %s%s", name, tuple(args))


def relay_pending_tasks(*, older_than_seconds: int = 30, limit: int = 500, keep_days: int = 7) -> int:
    """Publish task rows left ``pending`` (the broker was down, the process died after its commit) and
    forget published rows older than ``keep_days``. Run by the beat relay; returns how many it published."""
    now = clock.utcnow()
    stmt = (
        select(TaskOutbox)
        .where(TaskOutbox.status == "pending", TaskOutbox.created_at < now - timedelta(seconds=older_than_seconds))
        .order_by(TaskOutbox.id)
        .limit(limit)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)  # two relays never publish the same rows together
    rows = list(db.session.scalars(stmt))
    db.session.execute(
        TaskOutbox.__table__.delete().where(
            TaskOutbox.status == "published", TaskOutbox.published_at < now - timedelta(days=keep_days)
        )
    )
    db.session.commit()  # releases the row locks; the rows keep their values (expire_on_commit is off)
    return _publish(rows) if rows else 0


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
    if ready:
        _publish(ready)
    # a commit with no database work emits no after_commit event: its callbacks are still pending
    session.info.pop("undo_callbacks", None)
    _run(session.info.pop("ready_callbacks", []) + session.info.pop("pending_callbacks", []))


def rollback(*, undo: bool = True) -> None:
    """Roll back the unit of work and run its ``after_rollback`` undos. ``undo=False``: the outcome is unknown
    (the connection broke during COMMIT, which may have landed): drop them, since an undo (deleting a file
    written in advance) would break a row that did commit; a file no row names is the orphan sweep's."""
    session = db.session
    if not undo:
        session.info.pop("undo_callbacks", None)
    session.rollback()
    session.info.pop("pending_callbacks", None)
    undos = session.info.pop("rolled_back_callbacks", []) + session.info.pop("undo_callbacks", [])
    if undo:
        _run(undos)


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
