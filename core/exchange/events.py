"""Death and cremation events pushed by departments, checked against the registry on arrival.

An event is stored once per client and event id (a retried push changes nothing). A new event about a
person in an active or suspended enrollment raises a red warning (reason ``deceased``) in that
enrollment's township at once — the Taiyuan practice of stopping payment when a recipient dies — and a
later cremation record of the same person adds its evidence to the same open warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from core import clock, idnumber, pii
from core.actor import Actor
from core.applications.programs import PROGRAMS
from core.audit import services as audit
from core.database import db
from core.errors import ValidationFailed
from core.exchange.clients import Caller, require_category
from core.exchange.models import EVENT_TYPES, DepartmentEvent
from core.registry.models import Enrollment, EnrollmentMember, Person
from core.warnings import services as warnings
from core.warnings.models import RiskWarning

MAX_EVENTS = 1000
EVENT_CATEGORY = {"death": "deaths", "cremation": "cremations"}  # the catalogue category a client needs
REASON = "deceased"
REASON_LABEL = "在保对象死亡"


@dataclass(frozen=True)
class EventResult:
    event_id: str
    status: str  # "received" (new) or "duplicate" (already received: nothing done again)
    matched_enrollments: int


def _text(value: Any, limit: int) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text[:limit] or None


def _validate(index: int, raw: Any, errors: dict[str, list[str]]) -> dict[str, Any] | None:
    prefix = f"events.{index}"
    if not isinstance(raw, dict):
        errors[prefix] = ["每条事件应为一个对象"]
        return None
    event_id = _text(raw.get("event_id"), 200)
    if not event_id or len(event_id) > 64:
        errors[f"{prefix}.event_id"] = ["请填写部门的事件编号（1-64位）"]
    event_type = raw.get("type")
    if event_type not in EVENT_TYPES:
        errors[f"{prefix}.type"] = ["事件类型须为 death（死亡）或 cremation（火化）"]
    number, problems = idnumber.validate_id_number(str(raw.get("id_number") or ""))
    if problems:
        errors[f"{prefix}.id_number"] = problems
    day = None
    try:
        day = date.fromisoformat(str(raw.get("date") or ""))
        if day > clock.local_today():
            errors[f"{prefix}.date"] = ["事件日期不能晚于今天"]
    except ValueError:
        errors[f"{prefix}.date"] = ["日期格式应为 YYYY-MM-DD"]
    name = _text(raw.get("name"), 51)
    if name and len(name) > 50:
        errors[f"{prefix}.name"] = ["姓名不能超过50字"]
    return {
        "event_id": event_id,
        "event_type": event_type,
        "id_number": number,
        "event_date": day,
        "name": name,
        "place": _text(raw.get("place"), 200),
    }


def receive(caller: Caller, items: Sequence[Any]) -> list[EventResult]:
    """Store a department's events and raise warnings for the recipients among them. All or nothing:
    one bad event answers 422 with the field (``events.<i>.<field>``) and stores none."""
    if not isinstance(items, list) or not items:
        raise ValidationFailed(errors={"events": ["请提供至少一条事件"]})
    if len(items) > MAX_EVENTS:
        raise ValidationFailed(errors={"events": [f"每次最多推送{MAX_EVENTS}条事件"]})
    errors: dict[str, list[str]] = {}
    events = [_validate(i, raw, errors) for i, raw in enumerate(items)]
    if errors:
        raise ValidationFailed(errors=errors)
    for category in sorted({EVENT_CATEGORY[e["event_type"]] for e in events if e}):
        require_category(caller, category)
    seen: set[str] = set()
    for i, event in enumerate(events):
        if event["event_id"] in seen:
            errors[f"events.{i}.event_id"] = ["同一次推送中事件编号重复"]
        seen.add(event["event_id"])
    if errors:
        raise ValidationFailed(errors=errors)

    client, department = caller.client, caller.department
    now = clock.utcnow()
    rows = [
        {
            "client_id": client.id,
            "department_id": department.id,
            "event_id": e["event_id"],
            "event_type": e["event_type"],
            "id_number_enc": pii.encrypt_id(e["id_number"]),
            "id_number_bidx": pii.blind_index(e["id_number"]),
            "id_number_l4": pii.last4_index(e["id_number"]),
            "name": e["name"],
            "event_date": e["event_date"],
            "place": e["place"],
            "status": "received",
            "matched_enrollments": 0,
            "received_at": now,
        }
        for e in events
    ]
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(DepartmentEvent).on_conflict_do_nothing(index_elements=["client_id", "event_id"])
    inserted = set(db.session.scalars(insert.returning(DepartmentEvent.id), rows))  # a retried event: no row
    fresh = (
        list(db.session.scalars(select(DepartmentEvent).where(DepartmentEvent.id.in_(sorted(inserted)))))
        if inserted
        else []
    )
    matched = _match(caller.actor, department.name, fresh)
    audit.record(
        caller.actor,
        "exchange.events.receive",
        ("exchange_clients", str(client.id)),
        region=department.region_code,
        received=len(fresh),
        duplicates=len(events) - len(fresh),
        matched=sum(matched.values()),
    )
    fresh_ids = {e.event_id for e in fresh}
    return [
        EventResult(
            e["event_id"],
            "received" if e["event_id"] in fresh_ids else "duplicate",
            matched.get(e["event_id"], 0),
        )
        for e in events
    ]


def _match(actor: Actor, department_name: str, events: list[DepartmentEvent]) -> dict[str, int]:
    """Raise a warning for every event about a person in an active or suspended enrollment."""
    if not events:
        return {}
    by_bidx: dict[str, list[DepartmentEvent]] = {}
    for event in events:
        by_bidx.setdefault(event.id_number_bidx, []).append(event)
    persons = {
        p.id_number_bidx: p
        for p in db.session.scalars(select(Person).where(Person.id_number_bidx.in_(sorted(by_bidx))))
    }
    if not persons:
        for event in events:
            event.status = "unmatched"
        return {}
    person_ids = [p.id for p in persons.values()]
    covered = db.session.execute(
        select(EnrollmentMember.person_id, Enrollment)
        .join(Enrollment, Enrollment.id == EnrollmentMember.enrollment_id)
        .where(EnrollmentMember.person_id.in_(person_ids), Enrollment.status.in_(("active", "suspended")))
        .order_by(Enrollment.id)
    ).all()
    enrollments_of: dict[int, list[Enrollment]] = {}
    for person_id, enrollment in covered:
        enrollments_of.setdefault(person_id, []).append(enrollment)
    open_evidence = _open_evidence([warnings.open_key(b, REASON) for b in persons])
    hits: list[warnings.Hit] = []
    matched: dict[str, int] = {}
    for bidx, person in persons.items():
        found = enrollments_of.get(person.id, [])
        person_events = by_bidx[bidx]
        for event in person_events:
            event.status = "matched" if found else "unmatched"
            event.matched_enrollments = len(found)
            matched[event.event_id] = len(found)
        if not found:
            continue
        enrollment = found[0]
        death_day = min(e.event_date for e in person_events)
        evidence = list(open_evidence.get(warnings.open_key(bidx, REASON), []))
        evidence += [
            {
                "kind": "event",
                "event_type": e.event_type,
                "event_type_label": EVENT_TYPES[e.event_type],
                "event_id": e.event_id,
                "department": department_name,
                "date": e.event_date.isoformat(),
                "place": e.place,
                "name": e.name,
            }
            for e in person_events
        ]
        payee = "（领取人）" if enrollment.person_id == person.id else ""
        hits.append(
            warnings.Hit(
                source="event",
                reason=REASON,
                reason_label=REASON_LABEL,
                level="red",
                id_number=person.id_number,
                name=person.name,
                person_id=person.id,
                household_id=enrollment.household_id,
                enrollment_id=enrollment.id,
                township_code=enrollment.township_code,
                event_date=death_day,
                summary=(
                    f"{department_name}推送{EVENT_TYPES[person_events[0].event_type]}信息：{warnings.mask_name(person.name)}"
                    f"{payee}于{death_day:%Y年%m月%d日}死亡，其家庭在享受{_program(enrollment.program)}（{len(found)}项）"
                ),
                fingerprint=f"deceased:{death_day.isoformat()}",
                evidence=evidence,
                values={"event_date": death_day.isoformat(), "enrollments": [e.id for e in found]},
            )
        )
    for event in events:
        if event.id_number_bidx not in persons:
            event.status = "unmatched"
    warnings.raise_warnings(actor, hits)
    return matched


def _program(code: str) -> str:
    return PROGRAMS.get(code, {}).get("label", code)


def _open_evidence(keys: list[str]) -> dict[str, list[dict[str, Any]]]:
    rows = db.session.execute(
        select(RiskWarning.open_key, RiskWarning.evidence).where(RiskWarning.open_key.in_(keys))
    ).all()
    return {key: list(evidence or []) for key, evidence in rows}
