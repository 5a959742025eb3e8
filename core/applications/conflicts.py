"""Members named in two households' open applications: flagged for the townships, never a block or a leak.

At submit, under a transaction-scoped lock per member ID number, an application's members are compared
with every other open application of the same program. The only refusal left is the user's own
duplicate (the same person — any of their linked log-ins — already has an open application of this
program for the same applicant); every other overlap opens an ``ApplicationConflict`` that an officer
resolves. Citizens never learn about the other household; officers see only the side in their region.
See docs/applications-conflicts.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, or_, select, text, union
from sqlalchemy.orm import aliased

from core import clock, crypto
from core.actor import Actor
from core.applications import notify
from core.applications.models import OPEN_STATUSES, Application, ApplicationConflict
from core.applications.programs import program_label
from core.audit import services as audit
from core.casework.models import Case
from core.casework.services import scope_filter
from core.database import db
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.households.models import HouseholdMember

NOTICE_TEXT = "您申请中的部分家庭成员信息需乡镇（街道）核实，工作人员将与您联系"
NOTICE_PHRASE = "待核实"
NOTICE_HINT = "部分家庭成员信息需核实"
REASON_MAX = 500
CHOICES = {"here": "该成员属于本申请家庭", "other": "该成员属于另一申请家庭"}


def person_hash(id_number: str) -> str:
    """Keyed hash of an ID number: equal for equal numbers, useless without the server key."""
    return crypto.token_hash("person:" + id_number)


def lock_key(id_number: str) -> int:
    """A stable signed 64-bit advisory-lock key for one person (derived from the keyed hash)."""
    return int.from_bytes(bytes.fromhex(person_hash(id_number))[:8], "big", signed=True)


def lock_people(id_numbers: Iterable[str | None]) -> None:
    """Serialise every submit naming one of these people until this transaction ends (PostgreSQL).

    ``pg_advisory_xact_lock`` per person, taken in sorted key order so two submits sharing several
    members cannot deadlock. On SQLite (the embedded default) a no-op: writes are serialised there.
    """
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for key in sorted({lock_key(n) for n in id_numbers if n}):
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _open_others(app: Application, id_numbers: list[str]) -> list[tuple[Application, HouseholdMember]]:
    """Other open applications of the same program naming one of these people, with the member row."""
    if not id_numbers:
        return []
    rows = db.session.execute(
        select(Application, HouseholdMember)
        .join(HouseholdMember, HouseholdMember.application_id == Application.id)
        .where(
            Application.id != app.id,
            Application.program == app.program,
            Application.status.in_(OPEN_STATUSES),
            HouseholdMember.id_number.in_(id_numbers),
        )
        .order_by(Application.id, HouseholdMember.position)
    ).all()
    return [(row[0], row[1]) for row in rows]


def _same_creator(app: Application, other: Application) -> bool:
    """Made by the same person (any of their linked log-ins), or by the same log-in while unverified."""
    if app.created_by_identity_id is not None:
        return other.created_by_identity_id == app.created_by_identity_id
    return app.created_by_user_id is not None and other.created_by_user_id == app.created_by_user_id


def check_and_flag(actor: Actor, app: Application) -> list[ApplicationConflict]:
    """At submit (``app`` still a draft, members flushed): refuse the user's own duplicate, flag the rest.

    Must run before the status changes and inside the request's transaction: the locks it takes are
    held until that transaction commits, so a concurrent submit naming the same person sees this one.
    """
    members = {m.id_number: m for m in app.members if m.id_number}
    lock_people([*members, app.applicant_id_number])
    others = _open_others(app, list(members))
    for other, _ in others:
        if _same_creator(app, other) and other.applicant_id_number == app.applicant_id_number:
            # Only the user's own earlier application refuses a submit; the message names nothing else.
            who = "该申请人" if app.is_proxy else "您"
            raise Conflict(
                f"{who}已有一件办理中的{program_label(app.program)}申请，请勿重复申请；如需修改请先撤回原申请",
                code="duplicate_application",
            )
    opened = []
    for other, other_member in others:
        conflict = ApplicationConflict(
            program=app.program,
            first_application_id=other.id,
            first_member_id=other_member.id,
            second_application_id=app.id,
            second_member_id=members[other_member.id_number].id,
            person_hash=person_hash(other_member.id_number),
            opened_at=clock.utcnow(),
        )
        db.session.add(conflict)
        opened.append(conflict)
    if opened:
        db.session.flush()
        audit.record(
            actor,
            "application.conflict_open",
            app,
            region=app.residence_township_code,
            conflict_ids=",".join(str(c.id) for c in opened),
        )
    return opened


# --- what officers see -----------------------------------------------------------------------------


def _active() -> Select:
    """Ids of conflicts still to decide: unresolved, both applications still open."""
    first, second = aliased(Application), aliased(Application)
    return (
        select(ApplicationConflict.id)
        .join(first, first.id == ApplicationConflict.first_application_id)
        .join(second, second.id == ApplicationConflict.second_application_id)
        .where(
            ApplicationConflict.resolved_at.is_(None),
            first.status.in_(OPEN_STATUSES),
            second.status.in_(OPEN_STATUSES),
        )
    )


def flagged_application_ids() -> Select:
    """Ids of applications carrying a conflict still to decide (a subquery for queue filters)."""
    active = _active().subquery()
    return union(
        select(ApplicationConflict.first_application_id.label("id")).where(ApplicationConflict.id.in_(select(active))),
        select(ApplicationConflict.second_application_id.label("id")).where(ApplicationConflict.id.in_(select(active))),
    )


def flagged_among(application_ids: Iterable[int]) -> set[int]:
    """Which of these applications carry an open conflict flag (for queue markers)."""
    ids = {i for i in application_ids if i is not None}
    if not ids:
        return set()
    flagged = flagged_application_ids().subquery()
    return set(db.session.scalars(select(flagged.c.id).where(flagged.c.id.in_(ids))))


def _officer_can_see(actor: Actor, application_id: int) -> bool:
    """Whether the officer's region holds a case (handling or information copy) of that application."""
    stmt = scope_filter(
        select(Case.id).where(Case.subject_type == "application", Case.subject_id == application_id), actor
    )
    return db.session.scalar(stmt.limit(1)) is not None


@dataclass(frozen=True)
class ConflictView:
    """One conflict as an officer of ``application`` sees it: their own side, and of the other only what
    their region already lets them see."""

    id: int
    member: HouseholdMember  # this application's member row
    opened_at: datetime
    state: str  # open | here | other | lapsed
    other: Application | None  # None when the other application is outside the officer's region
    resolved_at: datetime | None
    reason: str | None  # only when the officer can see both applications
    can_resolve: bool


STATE_LABELS = {
    "open": "待核实",
    "here": "已核实：该成员属于本申请家庭",
    "other": "已核实：该成员不属于本申请家庭",
    "lapsed": "已解除：另一申请已结束办理",
}


def views_for(actor: Actor, app: Application, *, handling: bool) -> list[ConflictView]:
    """The conflicts touching ``app`` (already loaded through the officer's scope)."""
    rows = db.session.scalars(
        select(ApplicationConflict)
        .where(
            or_(
                ApplicationConflict.first_application_id == app.id,
                ApplicationConflict.second_application_id == app.id,
            )
        )
        .order_by(ApplicationConflict.id)
    ).all()
    members = {m.id: m for m in app.members}
    views = []
    for c in rows:
        other_id, _ = c.other_side(app.id)
        other = db.session.get(Application, other_id)
        visible = _officer_can_see(actor, other_id)
        if c.resolved_at is not None:
            state = "here" if c.chosen_application_id == app.id else "other"
        elif app.status in OPEN_STATUSES and other is not None and other.status in OPEN_STATUSES:
            state = "open"
        else:
            state = "lapsed"
        views.append(
            ConflictView(
                id=c.id,
                member=members.get(c.own_member_id(app.id)) or db.session.get(HouseholdMember, c.own_member_id(app.id)),
                opened_at=c.opened_at,
                state=state,
                other=other if visible else None,
                resolved_at=c.resolved_at,
                reason=c.reason if visible else None,
                can_resolve=handling and state == "open",
            )
        )
    return views


# --- resolution ----------------------------------------------------------------------------------------


def resolve(
    actor: Actor, app: Application, handling_case: Case, conflict_id: int, choice: str, reason: str
) -> ApplicationConflict:
    """Decide which household the person belongs to (``here``: this application's; ``other``: the other).

    ``app`` and ``handling_case`` come through the officer's scope (the caller checked). The applicant of
    the application not chosen is told in neutral words; the other household is never named.
    """
    if handling_case.is_info_copy:
        raise PermissionDenied("户籍地乡镇（街道）仅可查看，由居住地乡镇（街道）办理")
    conflict = db.session.scalar(
        select(ApplicationConflict)
        .where(
            ApplicationConflict.id == conflict_id,
            or_(
                ApplicationConflict.first_application_id == app.id,
                ApplicationConflict.second_application_id == app.id,
            ),
        )
        .with_for_update()
    )
    if conflict is None:
        raise NotFound("未找到该成员核实事项", code="conflict_not_found")
    errors: dict[str, list[str]] = {}
    if choice not in CHOICES:
        errors["choice"] = ["请选择该成员所属的家庭"]
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = ["请填写核实依据"]
    elif len(reason) > REASON_MAX:
        errors["reason"] = [f"核实依据不能超过{REASON_MAX}个字"]
    if errors:
        raise ValidationFailed(errors=errors)
    if conflict.resolved_at is not None:
        raise Conflict("该成员信息已核实处理", code="conflict_resolved")
    other_id, _ = conflict.other_side(app.id)
    other = db.session.get(Application, other_id)
    if app.status not in OPEN_STATUSES or other is None or other.status not in OPEN_STATUSES:
        raise Conflict("该事项已解除，无需核实", code="conflict_lapsed")
    conflict.resolved_at = clock.utcnow()
    conflict.resolved_by_officer_id = actor.id
    conflict.chosen_application_id = app.id if choice == "here" else other.id
    conflict.reason = reason
    not_chosen = other if choice == "here" else app
    notify.record_notice(not_chosen, actor, "member_check", NOTICE_TEXT, phrase=NOTICE_PHRASE, hint=NOTICE_HINT)
    audit.record(
        actor,
        "application.conflict_resolve",
        app,
        region=handling_case.township_code,
        conflict_id=conflict.id,
        chosen_application_id=conflict.chosen_application_id,
        reason=reason,
    )
    return conflict
