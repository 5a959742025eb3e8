"""Which applications a citizen reaches: their own (from any linked log-in) and, once submitted, those
filed for them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.orm import selectinload

from core.accounts.models import User
from core.applications.models import (
    Application,
)
from core.database import db
from core.errors import NotFound
from core.identity import services as identity


@dataclass(frozen=True)
class Page:
    items: list[Any]  # rows with the summary's columns (SUMMARY_COLUMNS)
    total: int


def _owned_by(user: User) -> Any:
    """Applications this log-in's person created: ownership follows the verified person (every linked
    log-in sees what any of them created); only what a log-in made while unverified belongs to the log-in.
    A log-in re-bound to another ID number leaves the old person's applications behind."""
    unverified_own = and_(Application.created_by_identity_id.is_(None), Application.created_by_user_id == user.id)
    if identity.is_verified(user):
        return or_(Application.created_by_identity_id == user.identity_id, unverified_own)
    return unverified_own


def _citizen_clause(user: User) -> Any:
    own = _owned_by(user)
    if identity.is_verified(user):
        # The principal of a proxy application sees it once submitted, by their real-name identity.
        return or_(own, and_(Application.applicant_id_number == user.id_number, Application.status != "draft"))
    return own


WITH_HOUSEHOLD = (
    selectinload(Application.members),
    selectinload(Application.incomes),
    selectinload(Application.assets),
)


def get_for_citizen(user: User, application_id: int) -> Application:
    app = db.session.scalar(
        select(Application).where(Application.id == application_id, _citizen_clause(user)).options(*WITH_HOUSEHOLD)
    )
    if app is None:
        raise NotFound("未找到该申请", code="application_not_found")
    return app


# What a list shows of each application (ApplicationSummary): read as rows, not ORM objects (no identity
# map, no attribute instrumentation; about half the CPU of the ORM path for a page of 20).
SUMMARY_COLUMNS = (
    Application.id,
    Application.reference,
    Application.program,
    Application.status,
    Application.is_proxy,
    Application.principal_confirmed,
    Application.applicant_name,
    Application.submitted_at,
    Application.created_at,
    Application.updated_at,
)


def _list_statements() -> dict[tuple[bool, bool], tuple[Any, Any]]:
    """(page, count) statements for (verified, status filter), built once with bind parameters: the same
    conditions as ``_citizen_clause`` (the principal matched by the keyed index of the ID number, which the
    user row holds already: nothing to decrypt per request). SQLAlchemy's compiled cache does the rest. On the
    table's columns (SQLAlchemy Core): the session runs them without the ORM's compile and loading steps."""
    t = Application.__table__.c
    unverified_own = and_(t.created_by_identity_id.is_(None), t.created_by_user_id == bindparam("user_id"))
    verified = or_(
        t.created_by_identity_id == bindparam("identity_id"),
        unverified_own,
        and_(t.applicant_id_number_bidx == bindparam("id_number_bidx"), t.status != "draft"),
    )
    statements = {}
    for is_verified in (True, False):
        for by_status in (True, False):
            where = [verified if is_verified else unverified_own]
            if by_status:
                where.append(t.status == bindparam("status"))
            page = (
                select(*(t[c.key] for c in SUMMARY_COLUMNS))
                .where(*where)
                .order_by(t.created_at.desc(), t.id.desc())
                .offset(bindparam("offset"))
                .limit(bindparam("limit"))
            )
            statements[is_verified, by_status] = (page, select(func.count(t.id)).where(*where))
    return statements


_LIST: dict[tuple[bool, bool], tuple[Any, Any]] = {}


def list_for_citizen(user: User, *, page: int, page_size: int, status: str | None = None) -> Page:
    """One page of the citizen's applications (rows with the summary's columns), newest first, and the total.
    The total needs no second query when the page is not full: it is the rows skipped plus the rows read."""
    if not _LIST:
        _LIST.update(_list_statements())
    verified = identity.is_verified(user)
    page_stmt, count_stmt = _LIST[verified, bool(status)]
    offset = (page - 1) * page_size
    params: dict[str, Any] = {"user_id": user.id, "offset": offset, "limit": page_size}
    if verified:
        params |= {"identity_id": user.identity_id, "id_number_bidx": user.id_number_bidx}
    if status:
        params["status"] = status
    rows = db.session.execute(page_stmt, params).all()
    if 0 < len(rows) < page_size or (offset == 0 and not rows):
        total = offset + len(rows)
    else:  # a full page (there may be more) or a page past the end
        total = db.session.scalar(count_stmt, params) or 0
    return Page(list(rows), total)


def is_creator(user: User, app: Application) -> bool:
    """Did this log-in's person create the application (see ``_owned_by``)?"""
    if app.created_by_identity_id is not None:
        return identity.is_verified(user) and user.identity_id == app.created_by_identity_id
    return app.created_by_user_id is not None and app.created_by_user_id == user.id


def is_principal(user: User, app: Application) -> bool:
    return identity.is_verified(user) and user.id_number == app.applicant_id_number


def mask_name(name: str | None) -> str:
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1)
