"""Report events: the officer's record, and what the reporter may read (with a notification)."""

from __future__ import annotations

from core import clock
from core.accounts.models import User
from core.database import db
from core.notifications import services as outbox
from core.regions.services import names_for
from core.reports.models import Report, ReportEvent
from core.reports.vocabulary import (
    CATEGORIES,
    STATUSES,
)


def record_event(
    report: Report,
    kind: str,
    *,
    officer_id: int | None = None,
    note: str | None = None,
    reporter_text: str | None = None,
) -> ReportEvent:
    event = ReportEvent(
        report_id=report.id,
        kind=kind,
        status=report.status,
        officer_id=officer_id,
        note=note,
        reporter_text=reporter_text,
        at=clock.utcnow(),
    )
    db.session.add(event)
    db.session.flush()
    if reporter_text:
        _feedback(report, event)
    return event


def _feedback(report: Report, event: ReportEvent) -> None:
    reporter = db.session.get(User, report.reporter_user_id)
    if reporter is None:
        return
    if reporter.wechat_openid:
        outbox.enqueue(
            "wechat",
            reporter.wechat_openid,
            "report_status",
            {
                "page": f"pages/reports/detail?id={report.id}",
                "data": {
                    "thing1": {"value": CATEGORIES[report.category][:20]},
                    "phrase2": {"value": STATUSES[report.status][:5]},
                    "thing3": {"value": (event.reporter_text or "")[:20]},
                },
            },
            dedupe_key=f"report-event:{event.id}:wechat",
        )
    elif reporter.phone:
        outbox.enqueue(
            "sms",
            reporter.phone,
            "report_status",
            {"text": event.reporter_text},
            dedupe_key=f"report-event:{event.id}:sms",
        )


def township_name(report: Report) -> str:
    return names_for({report.township_code}).get(report.township_code, "乡镇（街道）")
