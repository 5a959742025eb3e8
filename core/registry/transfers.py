"""Eligibility transfer (资格转移, 省内): the enrollment follows the household when its 户籍 moves to another
county of the same province — no new application, no new investigation (Jiangxi's "green channel").

    requested ──release (old county: end month)──► released ──accept (new county)──► accepted
        │  └──refuse (old county, reason)──► refused        └──refuse (new county, reason)──► refused
        └──cancel (the requester)──► cancelled

The household (API, a verified person the enrollment covers) or an officer of the new township (portal)
requests it with the new 户口簿 page. Accepting moves the old enrollment to ``transferred`` (its end month)
and creates the new one in the new county from the month after, both through core.registry.enrollments
(events ``transferred_out`` / ``transferred_in``, the household's notices); the registry household's
residence and 户籍 township change with a fact of source ``transfer``. Each step is a case in the queue of
the township whose county acts next (casework kind ``transfer``); both counties' officers and the
household are told through the outbox. Every step locks the transfer row: two officers acting at once get
one outcome, the other a 409.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from core import access, clock, pii
from core.accounts.models import Officer, User
from core.actor import Actor
from core.applications.programs import program_label
from core.audit import services as audit
from core.casework import services as casework
from core.casework.models import Case
from core.database import db
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.files import storage
from core.idnumber import mask, validate_id_number
from core.notifications import inbox
from core.notifications import services as outbox
from core.regions.models import Region
from core.regions.services import names_for
from core.registry import citizen, enrollments
from core.registry.models import (
    ENROLLMENT_STATUSES,
    TRANSFER_STATUSES,
    Enrollment,
    EnrollmentMember,
    Household,
    PaymentRoll,
    PaymentRollLine,
    Person,
    Transfer,
)
from core.registry.persons import find_person, persons_by_ids, record_facts

OPEN_STATUSES = ("requested", "released")
TRANSFERABLE = ("active", "suspended")
CASE_KIND = "transfer"
CASE_DAYS = 10  # working days for each county's step
MAX_MONTHS_AHEAD = 3  # the old county pays at most this many months beyond the current one
PORTAL_TEMPLATE = "registry_transfer"
MONTH_RE = re.compile(r"20\d{2}-(0[1-9]|1[0-2])")


def _reference() -> str:
    return f"ZY{clock.local_today():%Y%m%d}{secrets.token_hex(4).upper()}"


def _text(value: Any, field: str, label: str, *, limit: int, required: bool) -> str | None:
    text = (value or "").strip() if isinstance(value, str) else ("" if value is None else str(value).strip())
    if not text:
        if required:
            raise ValidationFailed(errors={field: [f"请填写{label}"]})
        return None
    if len(text) > limit:
        raise ValidationFailed(errors={field: [f"{label}不能超过{limit}个字"]})
    return text


# --- the target ------------------------------------------------------------------------------------------------


def check_target(enrollment: Enrollment, to_township_code: Any, to_village_code: Any) -> tuple[Region, str | None]:
    """The new township must be a township of ANOTHER county of the SAME province; the village, if given,
    one of its villages. Field-level Chinese errors otherwise."""
    code = (to_township_code or "").strip() if isinstance(to_township_code, str) else ""
    if not re.fullmatch(r"\d{9}", code):
        raise ValidationFailed(errors={"to_township_code": ["请选择新户籍地所在的乡镇（街道）（9位区划代码）"]})
    township = db.session.get(Region, code)
    if township is None or township.level != "township":
        raise ValidationFailed(errors={"to_township_code": [f"乡镇（街道）区划代码 {code} 不存在"]})
    if code[:2] != enrollment.county_code[:2]:
        province = names_for({enrollment.county_code[:2]}).get(enrollment.county_code[:2], "本省")
        raise ValidationFailed(
            errors={"to_township_code": [f"资格转移只能在{province}内办理；迁往外省的，请向新户籍地重新申请救助"]}
        )
    if code[:6] == enrollment.county_code:
        raise ValidationFailed(
            errors={
                "to_township_code": ["新户籍地与原户籍地在同一县（市、区），无需资格转移，请联系乡镇（街道）办理变更"]
            }
        )
    village_code = (to_village_code or "").strip() if isinstance(to_village_code, str) else ""
    if not village_code:
        return township, None
    village = db.session.get(Region, village_code) if re.fullmatch(r"\d{12}", village_code) else None
    if village is None or village.level != "village":
        raise ValidationFailed(errors={"to_village_code": ["村（社区）区划代码不存在"]})
    if village.parent_code != code:
        raise ValidationFailed(errors={"to_village_code": [f"所选村（社区）不属于{township.name}"]})
    return township, village.code


# --- look-ups ---------------------------------------------------------------------------------------------------


def _visible(actor: Actor) -> Any:
    """An officer sees a transfer from their region (the enrollment's township) or into it."""
    return or_(access.under(actor, Enrollment.township_code), access.under(actor, Transfer.to_township_code))


def get_for_officer(actor: Actor, transfer_id: int, *, lock: bool = False) -> Transfer:
    stmt = (
        select(Transfer)
        .join(Enrollment, Enrollment.id == Transfer.enrollment_id)
        .where(Transfer.id == transfer_id, _visible(actor))
    )
    if lock:
        stmt = stmt.with_for_update(of=Transfer)
    transfer = db.session.scalar(stmt)
    if transfer is None:
        raise NotFound("未找到该资格转移", code="transfer_not_found")
    if lock:
        db.session.refresh(transfer)
    return transfer


def get_for_citizen(user: User, transfer_id: int) -> Transfer:
    transfer = db.session.get(Transfer, transfer_id)
    if transfer is None or not citizen.covers_user(user, transfer.enrollment_id):
        raise NotFound("未找到该资格转移", code="transfer_not_found")
    return transfer


def _lock_enrollment(enrollment_id: int) -> Enrollment:
    enrollment = db.session.scalar(select(Enrollment).where(Enrollment.id == enrollment_id).with_for_update())
    if enrollment is None:  # pragma: no cover - a foreign key
        raise NotFound("未找到该救助对象", code="enrollment_not_found")
    db.session.refresh(enrollment)
    return enrollment


def open_transfer_of(enrollment_id: int) -> Transfer | None:
    return db.session.scalar(
        select(Transfer).where(Transfer.enrollment_id == enrollment_id, Transfer.status.in_(OPEN_STATUSES))
    )


# --- request ----------------------------------------------------------------------------------------------------


def _request(
    actor: Actor,
    enrollment_id: int,
    *,
    to_township_code: Any,
    to_village_code: Any,
    to_address: Any,
    reason: Any,
    data: bytes | None,
    filename: str | None,
    max_bytes: int,
    user: User | None = None,
    officer_id: int | None = None,
) -> Transfer:
    enrollment = _lock_enrollment(enrollment_id)
    if enrollment.status not in TRANSFERABLE:
        raise Conflict(
            f"该待遇当前为“{ENROLLMENT_STATUSES[enrollment.status]}”，不能申请资格转移", code="transfer_not_allowed"
        )
    township, village_code = check_target(enrollment, to_township_code, to_village_code)
    reason_text = _text(reason, "reason", "转移原因（如户籍迁移情况）", limit=300, required=True)
    address = _text(to_address, "to_address", "新住址", limit=200, required=False)
    if open_transfer_of(enrollment.id) is not None:
        raise Conflict("该待遇已有进行中的资格转移，请等待办理或先撤回", code="transfer_open")
    if not data:
        raise ValidationFailed(errors={"file": ["请上传新户口簿的户主页或本人页（照片或PDF）"]})
    stored = storage.store_upload(data, filename, max_bytes=max_bytes, area="transfers", field="file")
    transfer = Transfer(
        reference=_reference(),
        enrollment_id=enrollment.id,
        from_county_code=enrollment.county_code,
        to_county_code=township.code[:6],
        to_township_code=township.code,
        to_village_code=village_code,
        to_address=address,
        status="requested",
        requested_by_user_id=user.id if user is not None else None,
        requested_by_officer_id=officer_id,
        reason=reason_text,
        hukou_storage_key=stored.storage_key,
        hukou_content_type=stored.content_type,
    )
    try:
        with db.session.begin_nested():
            db.session.add(transfer)
            db.session.flush()
    except IntegrityError:
        # the partial unique index: another request for this enrollment won the race
        raise Conflict("该待遇已有进行中的资格转移，请等待办理或先撤回", code="transfer_open") from None
    _open_case(actor, transfer, enrollment, enrollment.township_code, "transfer_release", "待原县确认转出")
    audit.record(
        actor,
        "transfer.request",
        transfer,
        region=enrollment.township_code,
        enrollment_id=enrollment.id,
        to_township_code=township.code,
    )
    names = names_for({township.code, enrollment.county_code, township.code[:6]})
    label = program_label(enrollment.program)
    _tell_household(
        enrollment,
        transfer,
        f"您家的{label}资格转移申请（转往{names.get(township.code[:6], '')}{township.name}）已提交，"
        f"等待原县民政部门确认。编号{transfer.reference}",
    )
    text = (
        f"{enrollment.payee_name}家庭的{label}申请资格转移至{names.get(township.code[:6], '')}{township.name}，"
        f"请原县确认最后发放月份。编号{transfer.reference}"
    )
    _tell_county(transfer, enrollment.county_code, "资格转移待确认转出", text)
    _tell_county(
        transfer,
        transfer.to_county_code,
        "资格转移申请（转入本县）",
        f"{enrollment.payee_name}家庭的{label}申请转入{township.name}，原县确认后由本县接收。编号{transfer.reference}",
    )
    return transfer


def request_by_household(
    actor: Actor, user: User, enrollment_id: int, *, data: bytes | None, filename: str | None, max_bytes: int, **fields
) -> Transfer:
    """The household asks for the transfer: a verified person the enrollment covers (payee or member);
    anyone else's enrollment is a 404, as in 我的待遇."""
    if not citizen.covers_user(user, enrollment_id):
        raise NotFound("未找到该待遇记录", code="benefit_not_found")
    return _request(actor, enrollment_id, data=data, filename=filename, max_bytes=max_bytes, user=user, **fields)


def enrollments_for_id_number(actor: Actor, id_number: str) -> tuple[Person | None, list[Enrollment]]:
    """The new township's officer looks a recipient up by the FULL ID number (audited): the active or
    suspended enrollments covering that person elsewhere in the officer's province."""
    number, problems = validate_id_number(pii.normalise(id_number or ""))
    if problems:
        raise ValidationFailed(errors={"id_number": problems})
    person = find_person(number)
    audit.record(actor, "transfer.lookup", None, region=actor.region_code, found=person is not None)
    if person is None:
        return None, []
    covered = select(EnrollmentMember.enrollment_id).where(EnrollmentMember.person_id == person.id)
    stmt = select(Enrollment).where(
        (Enrollment.person_id == person.id) | Enrollment.id.in_(covered), Enrollment.status.in_(TRANSFERABLE)
    )
    province = (access.scope(actor) or "")[:2]
    if not access.sees_everything(actor):
        if not province:
            return person, []
        stmt = stmt.where(Enrollment.county_code.startswith(province))
    return person, list(db.session.scalars(stmt.order_by(Enrollment.id)))


def request_by_officer(
    actor: Actor,
    id_number: str,
    enrollment_id: int,
    *,
    data: bytes | None,
    filename: str | None,
    max_bytes: int,
    **fields,
) -> Transfer:
    """An officer of the new township starts the transfer: the enrollment must cover the person with this
    full ID number (a forged id finds nothing) and the new township must be in the officer's region."""
    _, found = enrollments_for_id_number(actor, id_number)
    if enrollment_id not in {e.id for e in found}:
        raise NotFound("未找到该救助对象", code="enrollment_not_found")
    code = fields.get("to_township_code")
    if isinstance(code, str) and re.fullmatch(r"\d{9}", code.strip()) and not access.can_see(actor, code.strip()):
        raise ValidationFailed(errors={"to_township_code": ["只能转入本辖区的乡镇（街道）"]})
    return _request(
        actor, enrollment_id, data=data, filename=filename, max_bytes=max_bytes, officer_id=actor.id, **fields
    )


# --- the counties' steps ---------------------------------------------------------------------------------------


def _is_county(actor: Actor) -> bool:
    return bool(enrollments.COUNTY_ROLES & set(actor.roles))


def _old_side(actor: Actor, enrollment: Enrollment) -> None:
    if not access.can_see(actor, enrollment.township_code):
        raise PermissionDenied("转出确认由原县级民政部门办理", code="forbidden")
    if not _is_county(actor):
        raise PermissionDenied("资格转移的转出确认由县级民政部门办理", code="county_only")


def _new_side(actor: Actor, transfer: Transfer) -> None:
    if not access.can_see(actor, transfer.to_township_code):
        raise PermissionDenied("转入接收由新户籍地县级民政部门办理", code="forbidden")
    if not _is_county(actor):
        raise PermissionDenied("资格转移的接收由县级民政部门办理", code="county_only")


def _check_version(transfer: Transfer, version: int | None) -> None:
    if version is not None and version != transfer.version:
        raise Conflict("该资格转移已被他人处理，请刷新后重试", code="edit_conflict")


def _status_is(transfer: Transfer, *wanted: str) -> None:
    if transfer.status not in wanted:
        raise Conflict(
            f"该资格转移当前为“{TRANSFER_STATUSES[transfer.status]}”，不能办理此操作",
            code="invalid_transfer_transition",
        )


def last_locked_month(enrollment_id: int) -> str | None:
    """The last month a locked roll of the county paid this enrollment (the end month cannot be before it)."""
    return db.session.scalar(
        select(func.max(PaymentRoll.month))
        .join(PaymentRollLine, PaymentRollLine.roll_id == PaymentRoll.id)
        .where(
            PaymentRollLine.enrollment_id == enrollment_id,
            PaymentRoll.status == "locked",
            PaymentRollLine.amount > 0,
        )
    )


def end_month_bounds(enrollment: Enrollment) -> tuple[str, str]:
    """The earliest and latest end month the old county may confirm: not before last month, the month before
    the enrollment started or a month already paid on a locked roll; at most three months ahead."""
    current = enrollments.month_of(clock.local_today())
    lower = max(enrollments.add_months(current, -1), enrollments.add_months(enrollment.start_month, -1))
    paid = last_locked_month(enrollment.id)
    if paid and paid > lower:
        lower = paid
    return lower, enrollments.add_months(current, MAX_MONTHS_AHEAD)


def parse_end_month(enrollment: Enrollment, value: Any) -> str:
    month = (value or "").strip() if isinstance(value, str) else ""
    if not MONTH_RE.fullmatch(month):
        raise ValidationFailed(errors={"end_month": ["请填写原县最后发放月份，格式如 2027-01"]})
    lower, upper = end_month_bounds(enrollment)
    if month < lower:
        raise ValidationFailed(errors={"end_month": [f"最后发放月份不能早于{lower}（已发放或已过的月份）"]})
    if month > upper:
        raise ValidationFailed(errors={"end_month": [f"最后发放月份不能晚于{upper}"]})
    return month


def release(actor: Actor, transfer_id: int, *, end_month: Any, version: int | None = None) -> Transfer:
    """The old county confirms the transfer and the last month it pays."""
    transfer = get_for_officer(actor, transfer_id, lock=True)
    enrollment = db.session.get(Enrollment, transfer.enrollment_id)
    _old_side(actor, enrollment)
    _check_version(transfer, version)
    _status_is(transfer, "requested")
    if enrollment.status not in TRANSFERABLE:
        raise Conflict(
            f"该救助对象当前为“{ENROLLMENT_STATUSES[enrollment.status]}”，不能转出", code="invalid_transfer_transition"
        )
    transfer.end_month = parse_end_month(enrollment, end_month)
    transfer.status = "released"
    transfer.released_by_officer_id = actor.id
    transfer.released_at = clock.utcnow()
    db.session.flush()
    _close_cases(transfer)
    names = names_for({transfer.to_township_code, transfer.to_county_code, transfer.from_county_code})
    _open_case(actor, transfer, enrollment, transfer.to_township_code, "transfer_accept", "待新县接收")
    audit.record(actor, "transfer.release", transfer, region=enrollment.township_code, end_month=transfer.end_month)
    label = program_label(enrollment.program)
    first = enrollments.add_months(transfer.end_month, 1)
    _tell_household(
        enrollment,
        transfer,
        f"原县已确认您家的{label}资格转移：原县发放至{_month_text(transfer.end_month)}，"
        f"新户籍地接收后自{_month_text(first)}起由{names.get(transfer.to_county_code, '新县')}发放",
    )
    _tell_county(
        transfer,
        transfer.to_county_code,
        "资格转移待接收",
        f"{names.get(transfer.from_county_code, '')}已确认{enrollment.payee_name}家庭的{label}转出"
        f"（发放至{transfer.end_month}），请接收，自{first}起由本县发放。编号{transfer.reference}",
    )
    return transfer


def accept(actor: Actor, transfer_id: int, *, amount: Any = None, version: int | None = None) -> Transfer:
    """The new county accepts: the old enrollment ends (transferred, its end month), the new one starts the
    month after in the new county — same programme, members and amount unless the new county sets one."""
    transfer = get_for_officer(actor, transfer_id, lock=True)
    _new_side(actor, transfer)
    _check_version(transfer, version)
    _status_is(transfer, "released")
    old = _lock_enrollment(transfer.enrollment_id)
    raw = amount.strip() if isinstance(amount, str) else amount
    new_amount = (
        Decimal(old.monthly_amount)
        if raw in (None, "")
        else enrollments.parse_amount(raw, "amount", label="新县月发放金额")
    )
    names = names_for({transfer.to_township_code, transfer.to_county_code, transfer.from_county_code})
    to_name = f"{names.get(transfer.to_county_code, '')}{names.get(transfer.to_township_code, '')}"
    was_suspended = old.status == "suspended"
    suspended_reason = old.status_reason
    enrollments.change(
        actor,
        old,
        "transferred_out",
        reason=f"户籍迁至{to_name}，资格转移（{transfer.reference}）",
        month=transfer.end_month,
        source_type="transfer",
        source_id=transfer.id,
    )
    members = [
        (m.person_id, m.relation)
        for m in db.session.scalars(
            select(EnrollmentMember).where(EnrollmentMember.enrollment_id == old.id).order_by(EnrollmentMember.id)
        )
    ]
    new = enrollments.create(
        actor,
        decision_ref=f"transfer:{transfer.id}",
        program=old.program,
        household_id=old.household_id,
        person_id=old.person_id,
        member_ids=members,
        amount=new_amount,
        start_month=enrollments.add_months(transfer.end_month, 1),
        township_code=transfer.to_township_code,
        village_code=transfer.to_village_code,
        payee_name=old.payee_name,
        transferred_from_id=old.id,
        decision_reference=transfer.reference,
        next_review=old.next_review_date,
        source_type="transfer",
        source_id=transfer.id,
    )
    new.bank_name, new.bank_account_enc, new.bank_account_last4 = (
        old.bank_name,
        old.bank_account_enc,
        old.bank_account_last4,
    )
    if was_suspended:
        enrollments.change(
            actor, new, "suspended", reason=suspended_reason or "原县暂停发放", source_type="transfer", notify=False
        )
    _move_household(transfer, old, [pid for pid, _ in members] or [old.person_id])
    transfer.status = "accepted"
    transfer.accepted_by_officer_id = actor.id
    transfer.accepted_at = clock.utcnow()
    transfer.new_enrollment_id = new.id
    db.session.flush()
    _close_cases(transfer)
    audit.record(actor, "transfer.accept", transfer, region=transfer.to_township_code, new_enrollment_id=new.id)
    _tell_county(
        transfer,
        transfer.from_county_code,
        "资格转移已完成",
        f"{old.payee_name}家庭的{program_label(old.program)}已由{to_name}接收，"
        f"本县发放至{transfer.end_month}。编号{transfer.reference}",
    )
    return transfer


def _move_household(transfer: Transfer, old: Enrollment, person_ids: list[int]) -> None:
    """The registry learns the new residence and 户籍 township (source: this transfer)."""
    household = db.session.get(Household, old.household_id)
    if household is not None:
        household.residence_township_code = transfer.to_township_code
        household.residence_village_code = transfer.to_village_code
        household.hukou_township_code = transfer.to_township_code
        household.county_code = transfer.to_county_code
        if transfer.to_address:
            household.address = transfer.to_address
    facts = {
        "residence_township_code": transfer.to_township_code,
        "residence_village_code": transfer.to_village_code,
        "hukou_township_code": transfer.to_township_code,
    }
    for person in persons_by_ids(person_ids).values():
        if person.residence_village_code and not transfer.to_village_code:
            person.residence_village_code = None  # the old county's village is no longer where they live
        record_facts(person, facts, source_type="transfer", source_id=transfer.id)


def refuse(actor: Actor, transfer_id: int, *, reason: Any, version: int | None = None) -> Transfer:
    """The county whose step it is refuses, with a reason: the old county while requested, the new one once
    released. The enrollment stays as it is."""
    transfer = get_for_officer(actor, transfer_id, lock=True)
    enrollment = db.session.get(Enrollment, transfer.enrollment_id)
    _status_is(transfer, *OPEN_STATUSES)
    side_old = transfer.status == "requested"
    if side_old:
        _old_side(actor, enrollment)
    else:
        _new_side(actor, transfer)
    _check_version(transfer, version)
    text = _text(reason, "reason", "不予转移的原因", limit=300, required=True)
    transfer.status = "refused"
    transfer.refusal_reason = text
    transfer.refused_by_officer_id = actor.id
    db.session.flush()
    _close_cases(transfer)
    audit.record(actor, "transfer.refuse", transfer, region=actor.region_code, reason=text)
    who = "原县" if side_old else "新户籍地县级民政部门"
    label = program_label(enrollment.program)
    _tell_household(
        enrollment,
        transfer,
        f"您家的{label}资格转移未获{who}同意。原因：{text}。原待遇不变；"
        f"如有异议可联系乡镇（街道）或{enrollments.APPEAL_TEXT}",
    )
    other = transfer.to_county_code if side_old else transfer.from_county_code
    _tell_county(
        transfer,
        other,
        "资格转移未通过",
        f"{enrollment.payee_name}家庭的{label}资格转移已被{who}拒绝。原因：{text}。编号{transfer.reference}",
    )
    return transfer


def _cancel(actor: Actor, transfer: Transfer) -> Transfer:
    if transfer.status != "requested":
        raise Conflict("原县已处理该资格转移，不能撤回", code="transfer_not_cancellable")
    transfer.status = "cancelled"
    db.session.flush()
    _close_cases(transfer)
    audit.record(actor, "transfer.cancel", transfer, region=transfer.to_township_code)
    enrollment = db.session.get(Enrollment, transfer.enrollment_id)
    _tell_county(
        transfer,
        transfer.from_county_code,
        "资格转移已撤回",
        f"{enrollment.payee_name}家庭的资格转移申请已撤回，无需办理。编号{transfer.reference}",
    )
    return transfer


def cancel_by_household(actor: Actor, user: User, transfer_id: int) -> Transfer:
    """The person who asked withdraws the request while the old county has not acted."""
    get_for_citizen(user, transfer_id)
    transfer = db.session.scalar(select(Transfer).where(Transfer.id == transfer_id).with_for_update())
    db.session.refresh(transfer)
    if transfer.requested_by_user_id != user.id:
        raise PermissionDenied("只有提出转移申请的人可以撤回", code="forbidden")
    return _cancel(actor, transfer)


def cancel_by_officer(actor: Actor, transfer_id: int, *, version: int | None = None) -> Transfer:
    """An officer of the new side withdraws a transfer their township started."""
    transfer = get_for_officer(actor, transfer_id, lock=True)
    if transfer.requested_by_officer_id is None or not access.can_see(actor, transfer.to_township_code):
        raise PermissionDenied("只有发起转移的新户籍地可以撤回", code="forbidden")
    _check_version(transfer, version)
    return _cancel(actor, transfer)


# --- cases and notices -----------------------------------------------------------------------------------------


def _open_case(actor: Actor, transfer: Transfer, enrollment: Enrollment, township: str, stage: str, what: str) -> Case:
    case = casework.open_case(
        actor,
        kind=CASE_KIND,
        township_code=township,
        title=f"资格转移（{what}）：{enrollment.payee_name}",
        due_in_working_days=CASE_DAYS,
        subject_type="transfer",
        subject_id=transfer.id,
        program=enrollment.program,
        household_size=enrollment.member_count,
    )
    casework.set_stage(case, stage, case.due_date)
    return case


def cases_of(transfer: Transfer) -> list[Case]:
    return list(
        db.session.scalars(
            select(Case).where(Case.subject_type == "transfer", Case.subject_id == transfer.id).order_by(Case.id)
        )
    )


def _close_cases(transfer: Transfer) -> None:
    for case in cases_of(transfer):
        if case.status != "closed":
            casework.close(case)


def _month_text(month: str) -> str:
    return f"{month[:4]}年{int(month[5:7])}月"


def _tell_household(enrollment: Enrollment, transfer: Transfer, text: str) -> None:
    for user in enrollments.recipients(enrollment):
        channel, address = ("wechat", user.wechat_openid) if user.wechat_openid else ("sms", user.phone)
        if not address:
            continue
        outbox.enqueue(
            channel,
            address,
            enrollments.TEMPLATE,
            {"program": program_label(enrollment.program), "text": text, "reference": transfer.reference},
            dedupe_key=f"transfer:{transfer.id}:{transfer.status}:{channel}:{user.id}",
        )


def _tell_county(transfer: Transfer, county_code: str, title: str, text: str) -> None:
    """Every active county officer of ``county_code`` gets the notice in the portal inbox."""
    officers = db.session.scalars(
        select(Officer).where(
            Officer.region_code == county_code, Officer.role == "county_officer", Officer.is_active.is_(True)
        )
    )
    for officer in officers:
        outbox.enqueue(
            inbox.CHANNEL,
            inbox.recipient_for(officer.id),
            PORTAL_TEMPLATE,
            {"title": title, "text": text, "link": f"/portal/transfers/{transfer.id}"},
            dedupe_key=f"transfer:{transfer.id}:{transfer.status}:{county_code}:officer:{officer.id}",
        )


# --- what people see ---------------------------------------------------------------------------------------------


def status_text(transfer: Transfer, names: dict[str, str]) -> str:
    """Where the transfer stands, in plain words for the household."""
    to = f"{names.get(transfer.to_county_code, '')}{names.get(transfer.to_township_code, '')}"
    if transfer.status == "requested":
        return f"已申请转往{to}，等待原县民政部门确认"
    if transfer.status == "released":
        first = enrollments.add_months(transfer.end_month, 1)
        return f"原县已确认，发放至{_month_text(transfer.end_month)}；等待{to}接收，接收后自{_month_text(first)}起发放"
    if transfer.status == "accepted":
        first = enrollments.add_months(transfer.end_month, 1)
        return f"已完成转移，自{_month_text(first)}起由{to}发放"
    if transfer.status == "refused":
        return f"未同意转移。原因：{transfer.refusal_reason}"
    return "已撤回"


def citizen_view(transfer: Transfer, user: User, names: dict[str, str] | None = None) -> dict[str, Any]:
    enrollment = db.session.get(Enrollment, transfer.enrollment_id)
    names = names or names_for(_codes([transfer], [enrollment]))
    return {
        "id": transfer.id,
        "reference": transfer.reference,
        "enrollment_id": transfer.enrollment_id,
        "program": enrollment.program,
        "program_label": program_label(enrollment.program),
        "status": transfer.status,
        "status_label": TRANSFER_STATUSES[transfer.status],
        "text": status_text(transfer, names),
        "from_county_code": transfer.from_county_code,
        "from_county_name": names.get(transfer.from_county_code),
        "from_township_code": enrollment.township_code,
        "from_township_name": names.get(enrollment.township_code),
        "to_county_code": transfer.to_county_code,
        "to_county_name": names.get(transfer.to_county_code),
        "to_township_code": transfer.to_township_code,
        "to_township_name": names.get(transfer.to_township_code),
        "to_village_code": transfer.to_village_code,
        "to_village_name": names.get(transfer.to_village_code) if transfer.to_village_code else None,
        "to_address": transfer.to_address,
        "reason": transfer.reason,
        "end_month": transfer.end_month,
        "first_month_new_county": enrollments.add_months(transfer.end_month, 1) if transfer.end_month else None,
        "new_enrollment_id": transfer.new_enrollment_id,
        "refusal_reason": transfer.refusal_reason,
        "can_cancel": transfer.status == "requested" and transfer.requested_by_user_id == user.id,
        "created_at": transfer.created_at,
        "updated_at": transfer.updated_at,
    }


def _codes(transfers: list[Transfer], enrollments_: list[Enrollment]) -> set[str]:
    codes: set[str] = set()
    for t in transfers:
        codes |= {t.from_county_code, t.to_county_code, t.to_township_code} | ({t.to_village_code} - {None})
    for e in enrollments_:
        codes |= {e.township_code, e.county_code}
    return codes


def list_for_citizen(user: User) -> list[dict[str, Any]]:
    """The transfers of every enrollment that covers me (mine or another member's request), newest first."""
    ids = citizen.my_enrollment_ids(user)
    if not ids:
        return []
    rows = list(
        db.session.scalars(
            select(Transfer).where(Transfer.enrollment_id.in_(ids)).order_by(Transfer.id.desc()).limit(100)
        )
    )
    found = {e.id: e for e in db.session.scalars(select(Enrollment).where(Enrollment.id.in_(ids)))}
    names = names_for(_codes(rows, list(found.values())))
    return [citizen_view(t, user, names) for t in rows]


@dataclass
class Page:
    items: list[tuple[Transfer, Enrollment]]
    total: int


DIRECTIONS = {"incoming": "转入本辖区", "outgoing": "转出本辖区"}


def list_for_officer(
    actor: Actor,
    *,
    direction: str = "incoming",
    status: str | None = None,
    township: str | None = None,
    page: int = 1,
    page_size: int = 20,
) -> Page:
    """Transfers into the officer's region (incoming: the new township) or out of it (outgoing: the
    enrollment's township), optionally by status and township; newest first."""
    stmt = select(Transfer, Enrollment).join(Enrollment, Enrollment.id == Transfer.enrollment_id)
    if direction == "outgoing":
        stmt = stmt.where(access.under(actor, Enrollment.township_code))
        if township:
            stmt = stmt.where(Enrollment.township_code == township)
    else:
        stmt = stmt.where(access.under(actor, Transfer.to_township_code))
        if township:
            stmt = stmt.where(Transfer.to_township_code == township)
    if status:
        stmt = stmt.where(Transfer.status == status)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.session.execute(
        stmt.order_by(Transfer.created_at.desc(), Transfer.id.desc()).offset((page - 1) * page_size).limit(page_size)
    ).all()
    return Page([(t, e) for t, e in rows], total)


def officer_view(actor: Actor, transfer: Transfer) -> dict[str, Any]:
    enrollment = db.session.get(Enrollment, transfer.enrollment_id)
    members = db.session.execute(
        select(EnrollmentMember, Person)
        .join(Person, Person.id == EnrollmentMember.person_id)
        .where(EnrollmentMember.enrollment_id == enrollment.id)
        .order_by(EnrollmentMember.id)
    ).all()
    codes = _codes([transfer], [enrollment]) | ({enrollment.village_code} - {None})
    county = _is_county(actor)
    old_side = access.can_see(actor, enrollment.township_code)
    new_side = access.can_see(actor, transfer.to_township_code)
    lower, upper = end_month_bounds(enrollment)
    return {
        "transfer": transfer,
        "enrollment": enrollment,
        "members": [{"name": p.name, "id_masked": mask(p.id_number), "relation": m.relation} for m, p in members],
        "names": names_for(codes),
        "status_text": status_text(transfer, names_for(codes)),
        "may_release": county and old_side and transfer.status == "requested",
        "may_accept": county and new_side and transfer.status == "released",
        "may_refuse": county
        and ((old_side and transfer.status == "requested") or (new_side and transfer.status == "released")),
        "may_cancel": new_side and transfer.requested_by_officer_id is not None and transfer.status == "requested",
        "may_see_enrollment": old_side,
        "end_month_bounds": (lower, upper),
        "cases": cases_of(transfer),
    }


def hukou_file(actor: Actor, transfer_id: int) -> tuple[Path, str, str]:
    """The new 户口簿 page, for an officer of either side (audited): path, content type, download name."""
    transfer = get_for_officer(actor, transfer_id)
    if not transfer.hukou_storage_key:
        raise NotFound("未找到户口簿材料", code="transfer_not_found")
    audit.record(actor, "transfer.hukou_view", transfer, region=actor.region_code)
    ext = storage.EXTENSIONS.get(transfer.hukou_content_type or "", "bin")
    return (
        storage.open_path(transfer.hukou_storage_key),
        transfer.hukou_content_type,
        f"户口簿-{transfer.reference}.{ext}",
    )
