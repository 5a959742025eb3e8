"""Status notifications: one outbox message per recipient and channel for each timeline event.

A request records the event and one task (``NOTIFY_TASK``, the application's id, once per transaction);
the task writes the messages after the commit (recipients, channels, de-duplication), so a citizen's
submit or an officer's decision does not wait on them, and a retried or repeated task sends nothing twice
(``notified_at`` and the messages' de-duplication keys)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from core import clock
from core.accounts.models import User
from core.actor import Actor
from core.applications.models import STATUS_PHRASES, Application, ApplicationEvent
from core.applications.programs import program_label
from core.clock import to_local
from core.database import db, enqueue_after_commit
from core.notifications import services as outbox

TEMPLATE = "application_status"
NOTIFY_TASK = "notify.application_events"
HINTS = {
    "submitted": "请耐心等待受理",
    "correction_requested": "请在小程序中补正材料",
    "accepted": "请留意入户调查安排",
    "not_accepted": "详情请查看申请进度",
    "withdrawn": "如需帮助可重新申请",
}


def wechat_thing(text: str, limit: int = 20) -> str:
    """WeChat ``thing`` values are at most 20 characters."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def recipients(app: Application) -> list[User]:
    users = {app.created_by_user_id: db.session.get(User, app.created_by_user_id)} if app.created_by_user_id else {}
    if app.applicant_id_number and app.status != "draft":
        for user in db.session.scalars(select(User).where(User.id_number == app.applicant_id_number)):
            users.setdefault(user.id, user)
    return [u for u in users.values() if u is not None and u.is_active]


def notify_event(
    app: Application, event: ApplicationEvent, *, phrase: str | None = None, hint: str | None = None
) -> None:
    """Queue the event's messages; ``phrase``/``hint`` replace the status wording (notices that change no status)."""
    phrase = phrase or STATUS_PHRASES.get(event.status)
    if phrase is None:
        return
    hint = hint or HINTS.get(event.status, "详情请查看申请进度")
    for user in recipients(app):
        if user.wechat_openid:
            outbox.enqueue(
                "wechat",
                user.wechat_openid,
                TEMPLATE,
                {
                    "page": f"pages/applications/detail?id={app.id}",
                    "data": {
                        "thing1": {"value": wechat_thing(program_label(app.program) + "申请")},
                        "phrase2": {"value": phrase},
                        "thing3": {"value": wechat_thing(hint)},
                        "time4": {"value": f"{to_local(event.at):%Y年%m月%d日 %H:%M}"},
                    },
                },
                dedupe_key=f"app-event:{event.id}:wechat:{user.id}",
            )
        elif user.phone:
            outbox.enqueue(
                "sms",
                user.phone,
                TEMPLATE,
                {"program": program_label(app.program), "status": phrase, "reference": app.reference},
                dedupe_key=f"app-event:{event.id}:sms:{user.id}",
            )


def _add_event(
    app: Application,
    actor: Actor,
    kind: str,
    citizen_text: str,
    reason: str | None,
    detail: dict[str, Any],
    notice: dict[str, str] | None = None,
) -> ApplicationEvent:
    event = ApplicationEvent(
        application_id=app.id,
        kind=kind,
        status=app.status,
        actor_kind=actor.kind,
        actor_id=actor.id,
        citizen_text=citizen_text,
        reason=reason,
        detail=detail or None,
        notice=notice,
        at=clock.utcnow(),
    )
    db.session.add(event)  # written with the request's other rows in its one flush
    _schedule(app)
    return event


def _schedule(app: Application) -> None:
    """One notify task per application and transaction, however many events it records."""
    enqueue_after_commit(NOTIFY_TASK, app.id, queue="notify", once=True)


def notify_pending(application_id: int) -> int:
    """The task's work: queue the messages of the application's events not notified yet, oldest first; mark
    them notified. Returns the number of events handled (0 when another run did them)."""
    app = db.session.get(Application, application_id)
    if app is None:
        return 0
    events = list(
        db.session.scalars(
            select(ApplicationEvent)
            .where(ApplicationEvent.application_id == application_id, ApplicationEvent.notified_at.is_(None))
            .order_by(ApplicationEvent.id)
            .with_for_update()  # two runs of the task for one application: the second waits, then finds none
        )
    )
    now = clock.utcnow()
    for event in events:
        notice = event.notice or {}
        notify_event(app, event, phrase=notice.get("phrase"), hint=notice.get("hint"))
        event.notified_at = now
    return len(events)


def requeue_unnotified(*, older_than_seconds: int, limit: int = 500) -> int:
    """The sweep: queue the notify task again for applications whose events are still not notified
    ``older_than_seconds`` after they were recorded (a task lost after the broker accepted it, a worker that
    did not know the task yet). The task is idempotent, so a slow first run is harmless. Returns how many."""
    cutoff = clock.utcnow() - timedelta(seconds=older_than_seconds)
    ids = db.session.scalars(
        select(ApplicationEvent.application_id)
        .where(ApplicationEvent.notified_at.is_(None), ApplicationEvent.at < cutoff)
        .distinct()
        .limit(limit)
    ).all()
    for application_id in ids:
        enqueue_after_commit(NOTIFY_TASK, application_id, queue="notify", once=True)
    return len(ids)


def record_event(
    app: Application, actor: Actor, kind: str, citizen_text: str, reason: str | None = None, **detail: Any
) -> ApplicationEvent:
    """Add a timeline event (what the citizen reads); its notifications are written by the notify task.
    The event has no id until the next flush."""
    return _add_event(app, actor, kind, citizen_text, reason, detail)


def record_notice(
    app: Application, actor: Actor, kind: str, citizen_text: str, *, phrase: str, hint: str
) -> ApplicationEvent:
    """A timeline event that changes no status, notified with its own phrase and hint (no reason shown)."""
    return _add_event(app, actor, kind, citizen_text, None, {}, notice={"phrase": phrase, "hint": hint})
