"""The township's side: acceptance, correction requests, refusal, member conflicts, what officers see."""

from __future__ import annotations

from decimal import Decimal

from core import clock
from core.actor import Actor
from core.applications import conflicts, rules, workflow
from core.applications.citizen_access import WITH_HOUSEHOLD
from core.applications.drafts import record_event
from core.applications.models import (
    STATUSES,
    Application,
)
from core.applications.submission import close_cases
from core.audit import services as audit
from core.casework import services as casework
from core.casework.models import Case
from core.database import db
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.idnumber import mask
from core.regions.services import names_for


def get_for_officer(actor: Actor, application_id: int) -> tuple[Application, Case]:
    """The application and the officer's own case for it (handling or information copy)."""
    app = db.session.get(Application, application_id, options=WITH_HOUSEHOLD)
    if app is None or app.status == "draft":
        raise NotFound("未找到该申请", code="application_not_found")
    for case_id in (app.case_id, app.info_case_id):
        if case_id is None:
            continue
        try:
            return app, casework.get_case_for_officer(actor, case_id)
        except NotFound:
            continue
    raise NotFound("未找到该申请", code="application_not_found")


def _handling(actor: Actor, application_id: int) -> tuple[Application, Case]:
    app, case = get_for_officer(actor, application_id)
    if case.is_info_copy:
        raise PermissionDenied("户籍地乡镇（街道）仅可查看，由居住地乡镇（街道）办理")
    return app, case


def township_name(app: Application) -> str:
    return names_for({app.residence_township_code}).get(app.residence_township_code, "乡镇（街道）")


def accept(actor: Actor, application_id: int) -> Application:
    app, case = _handling(actor, application_id)
    if app.status not in rules.ACCEPTABLE:
        raise Conflict(f"申请{STATUSES[app.status]}，不能受理", code="invalid_transition")
    rules.move(app, "accepted")
    casework.start_work(case, officer_id=actor.id)
    record_event(app, actor, "accepted", f"{township_name(app)}已受理您的申请")
    audit.record(actor, "application.accept", app, region=case.township_code)
    workflow.start(actor, app, case)
    return app


def request_correction(actor: Actor, application_id: int, reason: str) -> Application:
    app, case = _handling(actor, application_id)
    if app.status != "submitted":
        raise Conflict(f"申请{STATUSES[app.status]}，不能要求补正", code="invalid_transition")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(errors={"reason": ["请填写需要补正的内容"]})
    rules.move(app, "correction_requested")
    casework.pause_clock(case)  # not overdue while waiting for the citizen

    record_event(app, actor, "correction_requested", f"{township_name(app)}请您补正材料：{reason}", reason=reason)
    audit.record(actor, "application.request_correction", app, region=case.township_code)
    return app


def reject_at_acceptance(actor: Actor, application_id: int, reason: str) -> Application:
    app, case = _handling(actor, application_id)
    if app.status not in rules.REFUSABLE:
        raise Conflict(f"申请{STATUSES[app.status]}，不能作不予受理决定", code="invalid_transition")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(errors={"reason": ["请填写不予受理的理由"]})
    rules.move(app, "not_accepted")
    app.closed_at = clock.utcnow()
    close_cases(app)
    record_event(
        app,
        actor,
        "not_accepted",
        f"{township_name(app)}决定不予受理：{reason}。如有异议，可向县级民政部门反映",
        reason=reason,
    )
    audit.record(actor, "application.not_accept", app, region=case.township_code)
    return app


def conflicts_for_officer(actor: Actor, app: Application, case: Case) -> list[conflicts.ConflictView]:
    """The member conflicts of an application as this officer may see them (their side only)."""
    return conflicts.views_for(actor, app, handling=not case.is_info_copy)


def resolve_conflict(actor: Actor, application_id: int, conflict_id: int, choice: str, reason: str) -> Application:
    """Decide which household a member named in two applications belongs to (audited, reason required)."""
    app, case = _handling(actor, application_id)
    conflicts.resolve(actor, app, case, conflict_id, choice, reason)
    return app


def reveal_id_numbers(actor: Actor, app: Application) -> None:
    """Officers see masked ID numbers; showing them in full is an audited action."""
    audit.record(
        actor, "application.reveal_id_numbers", app, region=app.residence_township_code, members=len(app.members)
    )


def masked_members(app: Application) -> list[dict]:
    return [
        {
            "name": m.name,
            "id_number": mask(m.id_number),
            "relation": m.relation,
            "health": m.health,
            "disability_grade": m.disability_grade,
            "employment": m.employment,
        }
        for m in app.members
    ]


def monthly_income_total(app: Application) -> Decimal:
    return sum((Decimal(i.monthly_amount or 0) for i in app.incomes), Decimal(0))
