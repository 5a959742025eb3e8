"""Who may look at a person's department data, and the audited look-up itself.

Rule (docs/exchange.md, "Who may look"): an officer sees department data

1. only for a person **connected to their region**: the registry knows the person with a residence or
   户籍 township inside the officer's region, or as a member of an enrollment paid by a township inside it;
2. only from loads of departments **in or above** their region (a county officer: the county's own
   departments and the city's and province's, never another county's);
3. only with a stated purpose, and every look-up — refused ones too — is audited with it.

An officer of another county gets "not found" for this county's people, whatever department sent the data.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core import access, idnumber
from core.actor import Actor
from core.audit import services as audit
from core.database import db
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.exchange import catalogue, store
from core.exchange.catalogue import DataCategory
from core.registry.models import Enrollment, EnrollmentMember, Person
from core.registry.persons import find_person

LOOKUP_ROLES = frozenset({"township_officer", "county_officer", "city_admin", "data_officer", "system_admin"})
PURPOSE_MIN, PURPOSE_MAX = 4, 200
MAX_ROWS_PER_CATEGORY = 200


def connected(actor: Actor, person: Person) -> bool:
    """Whether a person is connected to the officer's region (residence, 户籍, or an enrollment)."""
    if access.can_see(actor, person.residence_township_code) or access.can_see(actor, person.hukou_township_code):
        return True
    enrolled = db.session.scalar(
        select(Enrollment.id)
        .outerjoin(EnrollmentMember, EnrollmentMember.enrollment_id == Enrollment.id)
        .where(
            (Enrollment.person_id == person.id) | (EnrollmentMember.person_id == person.id),
            access.under(actor, Enrollment.township_code),
        )
        .limit(1)
    )
    return enrolled is not None


def _purpose(purpose: str | None) -> str:
    text = " ".join((purpose or "").split())
    if len(text) < PURPOSE_MIN:
        raise ValidationFailed(errors={"purpose": [f"请填写查询目的（至少{PURPOSE_MIN}个字）"]})
    if len(text) > PURPOSE_MAX:
        raise ValidationFailed(errors={"purpose": [f"查询目的不能超过{PURPOSE_MAX}个字"]})
    return text


def person_records(
    actor: Actor, *, purpose: str | None, id_number: str | None = None, person_id: int | None = None
) -> dict[str, Any]:
    """A person's department data by category (current loads only), for an officer in scope."""
    if actor.kind != "officer" or not set(actor.roles) & LOOKUP_ROLES:
        raise PermissionDenied("您没有权限查询部门数据")
    reason = _purpose(purpose)
    person = None
    if person_id is not None:
        person = db.session.get(Person, person_id)
    elif id_number:
        number, errors = idnumber.validate_id_number(id_number)
        if errors:
            raise ValidationFailed(errors={"id_number": errors})
        person = find_person(number)
    else:
        raise ValidationFailed(errors={"id_number": ["请输入身份证号码"]})
    if person is None or not connected(actor, person):
        audit.record(
            actor,
            "exchange.person_lookup_refused",
            ("persons", person.id if person else "-"),
            region=actor.region_code,
            purpose=reason,
            id_masked=idnumber.mask(id_number) if id_number else None,
        )
        raise NotFound("未找到该人员，或该人员不在您的辖区", keep_changes=True)
    departments = {d.id: d for d in catalogue.visible_departments(actor)}
    number = person.id_number
    result: list[dict[str, Any]] = []
    con = store.connect(threads=1)
    try:
        for category in db.session.scalars(select(DataCategory).order_by(DataCategory.id)):
            paths = store.current_paths(category.code, department_ids=set(departments))
            if not paths:
                continue
            schema = catalogue.schema_of(category)
            rel = con.read_parquet(paths, union_by_name=True)
            names = rel.columns
            rows = con.execute(
                "SELECT * FROM rel WHERE id_number = ? ORDER BY effective_date DESC, load_id DESC LIMIT ?",
                [number, MAX_ROWS_PER_CATEGORY],
            ).fetchall()
            if not rows:
                continue
            labels = {c.key: c.label for c in schema.columns}
            shown = [n for n in names if n in labels and n != schema.id_column]
            result.append(
                {
                    "category": category,
                    "columns": [("effective_date", "生效日期")]
                    + [(n, labels[n]) for n in shown]
                    + [("load_id", "批次")],
                    "rows": [dict(zip(names, row, strict=True)) for row in rows],
                }
            )
    finally:
        con.close()
    audit.record(
        actor,
        "exchange.person_lookup",
        person,
        region=person.residence_township_code,
        purpose=reason,
        categories=",".join(r["category"].code for r in result),
        rows=sum(len(r["rows"]) for r in result),
    )
    return {"person": person, "id_masked": idnumber.mask(number), "results": result, "purpose": reason}
