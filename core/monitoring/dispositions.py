"""Monitoring warnings become work: the township's disposition after the offline check (线下核查).

- ``apply``   核实属实 → a proxy application for the person (the flow reports use:
  core.applications.services.start_for_person), linked to the warning;
- ``adjust``  核实属实, already a recipient → the county adjusts the enrollment (the warning names it);
- ``covered`` 已在保障; ``not_eligible`` 不符合 (reason); ``referral`` 转介 医保 / 教育 / 残联 / 人社 (note).

Each closes the warning and its case through core.warnings and leaves one MonitoringDisposition row (what
the dashboard counts: on time, conversions, confirmed share per rule). ``related`` lists the open reports
and applications about the same person ("also reported by a grid worker on …").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from core import clock
from core.accounts.roles import REPORTER_ROLES
from core.actor import Actor
from core.applications.models import OPEN_STATUSES as APPLICATION_OPEN
from core.applications.models import Application
from core.applications.programs import PROGRAMS
from core.audit import services as audit
from core.casework.models import Case
from core.database import db
from core.errors import Conflict, ValidationFailed
from core.monitoring.models import DISPOSITIONS, REFERRAL_TARGETS, MonitoringDisposition
from core.reports.models import Report
from core.warnings import services as warnings
from core.warnings.models import RiskWarning

APPLY_PROGRAMS = ("dibao", "tekun", "linshi", "yiliao")


@dataclass(frozen=True)
class Related:
    kind: str  # report | application
    id: int
    reference: str
    text: str
    at: datetime | None


def related(warning: RiskWarning) -> list[Related]:
    """Open reports and applications about the warning's person."""
    out: list[Related] = []
    bidx = warning.id_number_bidx
    for report in db.session.scalars(
        select(Report).where(Report.person_id_number_bidx == bidx, Report.status != "closed").order_by(Report.id)
    ):
        who = REPORTER_ROLES.get(report.reporter_role, "群众")
        day = clock.to_local(report.created_at).strftime("%Y-%m-%d")
        out.append(
            Related(
                "report", report.id, report.reference, f"{who}已于{day}报告（{report.reference}）", report.created_at
            )
        )
    for app in db.session.scalars(
        select(Application)
        .where(Application.applicant_id_number_bidx == bidx, Application.status.in_(APPLICATION_OPEN))
        .order_by(Application.id)
    ):
        day = clock.to_local(app.submitted_at or app.created_at).strftime("%Y-%m-%d")
        label = PROGRAMS.get(app.program, {}).get("short", app.program)
        out.append(
            Related(
                "application",
                app.id,
                app.reference,
                f"已有{label}申请在办（{day}提交，{app.reference}）",
                app.submitted_at,
            )
        )
    return out


def dispose(
    actor: Actor,
    warning_id: int,
    *,
    kind: str,
    note: str,
    program: str | None = None,
    referral_to: str | None = None,
) -> MonitoringDisposition:
    """Record the disposition of an open monitoring warning (see the module docstring)."""
    warning = warnings.get_warning(actor, warning_id, lock=True)
    if warning.source != "monitoring":
        raise Conflict("该预警不是动态监测预警", code="not_monitoring")
    errors: dict[str, list[str]] = {}
    note = (note or "").strip()
    if kind not in DISPOSITIONS:
        errors["kind"] = ["请选择核查处置结果"]
    if not 2 <= len(note) <= 500:
        errors["note"] = [
            "请填写核查情况（2-500字）" if kind != "not_eligible" else "请填写不符合条件的原因（2-500字）"
        ]
    if kind == "apply" and program not in APPLY_PROGRAMS:
        errors["program"] = ["请选择代为申请的救助项目"]
    if kind == "referral" and referral_to not in REFERRAL_TARGETS:
        errors["referral_to"] = ["请选择转介部门"]
    if kind == "adjust" and warning.enrollment_id is None:
        errors["kind"] = ["该对象不在保，不能调整待遇，请选择代为申请"]
    if errors:
        raise ValidationFailed(errors=errors)
    if warning.status != "open":
        raise Conflict("该预警已处置", code="warning_not_open")
    application_id = None
    if kind == "apply":
        application_id = _start_application(actor, warning, program or "dibao", note)
    case = db.session.get(Case, warning.case_id) if warning.case_id else None
    today = clock.local_today()
    on_time = None if case is None or case.due_date is None else today <= case.due_date
    values = dict(warning.values or {})
    values["monitoring_disposition"] = kind
    if referral_to:
        values["referral_to"] = referral_to
    if application_id:
        values["application_id"] = application_id
    warning.values = values
    warning.disposition = "dismissed" if kind == "not_eligible" else "confirmed"
    warning.disposition_note = f"{DISPOSITIONS[kind]}：{note}"[:500]
    warning.disposed_by_officer_id = actor.id
    warning.disposed_at = clock.utcnow()
    warnings.close(warning, "dismissed" if kind == "not_eligible" else "closed")
    row = MonitoringDisposition(
        warning_id=warning.id,
        kind=kind,
        rule_code=(warning.values or {}).get("rule"),
        scenario=warning.reason,
        referral_to=referral_to if kind == "referral" else None,
        note=note,
        application_id=application_id,
        township_code=warning.township_code,
        county_code=warning.county_code,
        on_time=on_time,
        officer_id=actor.id,
    )
    db.session.add(row)
    db.session.flush()
    audit.record(
        actor,
        f"monitoring.dispose.{kind}",
        warning,
        region=warning.township_code,
        note=note,
        application_id=application_id,
        referral_to=referral_to,
    )
    return row


def _start_application(actor: Actor, warning: RiskWarning, program: str, note: str) -> int:
    from core.applications import services as applications

    if not warning.name:
        raise ValidationFailed(errors={"kind": ["预警对象缺少姓名，无法代为申请"]})
    village = None
    if warning.person_id:
        from core.registry.models import Person

        person = db.session.get(Person, warning.person_id)
        village = person.residence_village_code if person is not None else None
    app = applications.start_for_person(
        actor,
        program=program,
        name=warning.name,
        id_number=warning.id_number,
        phone=None,
        township_code=warning.township_code,
        village_code=village,
        address=None,
        reason=f"动态监测预警（{warning.reason_label}）：{warning.summary}"[:1000],
    )
    app.proxy_reason_note = "乡镇（街道）根据动态监测预警核实后代为申请"
    return app.id
