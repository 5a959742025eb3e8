"""Status notifications: one outbox message per recipient and channel for each timeline event."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core import clock
from core.accounts.models import User
from core.actor import Actor
from core.applications.models import STATUS_PHRASES, Application, ApplicationEvent
from core.applications.programs import program_label
from core.clock import to_local
from core.database import db
from core.notifications import services as outbox

TEMPLATE = "application_status"
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
    app: Application, actor: Actor, kind: str, citizen_text: str, reason: str | None, detail: dict[str, Any]
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
        at=clock.utcnow(),
    )
    db.session.add(event)
    db.session.flush()
    return event


def record_event(
    app: Application, actor: Actor, kind: str, citizen_text: str, reason: str | None = None, **detail: Any
) -> ApplicationEvent:
    """Add a timeline event (what the citizen reads) and queue its notifications."""
    event = _add_event(app, actor, kind, citizen_text, reason, detail)
    notify_event(app, event)
    return event


def record_notice(
    app: Application, actor: Actor, kind: str, citizen_text: str, *, phrase: str, hint: str
) -> ApplicationEvent:
    """A timeline event that changes no status, notified with its own phrase and hint (no reason shown)."""
    event = _add_event(app, actor, kind, citizen_text, None, {})
    notify_event(app, event, phrase=phrase, hint=hint)
    return event
