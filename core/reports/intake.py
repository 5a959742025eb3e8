"""Taking a report in: the reporter's role and region, daily caps, validation, duplicates, routing, photos."""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import func, or_, select

from core import clock
from core.actor import Actor
from core.audit import services as audit
from core.casework import services as casework
from core.database import db
from core.errors import NotFound, RateLimited, ValidationFailed
from core.files import storage
from core.idnumber import validate_id_number
from core.regions.models import Region
from core.regions.services import names_for
from core.reports.feedback import record_event, township_name
from core.reports.models import Report, ReportPhoto
from core.reports.settings import contact_days
from core.reports.vocabulary import (
    AGE_GROUPS,
    CATEGORIES,
    COORDINATE_SYSTEMS,
    DEFAULT_DAILY_CAPS,
    REPORTER_ROLES,
    ROLE_PRIORITY,
    URGENCY,
)

MAX_PHOTOS = 9


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


# Called for every report filed, and again when an officer completes the person's identity, in the same
# transaction (the registry links the named person).
_filed_listeners: dict[str, Callable[[Report], object]] = {}


def on_filed(name: str, listener: Callable[[Report], object]) -> None:
    _filed_listeners[name] = listener


def person_named(report: Report) -> None:
    """Tell the listeners that a report now names its person (after filing or ``set_person``)."""
    for listener in _filed_listeners.values():
        listener(report)


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
    township = township_name(report)
    if duplicate_of is not None:
        report.duplicate_of_id = duplicate_of.id
        record_event(
            report,
            "linked_duplicate",
            note=f"与报告 {duplicate_of.reference} 为同一人",
            reporter_text=f"该困难情况已有人报告，{township}正在处理，感谢您的关心",
        )
        audit.record(actor, "report.create", report, region=report.township_code, duplicate_of=duplicate_of.id)
        person_named(report)
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
    record_event(report, "created", reporter_text=f"您报告的困难情况已由{township}受理")
    audit.record(actor, "report.create", report, region=report.township_code, role=role)
    person_named(report)
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
