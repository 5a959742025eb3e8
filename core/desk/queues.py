"""Officers' queues: buckets with counts, filters, search, sort by due date, assignment, export rows."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy import case as sql_case

from core import access, clock, pii, workdays
from core.accounts.models import Officer
from core.actor import Actor
from core.applications.models import Application
from core.audit import services as audit
from core.casework import services as casework
from core.casework.models import Case
from core.casework.services import Page, scope_filter
from core.database import db
from core.errors import NotFound, ValidationFailed

STAGE_BUCKETS = {
    "accept": "待受理",
    "investigating": "调查核实中",
    "review": "待审核",
    "public_notice": "公示中",
    "confirmation": "待县级确认",
    "decision": "待审批",
    "periodic_review": "待复核",  # review tasks of a campaign (core.registry.reviews)
    "warning": "预警待核查",  # warnings to verify (core.warnings)
    "warning_action": "预警待县级处置",
}
DUE_SOON_WORKING_DAYS = 2  # "即将到期": the nearest deadline is at most this many working days away
BUCKETS = {
    "accept": "待受理",
    "investigating": "调查核实中",
    "review": "待审核",
    "public_notice": "公示中",
    "confirmation": "待县级确认",
    "decision": "待审批",
    "periodic_review": "待复核",
    "warning": "预警待核查",
    "warning_action": "预警待县级处置",
    "overdue": "已超期",
    "due_soon": "即将到期",
    "new_today": "今日新收",
    "report": "主动发现报告",
    "all": "全部在办",
}
SORTS = {"due": "按期限", "new": "按提交时间"}
MASKED_ID_RE = re.compile(r"^(\d{4})\*+(\d{3}[\dX])$")


QueuePage = Page  # one page type for every queue


def due_soon_limit(today: date) -> date:
    """The last day that still counts as "即将到期" (``DUE_SOON_WORKING_DAYS`` working days from today)."""
    return workdays.add_working_days(today, DUE_SOON_WORKING_DAYS)


def _local_day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=clock.SHANGHAI).astimezone(UTC)


def overdue_clause(today: date):  # noqa: ANN201 - a SQL expression
    return or_(Case.next_due < today, Case.limit_date < today)


def _bucket_condition(bucket: str, today: date) -> Any:
    """The bucket's condition on Case (None: the bucket is every open case)."""
    if bucket == "overdue":
        return overdue_clause(today)
    if bucket == "due_soon":
        return and_(
            Case.next_due >= today,
            Case.next_due <= due_soon_limit(today),
            or_(Case.limit_date.is_(None), Case.limit_date >= today),
        )
    if bucket == "new_today":
        start = _local_day_start(today)
        return and_(Case.created_at >= start, Case.created_at < start + timedelta(days=1))
    if bucket in BUCKETS and bucket != "all":
        return Case.stage == bucket
    return None


def _bucket(stmt: Select, bucket: str, today: date) -> Select:
    condition = _bucket_condition(bucket, today)
    return stmt if condition is None else stmt.where(condition)


def counts(actor: Actor, **filters: Any) -> dict[str, int]:
    """How many cases each bucket of the officer's queue lists: the queue pages' conditions (``queue_statement``),
    every bucket a filtered count of one statement (one round trip instead of one per tab)."""
    return counts_of(actor, tuple(BUCKETS), **filters)


_COUNTS: dict[tuple, Select] = {}  # built count statements (their SQL is cached by SQLAlchemy once compiled)
MAX_COUNT_STATEMENTS = 2_000


def counts_of(actor: Actor, buckets: tuple[str, ...], **filters: Any) -> dict[str, int]:
    """``{bucket: count(actor, bucket=bucket, **filters)}`` in one statement: the shared conditions (scope, open,
    filters, search) in its WHERE, each bucket's own (its condition, information copies unless it includes
    them) inside its count. Without a search, the statement is built once per scope, filters and day (the
    day's bucket limits are part of its key) and reused."""
    include_info = filters.pop("include_info", None)
    filters.pop("sort", None)
    today = clock.local_today()
    key = None
    if not filters.get("q") and filters.get("application_ids") is None:
        key = (
            access.sees_everything(actor),
            access.scope(actor),
            buckets,
            include_info,
            today,
            due_soon_limit(today),
            tuple(sorted(filters.items())),
        )
    stmt = _COUNTS.get(key) if key is not None else None
    if stmt is None:
        base = queue_statement(actor, bucket="all", include_info=True, **filters).order_by(None)
        columns = []
        for bucket in buckets:
            conditions = [c for c in (_bucket_condition(bucket, today),) if c is not None]
            if not (include_info if include_info is not None else bucket == "all"):
                conditions.append(Case.is_info_copy.is_(False))
            columns.append(func.count(sql_case((and_(*conditions), 1))) if conditions else func.count())
        stmt = base.with_only_columns(*columns, maintain_column_froms=True)
        if key is not None:
            if len(_COUNTS) >= MAX_COUNT_STATEMENTS:
                _COUNTS.clear()
            _COUNTS[key] = stmt
    row = db.session.execute(stmt).one()
    return {bucket: int(n or 0) for bucket, n in zip(buckets, row, strict=True)}


def count(actor: Actor, **filters: Any) -> int:
    """The total a queue page shows for these filters."""
    stmt = queue_statement(actor, **filters).order_by(None)
    return db.session.scalar(stmt.with_only_columns(func.count(), maintain_column_froms=True)) or 0


def count_by_township(actor: Actor, **filters: Any) -> dict[str, int]:
    """The queue's total for these filters, per township (the county dashboard's cells)."""
    stmt = queue_statement(actor, **filters).order_by(None)
    stmt = stmt.with_only_columns(Case.township_code, func.count(), maintain_column_froms=True)
    return dict(db.session.execute(stmt.group_by(Case.township_code)).all())


def _search(stmt: Select, q: str) -> Select:
    q = q.strip().upper()
    if not q:
        return stmt
    m = MASKED_ID_RE.match(q)
    if m:
        # ID numbers are encrypted (core.pii): the last four through their keyed index, the first four
        # checked on the few candidates' decrypted numbers.
        candidates = db.session.execute(
            select(Application.id, Application.applicant_id_number_enc).where(
                pii.last4_matches(Application.applicant_id_number_l4, m.group(2))
            )
        ).all()
        ids = [i for i, enc in candidates if (pii.decrypt_id(enc) or "").startswith(m.group(1))]
    elif re.fullmatch(r"\d{4}|\d{3}X", q):
        ids = select(Application.id).where(pii.last4_matches(Application.applicant_id_number_l4, q))
    elif re.fullmatch(r"\d{17}[\dX]", q):
        ids = select(Application.id).where(Application.applicant_id_number == q)
    else:
        ids = select(Application.id).where(Application.applicant_name.contains(q, autoescape=True))
    return stmt.where(Case.subject_type == "application", Case.subject_id.in_(ids))


def queue_statement(
    actor: Actor,
    *,
    bucket: str = "all",
    township_code: str | None = None,
    program: str | None = None,
    assignee: int | None = None,
    q: str | None = None,
    sort: str = "due",
    include_info: bool | None = None,
    application_ids: Select | None = None,
) -> Select:
    """The ordered query behind a queue page (scope, bucket, filters, search)."""
    stmt = scope_filter(select(Case), actor).where(Case.status != "closed")
    if include_info is None:
        include_info = bucket == "all"  # the 户籍 township's information copies show in its full list
    if not include_info:
        stmt = stmt.where(Case.is_info_copy.is_(False))
    stmt = _bucket(stmt, bucket, clock.local_today())
    if township_code:
        stmt = stmt.where(Case.township_code == township_code)
    if program:
        stmt = stmt.where(Case.program == program)
    if assignee:
        stmt = stmt.where(Case.assignee_officer_id == assignee)
    if q:
        stmt = _search(stmt, q)
    if application_ids is not None:  # e.g. those flagged by core.applications.conflicts (the caller's choice)
        stmt = stmt.where(Case.subject_type == "application", Case.subject_id.in_(application_ids))
    if sort == "new":
        return stmt.order_by(Case.created_at.desc(), Case.id.desc())
    return stmt.order_by(Case.next_due.is_(None), Case.next_due, Case.priority.desc(), Case.id)


def queue(actor: Actor, *, page: int = 1, page_size: int = 20, **filters: Any) -> QueuePage:
    stmt = queue_statement(actor, **filters)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = db.session.scalars(stmt.offset((page - 1) * page_size).limit(page_size)).all()
    return QueuePage(list(rows), total, page, page_size)


def officers_in_scope(actor: Actor) -> list[Officer]:
    stmt = select(Officer).where(Officer.is_active.is_(True))
    stmt = stmt.where(access.under(actor, Officer.region_code))
    return list(db.session.scalars(stmt.order_by(Officer.display_name)))


def assign(actor: Actor, case_ids: list[int], officer_id: int) -> int:
    """Assign (or bulk-assign) cases of the region to an officer of the region."""
    if not case_ids:
        raise ValidationFailed(errors={"case_ids": ["请选择要分配的案件"]})
    officer = db.session.get(Officer, officer_id)
    if officer is None or not officer.is_active or officer.id not in {o.id for o in officers_in_scope(actor)}:
        raise ValidationFailed(errors={"officer_id": ["只能分配给本辖区的经办人员"]})
    cases = db.session.scalars(scope_filter(select(Case).where(Case.id.in_(case_ids)), actor)).all()
    if len(cases) != len(set(case_ids)):
        raise NotFound("部分案件不存在或不在本辖区")
    for case in cases:
        if case.township_code[: len(officer.region_code or "")] != (officer.region_code or ""):
            raise ValidationFailed(errors={"officer_id": [f"{officer.display_name}不负责案件{case.reference}所在乡镇"]})
        casework.assign(case, officer.id)
    audit.record(
        actor,
        "case.assign",
        ("cases", ",".join(str(c.id) for c in cases)),
        region=actor.region_code,
        officer_id=officer.id,
        count=len(cases),
    )
    return len(cases)


def export_rows(page: QueuePage, names: dict[str, str], officer_names: dict[int, str]) -> list[list[Any]]:
    """Rows for the Excel export of a queue page: labels, not codes; dates as dates; no ID numbers."""
    from core.applications.programs import program_label
    from core.casework.models import CASE_KINDS
    from core.desk.due import cue

    today = clock.local_today()
    header = [
        "编号",
        "类型",
        "事项",
        "乡镇（街道）",
        "环节",
        "最近期限",
        "剩余工作日",
        "期限提示",
        "法定期限",
        "经办人",
        "创建时间",
    ]
    rows: list[list[Any]] = [header]
    for case in page.items:
        due_cue = None if case.clock_paused_at else cue(case.next_due, today)
        rows.append(
            [
                case.reference,
                program_label(case.program) if case.program else CASE_KINDS.get(case.kind, "其他"),
                case.title,
                names.get(case.township_code, case.township_code),
                BUCKETS.get(case.stage or "", "补正中（暂停计时）" if case.clock_paused_at else "办理中"),
                case.next_due,
                due_cue.remaining if due_cue else None,
                "补正中（暂停计时）" if case.clock_paused_at else (due_cue.label if due_cue else ""),
                case.limit_date,
                officer_names.get(case.assignee_officer_id or 0, ""),
                clock.to_local(case.created_at).replace(tzinfo=None),
            ]
        )
    return rows
