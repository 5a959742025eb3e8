"""The monitored population (低收入人口库): built from the registry, applications and reports, plus lists
imported from other programmes; one membership per person × source, each with a period.

- ``rebuild``: recipients (低保, 特困; enrollment members), applicants refused or withdrawn in the last
  24 months (and their declared household), persons named in reports (24 months); memberships whose
  source ended get an end date. ID numbers are copied encrypted (no decryption).
- ``import_file``: CSV (UTF-8 or GBK) or XLSX with Chinese headers (身份证号, 姓名, 乡镇（街道）代码,
  类别, 户编号, 与户主关系, 开始日期, 结束日期); every bad row is reported with its row number and reason,
  nothing is stored when any row is bad.
- ``snapshot``: the members current on a day as an Arrow table for the engine (one row per person,
  decrypted ID number), for some counties or some persons (blind indexes).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import and_, func, or_, select, update

from core import access, clock, pii
from core.actor import Actor
from core.applications.models import Application
from core.audit import services as audit
from core.database import db
from core.errors import PermissionDenied, ValidationFailed
from core.households.models import HouseholdMember
from core.idnumber import validate_id_number
from core.monitoring.engine import months_before
from core.monitoring.models import MEMBER_SOURCES, MonitoringMember
from core.regions.models import Region
from core.registry.models import Enrollment, EnrollmentMember, Person
from core.reports.models import Report

REBUILT_SOURCES = ("dibao", "tekun", "refused", "reported")
SOURCE_PRIORITY = {s: n for n, s in enumerate(("dibao", "tekun", "marginal", "expenditure", "imported", "refused"))}
LOOKBACK_MONTHS = 24
CHUNK = 500
MAX_IMPORT_ROWS = 200_000
IMPORT_CATEGORIES = {
    "低保边缘": "marginal",
    "低保边缘家庭": "marginal",
    "支出型困难": "expenditure",
    "支出型困难家庭": "expenditure",
}
HEADERS = {
    "id_number": ("身份证号", "身份证号码", "公民身份号码"),
    "name": ("姓名",),
    "township_code": ("乡镇（街道）代码", "乡镇代码", "乡镇(街道)代码", "乡镇街道代码"),
    "category": ("类别", "人员类别", "对象类别"),
    "household": ("户编号", "家庭编号", "户号"),
    "relation": ("与户主关系",),
    "start": ("开始日期", "纳入日期"),
    "end": ("结束日期", "退出日期"),
}
HEAD_RELATIONS = {"self", "户主", "本人", "head"}


@dataclass
class RebuildResult:
    added: int = 0
    updated: int = 0
    ended: int = 0
    by_source: dict[str, int] = field(default_factory=dict)


def _rank(relation: str | None, position: int = 0) -> int:
    return 0 if (relation or "") in HEAD_RELATIONS else 1 + min(position, 50)


def _row(
    enc: str,
    bidx: str,
    l4: str,
    *,
    name: str | None,
    source: str,
    source_ref: str,
    household_key: str,
    rank: int,
    township: str,
    start: date,
    end: date | None = None,
    village: str | None = None,
    person_id: int | None = None,
    household_id: int | None = None,
    enrollment_id: int | None = None,
) -> dict[str, Any]:
    return {
        "id_number_enc": enc,
        "id_number_bidx": bidx,
        "id_number_l4": l4,
        "name": (name or None) and name[:50],
        "source": source,
        "source_ref": source_ref[:64],
        "household_key": household_key[:40],
        "rank": rank,
        "township_code": township,
        "village_code": village,
        "county_code": township[:6],
        "period_start": start,
        "period_end": end,
        "person_id": person_id,
        "household_id": household_id,
        "enrollment_id": enrollment_id,
    }


def _recipients(county: str | None) -> Iterable[dict[str, Any]]:
    stmt = (
        select(Enrollment, EnrollmentMember.relation, Person)
        .join(EnrollmentMember, EnrollmentMember.enrollment_id == Enrollment.id)
        .join(Person, Person.id == EnrollmentMember.person_id)
        .where(Enrollment.status.in_(("active", "suspended")), Enrollment.program.in_(("dibao", "tekun")))
        .order_by(Enrollment.id, EnrollmentMember.id)
    )
    if county:
        stmt = stmt.where(Enrollment.county_code == county)
    position: dict[int, int] = {}
    for enrollment, relation, person in db.session.execute(stmt).yield_per(2000):
        n = position[enrollment.id] = position.get(enrollment.id, -1) + 1
        start = date.fromisoformat(enrollment.start_month + "-01")
        yield _row(
            person.id_number_enc,
            person.id_number_bidx,
            person.id_number_l4,
            name=person.name,
            source=enrollment.program,
            source_ref=f"enrollment:{enrollment.id}",
            household_key=f"h{enrollment.household_id}",
            rank=0 if person.id == enrollment.person_id else _rank(relation, n),
            township=enrollment.township_code,
            village=enrollment.village_code,
            start=start,
            person_id=person.id,
            household_id=enrollment.household_id,
            enrollment_id=enrollment.id,
        )


def _refused(county: str | None, today: date) -> Iterable[dict[str, Any]]:
    since = clock.utcnow() - timedelta(days=LOOKBACK_MONTHS * 31)
    stmt = (
        select(Application, HouseholdMember)
        .join(HouseholdMember, HouseholdMember.application_id == Application.id)
        .where(
            Application.status.in_(("rejected", "not_accepted", "withdrawn")),
            Application.closed_at >= since,
            Application.residence_township_code.is_not(None),
            HouseholdMember.id_number_bidx.is_not(None),
        )
        .order_by(Application.id, HouseholdMember.position)
    )
    if county:
        stmt = stmt.where(Application.residence_township_code.startswith(county))
    for app, member in db.session.execute(stmt).yield_per(2000):
        closed = clock.to_local(app.closed_at).date()
        yield _row(
            member.id_number_enc,
            member.id_number_bidx,
            member.id_number_l4,
            name=member.name,
            source="refused",
            source_ref=f"application:{app.id}",
            household_key=f"a{app.id}",
            rank=_rank(member.relation, member.position),
            township=app.residence_township_code,
            village=app.residence_village_code,
            start=closed,
            end=_add_months(closed, LOOKBACK_MONTHS),
            person_id=member.person_id,
        )


def _reported(county: str | None) -> Iterable[dict[str, Any]]:
    since = clock.utcnow() - timedelta(days=LOOKBACK_MONTHS * 31)
    stmt = select(Report).where(
        Report.person_id_number_bidx.is_not(None), Report.created_at >= since, Report.duplicate_of_id.is_(None)
    )
    if county:
        stmt = stmt.where(Report.township_code.startswith(county))
    for report in db.session.scalars(stmt.order_by(Report.id)).yield_per(2000):
        created = clock.to_local(report.created_at).date()
        yield _row(
            report.person_id_number_enc,
            report.person_id_number_bidx,
            report.person_id_number_l4,
            name=report.person_name,
            source="reported",
            source_ref=f"report:{report.id}",
            household_key=f"r{report.id}",
            rank=0,
            township=report.township_code,
            village=report.village_code,
            start=created,
            end=_add_months(created, LOOKBACK_MONTHS),
            person_id=report.person_id,
        )


def _add_months(day: date, months: int) -> date:
    return months_before(day, -months)


def _upsert(rows: Sequence[dict[str, Any]]) -> tuple[int, int]:
    """Insert or refresh memberships by (person, source); returns (added, updated)."""
    added = updated = 0
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        keys = {(r["id_number_bidx"], r["source"]) for r in chunk}
        existing = {
            (m.id_number_bidx, m.source): m
            for m in db.session.scalars(
                select(MonitoringMember).where(
                    MonitoringMember.id_number_bidx.in_({k[0] for k in keys}),
                    MonitoringMember.source.in_({k[1] for k in keys}),
                )
            )
        }
        for row in chunk:
            member = existing.get((row["id_number_bidx"], row["source"]))
            if member is None:
                member = MonitoringMember(**row)
                db.session.add(member)
                existing[(row["id_number_bidx"], row["source"])] = member
                added += 1
                continue
            changed = False
            for key, value in row.items():
                if key == "period_start":
                    value = min(value, member.period_start) if member.period_end is None else value
                if getattr(member, key) != value:
                    setattr(member, key, value)
                    changed = True
            updated += int(changed)
        db.session.flush()
    return added, updated


def rebuild(actor: Actor, *, county: str | None = None) -> RebuildResult:
    """Refresh the memberships that come from the registry, applications and reports (see the module)."""
    if actor.kind != "system" and not access.sees_everything(actor):
        county = county or (actor.region_code or "")[:6]
        if not access.can_see(actor, county) or len(county) != 6:
            raise PermissionDenied()
    today = clock.local_today()
    result = RebuildResult()
    seen: set[tuple[str, str]] = set()
    for source_rows in (list(_recipients(county)), list(_refused(county, today)), list(_reported(county))):
        # one row per person × source: the first (the enrollment head's household, the latest application)
        unique: dict[tuple[str, str], dict[str, Any]] = {}
        for row in source_rows:
            unique.setdefault((row["id_number_bidx"], row["source"]), row)
        seen.update(unique)
        added, updated = _upsert(list(unique.values()))
        result.added += added
        result.updated += updated
        for bidx_source in unique:
            result.by_source[bidx_source[1]] = result.by_source.get(bidx_source[1], 0) + 1
    # memberships whose source is gone (an exited enrollment): ended today
    stmt = select(MonitoringMember).where(
        MonitoringMember.source.in_(("dibao", "tekun")), MonitoringMember.period_end.is_(None)
    )
    if county:
        stmt = stmt.where(MonitoringMember.county_code == county)
    for member in db.session.scalars(stmt):
        if (member.id_number_bidx, member.source) not in seen:
            member.period_end = today
            result.ended += 1
    db.session.flush()
    audit.record(
        actor,
        "monitoring.roster.rebuild",
        ("monitoring_members", None),
        region=county,
        added=result.added,
        updated=result.updated,
        ended=result.ended,
    )
    return result


# --- import ------------------------------------------------------------------------------------------


def _read_rows(path: Path) -> list[list[str]]:
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True, data_only=True)
        sheet = book.worksheets[0]
        rows = []
        for values in sheet.iter_rows(values_only=True):
            rows.append(
                ["" if v is None else (v.date().isoformat() if isinstance(v, datetime) else str(v)) for v in values]
            )
            if len(rows) > MAX_IMPORT_ROWS + 1:
                break
        book.close()
        return rows
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ValidationFailed(errors={"file": ["文件编码无法识别（请使用UTF-8或GBK）"]})
    return [row for row in csv.reader(io.StringIO(text))][: MAX_IMPORT_ROWS + 2]


def _parse_date(value: str) -> date | None:
    value = (value or "").strip().replace("/", "-").replace("年", "-").replace("月", "-").replace("日", "")
    if not value:
        return None
    if value.isdigit() and len(value) == 8:
        value = f"{value[:4]}-{value[4:6]}-{value[6:]}"
    parts = value.split("-")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError
    return date(int(parts[0]), int(parts[1]), int(parts[2]))


@dataclass
class ImportResult:
    rows: int
    added: int
    updated: int
    errors: list[tuple[int, str, str]]  # (row number, column, reason)


def import_file(actor: Actor, path: str | Path, *, default_months: int = 12) -> ImportResult:
    """Import a list of persons to monitor (see the module docstring). All or nothing."""
    path = Path(path)
    rows = _read_rows(path)
    if not rows:
        raise ValidationFailed(errors={"file": ["文件为空"]})
    if len(rows) > MAX_IMPORT_ROWS + 1:
        raise ValidationFailed(errors={"file": [f"一次最多导入{MAX_IMPORT_ROWS}行"]})
    header = [h.strip().replace("(", "（").replace(")", "）") for h in rows[0]]
    index: dict[str, int] = {}
    for key, names in HEADERS.items():
        for n, h in enumerate(header):
            if h in {x.replace("(", "（").replace(")", "）") for x in names}:
                index[key] = n
    missing = [HEADERS[k][0] for k in ("id_number", "name", "township_code") if k not in index]
    if missing:
        raise ValidationFailed(errors={"file": [f"缺少列：{'、'.join(missing)}"]})
    townships = set(db.session.scalars(select(Region.code).where(Region.level == "township")))
    today = clock.local_today()
    errors: list[tuple[int, str, str]] = []
    out: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    for number, values in enumerate(rows[1:], start=2):
        if not any((v or "").strip() for v in values):
            continue

        def cell(key: str, values: list[str] = values) -> str:
            n = index.get(key)
            return (values[n] if n is not None and n < len(values) else "").strip()

        id_number, problems = validate_id_number(cell("id_number"))
        if problems:
            errors.append((number, "身份证号", problems[0]))
            continue
        name = cell("name")
        if not 1 <= len(name) <= 50:
            errors.append((number, "姓名", "请填写姓名（最多50字）"))
            continue
        township = cell("township_code")
        if township not in townships:
            errors.append((number, "乡镇（街道）代码", f"乡镇（街道）代码「{township[:12]}」不存在"))
            continue
        if not access.can_see(actor, township) and actor.kind != "system":
            errors.append((number, "乡镇（街道）代码", "该乡镇（街道）不在您的管辖范围内"))
            continue
        category = cell("category")
        source = IMPORT_CATEGORIES.get(category, "imported")
        try:
            start = _parse_date(cell("start")) or today
            end = _parse_date(cell("end")) or _add_months(start, default_months)
        except ValueError:
            errors.append((number, "开始日期/结束日期", "日期格式不正确（如2026-03-01）"))
            continue
        if end < start:
            errors.append((number, "结束日期", "结束日期早于开始日期"))
            continue
        bidx = pii.blind_index(id_number)
        if (bidx, source) in seen:
            errors.append((number, "身份证号", f"与第{seen[(bidx, source)]}行重复"))
            continue
        seen[(bidx, source)] = number
        household = cell("household") or id_number
        out.append(
            _row(
                pii.encrypt_id(id_number),
                bidx,
                pii.last4_index(id_number),
                name=name,
                source=source,
                source_ref=f"import:{path.name}"[:64],
                household_key=f"i{pii.blind_index(household)[:30]}",
                rank=_rank(cell("relation") or ("self" if household == id_number else "")),
                township=township,
                start=start,
                end=end,
            )
        )
    if errors:
        return ImportResult(rows=len(rows) - 1, added=0, updated=0, errors=errors)
    added, updated = _upsert(out)
    audit.record(
        actor,
        "monitoring.roster.import",
        ("monitoring_members", None),
        region=actor.region_code,
        file=path.name[:100],
        rows=len(out),
        added=added,
        updated=updated,
    )
    return ImportResult(rows=len(out), added=added, updated=updated, errors=[])


# --- for the engine ------------------------------------------------------------------------------------


ROSTER_COLUMNS = (
    "id_number",
    "household_key",
    "rank",
    "township_code",
    "county_code",
    "village_code",
    "name",
    "person_id",
    "household_id",
    "enrollment_id",
    "source",
)


def current(on: date) -> Any:
    return and_(
        MonitoringMember.period_start <= on,
        or_(MonitoringMember.period_end.is_(None), MonitoringMember.period_end >= on),
    )


def snapshot(
    on: date,
    *,
    counties: Iterable[str] | None = None,
    bidxs: Iterable[str] | None = None,
    households: bool = True,
    known: dict[str, str] | None = None,
) -> pa.Table:
    """The current members (one row per person: the source of highest priority) as an Arrow table.
    With ``bidxs``: those persons and (``households``) everyone sharing a household with them.
    ``known`` ({blind index: ID number}, e.g. the numbers of a load) spares their decryption."""
    known = known or {}
    stmt = select(MonitoringMember).where(current(on))
    if counties is not None:
        stmt = stmt.where(MonitoringMember.county_code.in_(list(counties) or ["-"]))
    members: list[MonitoringMember] = []
    if bidxs is not None:
        wanted = sorted(set(bidxs) | set(known))
        keys: set[str] = set()
        for start in range(0, len(wanted), CHUNK):
            found = list(
                db.session.scalars(stmt.where(MonitoringMember.id_number_bidx.in_(wanted[start : start + CHUNK])))
            )
            members.extend(found)
            keys.update(m.household_key for m in found)
        if households and keys:
            have = {m.id for m in members}
            key_list = sorted(keys)
            for start in range(0, len(key_list), CHUNK):
                for m in db.session.scalars(
                    stmt.where(MonitoringMember.household_key.in_(key_list[start : start + CHUNK]))
                ):
                    if m.id not in have:
                        members.append(m)
    else:
        members = list(db.session.scalars(stmt).yield_per(5000))
    best: dict[str, MonitoringMember] = {}
    for m in members:
        other = best.get(m.id_number_bidx)
        if other is None or SOURCE_PRIORITY.get(m.source, 9) < SOURCE_PRIORITY.get(other.source, 9):
            best[m.id_number_bidx] = m
    columns: dict[str, list[Any]] = {c: [] for c in ROSTER_COLUMNS}
    for m in best.values():
        columns["id_number"].append(known.get(m.id_number_bidx) or pii.decrypt_id(m.id_number_enc))
        for c in ROSTER_COLUMNS[1:]:
            columns[c].append(getattr(m, c))
    schema = pa.schema(
        [
            ("id_number", pa.string()),
            ("household_key", pa.string()),
            ("rank", pa.int64()),
            ("township_code", pa.string()),
            ("county_code", pa.string()),
            ("village_code", pa.string()),
            ("name", pa.string()),
            ("person_id", pa.int64()),
            ("household_id", pa.int64()),
            ("enrollment_id", pa.int64()),
            ("source", pa.string()),
        ]
    )
    return pa.table(columns, schema=schema)


def counts(actor: Actor) -> list[tuple[str, str, int]]:
    """Current members in the actor's region by source: (source, label, count)."""
    today = clock.local_today()
    rows = db.session.execute(
        select(MonitoringMember.source, func.count())
        .where(access.under(actor, MonitoringMember.township_code), current(today))
        .group_by(MonitoringMember.source)
    ).all()
    return [(s, MEMBER_SOURCES.get(s, s), n) for s, n in sorted(rows)]


def end_memberships(actor: Actor, ids: Sequence[int]) -> int:
    """(Used by tests and the CLI.) End memberships today."""
    result = db.session.execute(
        update(MonitoringMember)
        .where(MonitoringMember.id.in_(list(ids)), access.under(actor, MonitoringMember.township_code))
        .values(period_end=clock.local_today())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0
