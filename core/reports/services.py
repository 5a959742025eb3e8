"""Reports of people in difficulty: one tap in, routed to the township, answered, fed back."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, or_, select

from core import access, clock
from core.accounts.models import User
from core.actor import Actor
from core.audit import services as audit
from core.casework import services as casework
from core.casework.models import Case
from core.database import db
from core.errors import Conflict, NotFound, RateLimited, ValidationFailed
from core.files import storage
from core.idnumber import validate_id_number
from core.notifications import services as outbox
from core.regions.models import Region
from core.regions.services import names_for
from core.reports.models import Report, ReportEvent, ReportPhoto, ReportSetting
from core.reports.rules import STEP_TRANSITIONS
from core.reports.vocabulary import (
    AGE_GROUPS,
    CATEGORIES,
    COORDINATE_SYSTEMS,
    DEFAULT_DAILY_CAPS,
    OUTCOMES,
    REPORTER_ROLES,
    ROLE_PRIORITY,
    STATUSES,
    URGENCY,
)

MAX_PHOTOS = 9
ESCALATE_TASK = "reports.escalate_overdue"


@dataclass(frozen=True)
class Page:
    items: list[Report]
    total: int


# --- settings ----------------------------------------------------------------------------------


def contact_days(county_code: str, urgency: str) -> int:
    row = db.session.get(ReportSetting, county_code)
    if urgency == "urgent":
        return row.urgent_days if row else 1
    return row.normal_days if row else 3


def set_contact_days(actor: Actor, county_code: str, urgent_days: int, normal_days: int) -> ReportSetting:
    region = db.session.get(Region, county_code)
    errors: dict[str, list[str]] = {}
    if region is None or region.level != "county":
        errors["county_code"] = [f"{county_code} 不是县级行政区划代码"]
    if not 1 <= urgent_days <= 10:
        errors["urgent_days"] = ["紧急报告的首次联系时限应为1到10个工作日"]
    if not 1 <= normal_days <= 15:
        errors["normal_days"] = ["一般报告的首次联系时限应为1到15个工作日"]
    if errors:
        raise ValidationFailed(errors=errors)
    row = db.session.get(ReportSetting, county_code) or ReportSetting(county_code=county_code)
    row.urgent_days, row.normal_days = urgent_days, normal_days
    db.session.add(row)
    audit.record(
        actor,
        "report_setting.set",
        ("report_settings", county_code),
        region=county_code,
        urgent_days=urgent_days,
        normal_days=normal_days,
    )
    return row


# --- reporting -----------------------------------------------------------------------------------


def _role_covers(actor: Actor, role: str, township_code: str, village_code: str | None) -> bool:
    """A reporter role counts only inside the region it was granted for (that region and below)."""
    region = actor.role_regions.get(role)
    if not region:
        return False
    return township_code.startswith(region) or bool(village_code and village_code.startswith(region))


def _reporting_role(actor: Actor, requested: str | None, township_code: str, village_code: str | None) -> str:
    """The role a report is filed under. A role claimed with ``as_role`` outside its granted region is
    refused; without ``as_role``, the highest role granted for that place is used, and outside every
    granted region the report is filed as a plain resident's (resident cap and priority)."""
    held = [r for r in actor.roles if r in ROLE_PRIORITY and r != "resident"]
    if requested and requested != "resident":
        if requested not in held:
            raise ValidationFailed(errors={"as_role": ["您没有该报告人身份"]})
        if not _role_covers(actor, requested, township_code, village_code):
            region = actor.role_regions.get(requested) or ""
            place = names_for({region}).get(region, "授权区域")
            raise ValidationFailed(
                errors={
                    "township_code": [
                        f"您的{REPORTER_ROLES[requested]}身份仅限在{place}范围内报告；其他地方请以居民身份报告"
                    ]
                },
                code="reporter_outside_region",
            )
        return requested
    in_region = [r for r in held if _role_covers(actor, r, township_code, village_code)]
    if requested == "resident" or not in_region:
        return "resident"
    return max(in_region, key=lambda r: ROLE_PRIORITY[r])


def _check_daily_cap(actor: Actor, role: str, caps: dict[str, int]) -> None:
    now = clock.utcnow()
    window = (Report.reporter_user_id == actor.id, Report.created_at >= now - timedelta(days=1))
    count = db.session.scalar(select(func.count()).select_from(Report).where(*window)) or 0
    cap = caps.get(role, DEFAULT_DAILY_CAPS[role])
    if count >= cap:
        # a rolling 24 h window: the wait is until enough of the counted reports age out of it
        frees_up = db.session.scalar(
            select(Report.created_at).where(*window).order_by(Report.created_at).offset(count - cap).limit(1)
        )
        wait = max(int((frees_up + timedelta(days=1) - now).total_seconds()) + 1, 1) if frees_up else 3600
        raise RateLimited(
            f"今日报告次数已达上限（{cap}次），请{clock.wait_text(wait)}后再试；"
            "如情况紧急请直接联系乡镇（街道）或拨打求助电话",
            retry_after=wait,
            code="report_daily_cap",
        )


def _validate(data: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if data.get("category") not in CATEGORIES:
        errors["category"] = ["请选择困难类别"]
    township = db.session.get(Region, data.get("township_code") or "")
    if township is None:
        errors["township_code"] = [f"行政区划代码 {data.get('township_code')} 不存在"]
    elif township.level != "township":
        errors["township_code"] = [f"{township.name}不是乡镇（街道），请重新选择"]
    village_code = data.get("village_code")
    if village_code:
        village = db.session.get(Region, village_code)
        if village is None or village.level != "village":
            errors["village_code"] = [f"行政区划代码 {village_code} 不是村（社区）"]
        elif village.parent_code != data.get("township_code"):
            errors["village_code"] = ["所选村（社区）不属于所选乡镇（街道）"]
    lat, lng = data.get("latitude"), data.get("longitude")
    if (lat is None) != (lng is None):
        errors["latitude" if lat is None else "longitude"] = ["经纬度需同时提供"]
    if lat is not None:
        if not isinstance(lat, (int, float)) or not math.isfinite(lat) or not -90 <= lat <= 90:
            errors["latitude"] = ["纬度应在-90到90之间"]
        if not isinstance(lng, (int, float)) or not math.isfinite(lng) or not -180 <= lng <= 180:
            errors["longitude"] = ["经度应在-180到180之间"]
        if data.get("coordinate_system") not in COORDINATE_SYSTEMS:
            errors["coordinate_system"] = ["请说明坐标系：wgs84 或 gcj02"]
    if data.get("person_id_number"):
        _, id_errors = validate_id_number(data["person_id_number"])
        if id_errors:
            errors["person_id_number"] = id_errors
    if data.get("urgency", "normal") not in URGENCY:
        errors["urgency"] = ["紧急程度应为 urgent 或 normal"]
    if data.get("age_group") and data["age_group"] not in AGE_GROUPS:
        errors["age_group"] = ["年龄段不正确"]
    return errors


def find_open_duplicate(
    township_code: str,
    village_code: str | None,
    person_id_number: str | None,
    person_name: str | None,
    *,
    exclude_id: int | None = None,
) -> Report | None:
    """An earlier open report about the same person: same ID number, or same name in the same village."""
    conditions = []
    if person_id_number:
        conditions.append(Report.person_id_number == person_id_number)
    if person_name and village_code:
        conditions.append((Report.person_name == person_name) & (Report.village_code == village_code))
    if not conditions:
        return None
    stmt = select(Report).where(or_(*conditions), Report.status != "closed", Report.duplicate_of_id.is_(None))
    if exclude_id:
        stmt = stmt.where(Report.id != exclude_id)
    return db.session.scalar(stmt.order_by(Report.id).limit(1))


def _event(
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


def _township_name(report: Report) -> str:
    return names_for({report.township_code}).get(report.township_code, "乡镇（街道）")


def create_report(actor: Actor, data: dict[str, Any], *, caps: dict[str, int]) -> tuple[Report, bool]:
    """File a report. Returns ``(report, is_duplicate)``."""
    role = _reporting_role(actor, data.get("as_role"), data.get("township_code") or "", data.get("village_code"))
    errors = _validate(data)
    if errors:
        raise ValidationFailed(errors=errors)
    _check_daily_cap(actor, role, caps)
    number = validate_id_number(data["person_id_number"])[0] if data.get("person_id_number") else None
    name = (data.get("person_name") or "").strip() or None
    report = Report(
        reference=f"BG{clock.local_today():%Y%m%d}{secrets.token_hex(4).upper()}",
        reporter_user_id=actor.id,
        reporter_role=role,
        priority=ROLE_PRIORITY[role],
        category=data["category"],
        urgency=data.get("urgency") or "normal",
        township_code=data["township_code"],
        village_code=data.get("village_code"),
        latitude=data.get("latitude"),
        longitude=data.get("longitude"),
        coordinate_system=data.get("coordinate_system") if data.get("latitude") is not None else None,
        address=data.get("address"),
        person_name=name,
        person_id_number=number,
        person_phone=data.get("person_phone"),
        age_group=data.get("age_group"),
        description=data.get("description"),
        status="new",
    )
    duplicate_of = find_open_duplicate(report.township_code, report.village_code, number, name)
    db.session.add(report)
    db.session.flush()
    township = _township_name(report)
    if duplicate_of is not None:
        report.duplicate_of_id = duplicate_of.id
        _event(
            report,
            "linked_duplicate",
            note=f"与报告 {duplicate_of.reference} 为同一人",
            reporter_text=f"该困难情况已有人报告，{township}正在处理，感谢您的关心",
        )
        audit.record(actor, "report.create", report, region=report.township_code, duplicate_of=duplicate_of.id)
        return report, True
    days = contact_days(report.township_code[:6], report.urgency)
    case = casework.open_case(
        actor,
        kind="report",
        township_code=report.township_code,
        title=f"{CATEGORIES[report.category]}（{'紧急' if report.urgency == 'urgent' else '一般'}）",
        due_in_working_days=days,
        opened_by_user_id=actor.id,
        subject_type="report",
        subject_id=report.id,
    )
    casework.prioritise(case, report.priority + (10 if report.urgency == "urgent" else 0))
    report.case_id = case.id
    report.first_contact_due = case.due_date
    _event(report, "created", reporter_text=f"您报告的困难情况已由{township}受理")
    audit.record(actor, "report.create", report, region=report.township_code, role=role)
    return report, False


def add_photo(actor: Actor, report: Report, data: bytes, filename: str | None, *, max_bytes: int) -> ReportPhoto:
    count = db.session.scalar(select(func.count()).select_from(ReportPhoto).where(ReportPhoto.report_id == report.id))
    if count >= MAX_PHOTOS:
        raise ValidationFailed(errors={"file": [f"每份报告最多上传{MAX_PHOTOS}张照片"]})
    stored = storage.store_upload(
        data, filename, allowed=(storage.JPEG, storage.PNG), max_bytes=max_bytes, area="reports"
    )
    photo = ReportPhoto(
        report_id=report.id,
        storage_key=stored.storage_key,
        content_type=stored.content_type,
        size=stored.size,
        sha256=stored.sha256,
    )
    db.session.add(photo)
    db.session.flush()
    return photo


def photos_of(report: Report) -> list[ReportPhoto]:
    return list(
        db.session.scalars(select(ReportPhoto).where(ReportPhoto.report_id == report.id).order_by(ReportPhoto.id))
    )


def get_photo(report: Report, photo_id: int) -> ReportPhoto:
    photo = db.session.scalar(select(ReportPhoto).where(ReportPhoto.id == photo_id, ReportPhoto.report_id == report.id))
    if photo is None:
        raise NotFound("未找到该照片")
    return photo


def get_for_reporter(actor: Actor, report_id: int) -> Report:
    report = db.session.scalar(select(Report).where(Report.id == report_id, Report.reporter_user_id == actor.id))
    if report is None:
        raise NotFound("未找到该报告", code="report_not_found")
    return report


def list_for_reporter(actor: Actor, *, page: int, page_size: int) -> Page:
    stmt = select(Report).where(Report.reporter_user_id == actor.id)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.session.scalars(stmt.order_by(Report.id.desc()).offset((page - 1) * page_size).limit(page_size)).all()
    return Page(list(rows), total)


def reporter_events(report: Report) -> list[ReportEvent]:
    """Only the events written for the reporter."""
    return list(
        db.session.scalars(
            select(ReportEvent)
            .where(ReportEvent.report_id == report.id, ReportEvent.reporter_text.is_not(None))
            .order_by(ReportEvent.id)
        )
    )


# --- the township's response ---------------------------------------------------------------------


def _scope_clause(actor: Actor) -> Any:
    return access.under(actor, Report.township_code)


def get_for_officer(actor: Actor, report_id: int) -> Report:
    report = db.session.scalar(select(Report).where(Report.id == report_id, _scope_clause(actor)))
    if report is None:
        raise NotFound("未找到该报告", code="report_not_found")
    return report


def officer_queue(
    actor: Actor,
    *,
    page: int,
    page_size: int,
    category: str | None = None,
    urgency: str | None = None,
    reporter_role: str | None = None,
    overdue: bool = False,
    include_closed: bool = False,
    township_code: str | None = None,
) -> Page:
    stmt = select(Report).where(_scope_clause(actor))
    if not include_closed:
        stmt = stmt.where(Report.status != "closed")
    if category:
        stmt = stmt.where(Report.category == category)
    if urgency:
        stmt = stmt.where(Report.urgency == urgency)
    if reporter_role:
        stmt = stmt.where(Report.reporter_role == reporter_role)
    if township_code:
        stmt = stmt.where(Report.township_code == township_code)
    if overdue:
        stmt = stmt.where(Report.status == "new", Report.first_contact_due < clock.local_today())
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.session.scalars(
        stmt.order_by(
            Report.status == "closed",
            Report.first_contact_due.is_(None),
            Report.first_contact_due,
            Report.priority.desc(),
            Report.id.desc(),
        )
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return Page(list(rows), total)


def is_overdue(report: Report) -> bool:
    return (
        report.status == "new"
        and report.first_contact_due is not None
        and report.first_contact_due < clock.local_today()
    )


TRANSITIONS = STEP_TRANSITIONS


def record_step(actor: Actor, report_id: int, step: str, note: str | None = None) -> Report:
    report = get_for_officer(actor, report_id)
    if report.duplicate_of_id:
        raise Conflict("该报告已并入另一份报告，请在原报告中处理", code="is_duplicate")
    if step not in TRANSITIONS:
        raise ValidationFailed(errors={"step": ["步骤不正确"]})
    if report.status not in TRANSITIONS[step]:
        raise Conflict(f"报告{STATUSES[report.status]}，不能标记为{STATUSES[step]}", code="invalid_transition")
    now = clock.utcnow()
    report.status = step
    if step == "contacted":
        report.contacted_at = now
        text = None  # the reporter hears of the visit and the outcome
    else:
        report.visited_at = now
        report.contacted_at = report.contacted_at or now
        text = f"{_township_name(report)}已上门走访"
    case = db.session.get(Case, report.case_id) if report.case_id else None
    if case is not None:
        casework.first_contact_made(case, officer_id=actor.id)
    _event(report, step, officer_id=actor.id, note=note, reporter_text=text)
    audit.record(actor, f"report.{step}", report, region=report.township_code)
    return report


def close(
    actor: Actor, report_id: int, outcome: str, note: str | None = None, application_id: int | None = None
) -> Report:
    report = get_for_officer(actor, report_id)
    if report.status == "closed":
        raise Conflict("报告已办结", code="invalid_transition")
    if outcome not in OUTCOMES:
        raise ValidationFailed(errors={"outcome": ["请选择处理结果"]})
    if outcome == "not_eligible" and not (note or "").strip():
        raise ValidationFailed(errors={"note": ["请填写不符合条件的原因"]})
    report.status, report.outcome, report.outcome_note = "closed", outcome, (note or None)
    report.closed_at = clock.utcnow()
    report.application_id = application_id
    if report.case_id:
        casework.close(db.session.get(Case, report.case_id))
    _event(report, "closed", officer_id=actor.id, note=note, reporter_text=f"已办结：{OUTCOMES[outcome]}")
    for duplicate in db.session.scalars(
        select(Report).where(Report.duplicate_of_id == report.id, Report.status != "closed")
    ):
        duplicate.status, duplicate.outcome, duplicate.closed_at = "closed", outcome, report.closed_at
        _event(duplicate, "closed", officer_id=actor.id, reporter_text=f"已办结：{OUTCOMES[outcome]}")
    audit.record(actor, "report.close", report, region=report.township_code, outcome=outcome)
    return report


def refer_to_application(actor: Actor, report_id: int, program: str, *, default_accept_days: int) -> Report:
    """Start a proxy application for the reported person (the officer acts for them), then close."""
    from core.applications import services as applications

    report = get_for_officer(actor, report_id)
    if report.status == "closed":
        raise Conflict("报告已办结", code="invalid_transition")
    if not report.person_name or not report.person_id_number:
        raise ValidationFailed(
            "转入救助申请需要当事人的姓名和身份证号码，请先核实后补充",
            errors={"person_id_number": ["请先补充当事人的身份证号码"]},
        )
    app = applications.start_for_person(
        actor,
        program=program,
        name=report.person_name,
        id_number=report.person_id_number,
        phone=report.person_phone,
        township_code=report.township_code,
        village_code=report.village_code,
        address=report.address,
        reason=f"主动发现（报告 {report.reference}）：{CATEGORIES[report.category]}",
        default_accept_days=default_accept_days,
    )
    return close(
        actor, report_id, "referred_to_application", note=f"已转入救助申请 {app.reference}", application_id=app.id
    )


def set_person(actor: Actor, report_id: int, name: str | None, id_number: str | None) -> Report:
    """Officers complete the person's identity after contact (needed before referral)."""
    report = get_for_officer(actor, report_id)
    errors = {}
    if id_number:
        normalized, messages = validate_id_number(id_number)
        if messages:
            errors["person_id_number"] = messages
    if errors:
        raise ValidationFailed(errors=errors)
    before = {"person_name": report.person_name, "person_id_number_set": bool(report.person_id_number)}
    if name:
        report.person_name = name.strip()
    if id_number:
        report.person_id_number = normalized
    audit.record(
        actor,
        "report.set_person",
        report,
        region=report.township_code,
        changes=audit.diff(
            before, {"person_name": report.person_name, "person_id_number_set": bool(report.person_id_number)}
        ),
    )
    return report


def mark_duplicate(actor: Actor, report_id: int, of_reference: str) -> Report:
    report = get_for_officer(actor, report_id)
    original = db.session.scalar(select(Report).where(Report.reference == of_reference.strip(), _scope_clause(actor)))
    if original is None or original.id == report.id:
        raise ValidationFailed(errors={"of_reference": ["未找到该报告编号"]})
    if original.duplicate_of_id:
        original = db.session.get(Report, original.duplicate_of_id)
    report.duplicate_of_id = original.id
    if report.case_id:
        casework.close(db.session.get(Case, report.case_id))
    _event(report, "marked_duplicate", officer_id=actor.id, note=f"与报告 {original.reference} 为同一人")
    audit.record(actor, "report.mark_duplicate", report, region=report.township_code, of=original.id)
    return report


def unmark_duplicate(actor: Actor, report_id: int) -> Report:
    report = get_for_officer(actor, report_id)
    if not report.duplicate_of_id:
        raise Conflict("该报告不是重复报告", code="not_duplicate")
    report.duplicate_of_id = None
    if report.case_id:
        casework.reopen(
            db.session.get(Case, report.case_id),
            stage="report",
            next_due=None if report.contacted_at else report.first_contact_due,
        )
    else:
        days = contact_days(report.township_code[:6], report.urgency)
        case = casework.open_case(
            actor,
            kind="report",
            township_code=report.township_code,
            title=CATEGORIES[report.category],
            due_in_working_days=days,
            subject_type="report",
            subject_id=report.id,
        )
        report.case_id, report.first_contact_due = case.id, case.due_date
    _event(report, "unmarked_duplicate", officer_id=actor.id)
    audit.record(actor, "report.unmark_duplicate", report, region=report.township_code)
    return report


def duplicates_of(report: Report) -> list[Report]:
    return list(db.session.scalars(select(Report).where(Report.duplicate_of_id == report.id).order_by(Report.id)))


def officer_events(report: Report) -> list[ReportEvent]:
    return list(
        db.session.scalars(select(ReportEvent).where(ReportEvent.report_id == report.id).order_by(ReportEvent.id))
    )


def escalate_overdue(actor: Actor) -> int:
    """Overdue first contact goes to the county queue. Idempotent: each report escalates once."""
    today = clock.local_today()
    rows = db.session.scalars(
        select(Report).where(
            Report.status == "new",
            Report.duplicate_of_id.is_(None),
            Report.escalated_at.is_(None),
            Report.first_contact_due < today,
        )
    ).all()
    now = clock.utcnow()
    for report in rows:
        report.escalated_at = now
        if report.case_id:
            casework.escalate(db.session.get(Case, report.case_id), now)
        _event(report, "escalated", note=f"首次联系已超过时限（{report.first_contact_due}），已上报县级民政部门")
        audit.record(actor, "report.escalate", report, region=report.township_code)
    return len(rows)


def county_overdue(actor: Actor) -> list[Report]:
    return list(
        db.session.scalars(
            select(Report)
            .where(_scope_clause(actor), Report.escalated_at.is_not(None), Report.status == "new")
            .order_by(Report.first_contact_due)
        )
    )
