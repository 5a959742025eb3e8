"""Existing recipients (存量救助对象导入): a county's current list in, all rows or none, set-based.

A file (xlsx or csv) has one row per member (columns: ``COLUMNS``). Rows with the same 户编号 form one
household; the row whose relation is 本人 is its head. A 低保 household gets one enrollment (payee: the
head; amount, start month and bank account from the head's row); in a 特困 household each row is one
person's enrollment (its own amount, start month and account).

``parse_file`` reads the file into ``SourceRow``s, ``import_rows`` checks every row (errors by row and
column, in Chinese) and, only if none fails, writes persons (by their blind index), facts (source
"import"), households, memberships, enrollments (the same column values as
``core.registry.enrollments.create``, decision_ref ``import:<county>:<head's blind index>:<program>``,
``特困``: the person's index), members and "created" events in a few multi-row INSERTs. Re-importing the
same file finds every enrollment by its decision_ref and writes nothing.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, insert, select, text, update

from core import clock, idnumber, pii
from core.actor import Actor
from core.applications.programs import PROGRAMS
from core.audit import services as audit
from core.database import db
from core.households.vocabulary import RELATIONS
from core.regions.models import Region
from core.registry import enrollments
from core.registry.models import (
    Enrollment,
    EnrollmentEvent,
    EnrollmentMember,
    Household,
    HouseholdMembership,
    Person,
    PersonFact,
)


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    required: str  # "yes", "head" (on the payee's row), "no"
    note: str


COLUMNS: tuple[Column, ...] = (
    Column("household", "户编号", "yes", "同一户的成员填相同的编号（如 0001）；仅用于本文件内分户"),
    Column("name", "姓名", "yes", "与身份证一致"),
    Column("id_number", "身份证号", "yes", "18位，校验位须正确"),
    Column(
        "relation",
        "与户主关系",
        "yes",
        "本人（户主）、配偶、子女、父母、兄弟姐妹、祖父母/外祖父母、孙子女/外孙子女、其他",
    ),
    Column("program", "救助项目", "head", "低保（最低生活保障）或 特困（特困人员救助供养），也可填代码 dibao / tekun"),
    Column("amount", "月发放金额（元）", "head", "低保：全户月发放金额，填在户主行；特困：每人一行各填"),
    Column("start_month", "起始月份", "head", "如 2024-03"),
    Column("township", "乡镇（街道）", "head", "本县乡镇（街道）的名称或9位代码（户主行必填）"),
    Column("village", "村（社区）", "no", "该乡镇下村（社区）的名称或12位代码"),
    Column("bank_name", "开户银行", "no", "如 中国农业银行进贤县支行"),
    Column("bank_account", "银行账号", "no", "发放账号，12至30位数字（低保填在户主行）"),
)
HEADERS = {c.header: c.key for c in COLUMNS}
HEADER_OF = {c.key: c.header for c in COLUMNS}
PROGRAM_ALIASES = {
    **{code: code for code in ("dibao", "tekun")},
    **{PROGRAMS[code]["label"]: code for code in ("dibao", "tekun")},
    **{PROGRAMS[code]["short"]: code for code in ("dibao", "tekun")},
}
RELATION_ALIASES = {"户主": "self"}
for _code, _label in RELATIONS.items():
    RELATION_ALIASES[_code] = _code
    for _part in [_label, *_label.split("/")]:
        RELATION_ALIASES[_part] = _code
DEMO_MAX_AMOUNT = Decimal("5000")  # the default REGISTRY_IMPORT_MAX_AMOUNT, for callers without the app config
CHUNK = 1000  # rows per multi-row INSERT / IN list
MAX_ERRORS_SHOWN = 200
FACT_FIELDS = ("name", "residence_township_code", "residence_village_code")

Progress = Callable[[str, int, int], None]  # (stage, rows just done, stage total)


@dataclass
class SourceRow:
    line: int  # the row number in the file (the header is row 1)
    values: dict[str, str]


@dataclass(frozen=True)
class RowError:
    line: int
    column: str | None  # a header, or None for the whole row / file
    message: str

    def __str__(self) -> str:
        where = f"第{self.line}行" if self.line else "文件"
        return f"{where}「{self.column}」：{self.message}" if self.column else f"{where}：{self.message}"


class ImportRefused(Exception):
    """The file was refused: nothing was written. ``errors`` by row and column."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"导入被拒绝：{len(errors)}处错误，未写入任何数据")
        self.errors = errors


@dataclass(eq=False)
class Member:
    row: SourceRow
    name: str
    id_number: str
    bidx: str
    relation: str
    person_id: int | None = None


@dataclass
class Payment:
    """One enrollment to create: the payee, who it covers, the money."""

    program: str
    payee: Member
    members: list[Member]
    amount: Decimal
    start_month: str
    bank_name: str | None
    bank_account: str | None
    decision_ref: str = ""


@dataclass
class PlannedHousehold:
    key: str
    head: Member
    members: list[Member]
    township_code: str
    village_code: str | None
    payments: list[Payment] = field(default_factory=list)
    source_id: str = ""
    household_id: int | None = None


@dataclass
class ImportResult:
    county_code: str
    rows: int = 0
    households_new: int = 0
    households_existing: int = 0  # already imported (same head, same county): left as they are
    persons_new: int = 0
    persons_matched: int = 0  # already in the registry (an application, a report, another import)
    enrollments_new: int = 0
    total_monthly_amount: Decimal = Decimal("0.00")
    dry_run: bool = False

    def lines(self) -> list[str]:
        verb = "将新增" if self.dry_run else "新增"
        return [
            f"读取 {self.rows} 行（县 {self.county_code}）",
            f"{verb}家庭 {self.households_new} 户，已导入过（未改动）{self.households_existing} 户",
            f"{verb}人员 {self.persons_new} 人，匹配已有人员 {self.persons_matched} 人",
            f"{verb}救助对象 {self.enrollments_new} 个，月发放合计 {self.total_monthly_amount:.2f} 元",
        ]


# --- reading --------------------------------------------------------------------------------------------


def decode_csv(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 (a superset of GBK and GB2312)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise ImportRefused([RowError(0, None, "无法识别文件编码，请另存为 UTF-8 或 GBK 编码的 CSV")]) from None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value.year:04d}-{value.month:02d}"
    if isinstance(value, date):
        return f"{value.year:04d}-{value.month:02d}"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()


def _rows_from_table(table: Iterable[Sequence[Any]]) -> list[SourceRow]:
    it = iter(table)
    header = next(it, None)
    if header is None:
        raise ImportRefused([RowError(0, None, "文件为空")])
    names = [_cell(h).rstrip("*＊").strip() for h in header]
    missing = [c.header for c in COLUMNS if c.header not in names]
    if missing:
        raise ImportRefused(
            [RowError(1, h, "缺少此列（请使用 flask registry import-template 生成的模板）") for h in missing]
        )
    index = {HEADERS[n]: i for i, n in enumerate(names) if n in HEADERS}
    rows: list[SourceRow] = []
    for line, raw in enumerate(it, start=2):
        cells = [v.strip() if type(v) is str else _cell(v) for v in raw]  # CSV cells are str already
        if not any(cells):
            continue
        values = {key: (cells[i] if i < len(cells) else "") for key, i in index.items()}
        rows.append(SourceRow(line, values))
    return rows


def parse_file(path: Path) -> list[SourceRow]:
    """The data rows of an .xlsx (first sheet) or .csv file, by column key."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _rows_from_table(csv.reader(io.StringIO(decode_csv(path.read_bytes()))))
    if suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        try:
            book = load_workbook(path, read_only=True, data_only=True)
        except Exception:  # noqa: BLE001 - any unreadable workbook is the user's file, not a crash
            raise ImportRefused([RowError(0, None, "无法读取该 Excel 文件，请确认是 .xlsx 格式")]) from None
        try:
            return _rows_from_table(book.worksheets[0].iter_rows(values_only=True))
        finally:
            book.close()
    raise ImportRefused([RowError(0, None, "只支持 .xlsx 或 .csv 文件")])


def county_from_rows(rows: list[SourceRow]) -> str:
    """The county of a file whose townships are given as 9-digit codes (else --county is needed)."""
    counties = {r.values["township"][:6] for r in rows if re.fullmatch(r"\d{9}", r.values["township"])}
    named = any(r.values["township"] and not re.fullmatch(r"\d{9}", r.values["township"]) for r in rows)
    if len(counties) == 1 and not named:
        return counties.pop()
    raise ImportRefused([RowError(0, None, "无法从乡镇（街道）代码确定所属县，请用 --county 指定县级代码（6位）")])


# --- checking --------------------------------------------------------------------------------------------

MONTH_RE = re.compile(r"^(\d{4})\s*(?:[-/.年]\s*)?(\d{1,2})\s*月?(?:[-/.]\d{1,2}日?)?$")


def parse_month(value: str) -> str | None:
    m = MONTH_RE.match(value.strip())
    if not m:
        return None
    year, month = int(m.group(1)), int(m.group(2))
    if not (1990 <= year <= 2100 and 1 <= month <= 12):
        return None
    return f"{year:04d}-{month:02d}"


def parse_import_amount(value: str, cap: Decimal) -> tuple[Decimal | None, str | None]:
    try:
        amount = Decimal(value.replace(",", "").replace("，", "").strip())
    except (InvalidOperation, ValueError):
        return None, "请填写数字金额（元），如 905.00"
    if not amount.is_finite():
        return None, "请填写数字金额（元），如 905.00"
    if amount < 0:
        return None, "金额不能为负数"
    if amount > cap:
        return None, f"金额超过导入上限 {cap} 元/月（REGISTRY_IMPORT_MAX_AMOUNT）"
    if amount != amount.quantize(Decimal("0.01")):
        return None, "金额最多保留两位小数"
    return amount.quantize(Decimal("0.01")), None


class _Regions:
    """The county's townships and villages, by code and by name."""

    def __init__(self, county_code: str) -> None:
        rows = db.session.execute(
            select(Region.code, Region.name, Region.level, Region.parent_code).where(
                Region.code.startswith(county_code, autoescape=True), Region.level.in_(("township", "village"))
            )
        ).all()
        self.townships = {r.code: r.name for r in rows if r.level == "township"}
        self.township_by_name = {r.name: r.code for r in rows if r.level == "township"}
        self.villages = {r.code: r.parent_code for r in rows if r.level == "village"}
        self.village_by_name = {(r.parent_code, r.name): r.code for r in rows if r.level == "village"}

    def township(self, value: str) -> str | None:
        if value in self.townships:
            return value
        return self.township_by_name.get(value)

    def village(self, township: str, value: str) -> str | None:
        if self.villages.get(value) == township:
            return value
        return self.village_by_name.get((township, value))


def _bidx_key(bidx: str) -> str:
    return bidx[:48]


def plan(
    rows: list[SourceRow], county_code: str, *, max_amount: Decimal, progress: Progress | None = None
) -> tuple[list[PlannedHousehold], list[RowError]]:
    """Check every row on its own and within its household; returns the households and all errors."""
    errors: list[RowError] = []
    say = progress or (lambda _s, _n, _t: None)
    regions = _Regions(county_code)
    if not regions.townships:
        return [], [RowError(0, None, f"未找到县 {county_code} 的乡镇（街道），请确认 --county 和行政区划数据")]
    latest_month = enrollments.add_months(enrollments.month_of(clock.local_today()), 1)
    seen_numbers: dict[str, int] = {}
    groups: dict[str, list[tuple[SourceRow, Member | None]]] = {}
    for done, row in enumerate(rows, start=1):
        v = row.values

        def err(key: str | None, message: str, row: SourceRow = row) -> None:
            errors.append(RowError(row.line, HEADER_OF[key] if key else None, message))

        key = v["household"]
        if not key:
            err("household", "请填写户编号")
        name = v["name"]
        if not name:
            err("name", "请填写姓名")
        elif len(name) > 50:
            err("name", "姓名不能超过50个字")
        member: Member | None = None
        number, problems = idnumber.validate_id_number(v["id_number"])
        if not v["id_number"]:
            err("id_number", "请填写身份证号")
        elif problems:
            err("id_number", problems[0])
        else:
            if number in seen_numbers:
                err("id_number", f"该身份证号已在第{seen_numbers[number]}行出现（同一人只能在一户中出现一次）")
            else:
                seen_numbers[number] = row.line
        relation = RELATION_ALIASES.get(v["relation"])
        if relation is None:
            err(
                "relation", "请填写与户主关系：本人、配偶、子女、父母、兄弟姐妹、祖父母/外祖父母、孙子女/外孙子女或其他"
            )
        if v["program"] and v["program"] not in PROGRAM_ALIASES:
            err("program", "救助项目只能是低保（最低生活保障）或特困（特困人员救助供养）")
        if v["bank_account"]:
            account = re.sub(r"[\s-]", "", v["bank_account"])
            if not re.fullmatch(r"\d{12,30}", account):
                err("bank_account", "银行账号应为12至30位数字")
        if name and not problems and relation and len(name) <= 50:
            member = Member(row, name, number, pii.blind_index(number), relation)
        groups.setdefault(key, []).append((row, member))
        if done % CHUNK == 0:
            say("check", CHUNK, len(rows))
    if len(rows) % CHUNK:
        say("check", len(rows) % CHUNK, len(rows))
    households: list[PlannedHousehold] = []
    for key, items in groups.items():
        if not key:
            continue
        heads = [(r, m) for r, m in items if RELATION_ALIASES.get(r.values["relation"]) == "self"]
        if not heads:
            errors.append(
                RowError(items[0][0].line, HEADER_OF["relation"], f"户编号 {key} 没有户主（与户主关系为“本人”的一行）")
            )
            continue
        if len(heads) > 1:
            errors.append(
                RowError(heads[1][0].line, HEADER_OF["relation"], f"户编号 {key} 有多名户主（与户主关系为“本人”）")
            )
            continue
        head_row, head = heads[0]
        hv = head_row.values
        program = PROGRAM_ALIASES.get(hv["program"])
        if not hv["program"]:
            errors.append(RowError(head_row.line, HEADER_OF["program"], "户主行请填写救助项目"))
        for r, _ in items:
            other = PROGRAM_ALIASES.get(r.values["program"])
            if r is not head_row and other and program and other != program:
                errors.append(RowError(r.line, HEADER_OF["program"], "同一户的救助项目应与户主行一致"))
        if program is None:
            continue
        township = regions.township(hv["township"]) if hv["township"] else None
        if not hv["township"]:
            errors.append(RowError(head_row.line, HEADER_OF["township"], "户主行请填写乡镇（街道）"))
        elif township is None:
            errors.append(
                RowError(
                    head_row.line, HEADER_OF["township"], f"本县（{county_code}）没有乡镇（街道）“{hv['township']}”"
                )
            )
        village = None
        if township and hv["village"]:
            village = regions.village(township, hv["village"])
            if village is None:
                errors.append(
                    RowError(
                        head_row.line,
                        HEADER_OF["village"],
                        f"{regions.townships[township]}没有村（社区）“{hv['village']}”",
                    )
                )
        for r, _ in items:
            if r is head_row:
                continue
            if r.values["township"] and township and regions.township(r.values["township"]) != township:
                errors.append(RowError(r.line, HEADER_OF["township"], "同一户的乡镇（街道）应与户主行一致"))
        payers = [(head_row, head)] if program == "dibao" else items
        payments: list[Payment] = []
        for r, m in payers:
            rv = r.values
            amount = month = None
            if not rv["amount"]:
                what = "户主行请填写全户月发放金额" if program == "dibao" else "特困人员每人一行，请填写月发放金额"
                errors.append(RowError(r.line, HEADER_OF["amount"], what))
            else:
                amount, problem = parse_import_amount(rv["amount"], max_amount)
                if problem:
                    errors.append(RowError(r.line, HEADER_OF["amount"], problem))
            raw_month = rv["start_month"] or (hv["start_month"] if program == "tekun" else "")
            if not raw_month:
                errors.append(RowError(r.line, HEADER_OF["start_month"], "请填写起始月份，如 2024-03"))
            else:
                month = parse_month(raw_month)
                if month is None:
                    errors.append(RowError(r.line, HEADER_OF["start_month"], "起始月份格式不正确，应如 2024-03"))
                elif month > latest_month:
                    errors.append(RowError(r.line, HEADER_OF["start_month"], f"起始月份不能晚于 {latest_month}"))
                    month = None
            if m is not None and amount is not None and month is not None:
                account = re.sub(r"[\s-]", "", rv["bank_account"]) or None
                payments.append(Payment(program, m, [], amount, month, rv["bank_name"] or None, account))
        if program == "dibao":
            for r, _ in items:
                if r is not head_row and r.values["amount"]:
                    errors.append(RowError(r.line, HEADER_OF["amount"], "低保按户发放：金额只填在户主行，成员行请留空"))
        members = [m for _, m in items if m is not None]
        if head is None or township is None or len(members) != len(items):
            continue
        if len(payments) != len(payers):
            continue
        for payment in payments:
            payment.members = members if program == "dibao" else [payment.payee]
            subject = head.bidx if program == "dibao" else payment.payee.bidx
            payment.decision_ref = f"import:{county_code}:{subject}:{program}"
        households.append(
            PlannedHousehold(
                key,
                head,
                members,
                township,
                village,
                payments,
                source_id=f"{county_code}:{_bidx_key(head.bidx)}",
            )
        )
    return households, errors


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _check_database(
    households: list[PlannedHousehold], county_code: str, errors: list[RowError]
) -> tuple[list[PlannedHousehold], int]:
    """Match persons; drop households already imported; refuse persons covered by another active enrollment
    of the same programme (a person in two 低保 households)."""
    members = [m for h in households for m in h.members]
    by_bidx = {m.bidx: m for m in members}
    for chunk in _chunks(list(by_bidx)):
        for pid, bidx in db.session.execute(
            select(Person.id, Person.id_number_bidx).where(Person.id_number_bidx.in_(chunk))
        ):
            by_bidx[bidx].person_id = pid
    imported: set[str] = set()
    source_ids = [h.source_id for h in households]
    for chunk in _chunks(source_ids):
        imported.update(
            db.session.scalars(
                select(Household.source_id).where(Household.source_type == "import", Household.source_id.in_(chunk))
            )
        )
    fresh = [h for h in households if h.source_id not in imported]
    own_refs = {p.decision_ref for h in fresh for p in h.payments}  # an imported household's are "another"
    known = [m for h in fresh for m in h.members if m.person_id is not None]
    member_of = {m.person_id: m for m in known}
    household_of = {id(m): h for h in fresh for m in h.members}
    for chunk in _chunks([m.person_id for m in known]):
        stmt = (
            select(EnrollmentMember.person_id, Enrollment.program, Enrollment.decision_ref, Enrollment.reference)
            .join(Enrollment, Enrollment.id == EnrollmentMember.enrollment_id)
            .where(EnrollmentMember.person_id.in_(chunk), Enrollment.status.in_(("active", "suspended")))
        )
        for person_id, program, ref, reference in db.session.execute(stmt):
            member = member_of[person_id]
            programs = {p.program for p in household_of[id(member)].payments}
            if program in programs and ref not in own_refs:
                label = PROGRAMS[program]["short"]
                errors.append(
                    RowError(
                        member.row.line,
                        HEADER_OF["id_number"],
                        f"此人已在另一户在保的{label}中（救助对象编号 {reference}），同一人不能在两户{label}中",
                    )
                )
    return fresh, len(households) - len(fresh)


def _lock(county_code: str) -> None:
    """One import per county at a time on PostgreSQL (the second waits, then finds the first's rows)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": 110_000_000 + int(county_code)})


def _unique_references(n: int) -> list[str]:
    """``n`` new enrollment references (core.registry.enrollments' format), none already stored."""
    refs: set[str] = set()
    while len(refs) < n:
        batch = {enrollments.new_reference() for _ in range(n - len(refs))} - refs
        for chunk in _chunks(list(batch)):
            batch -= set(db.session.scalars(select(Enrollment.reference).where(Enrollment.reference.in_(chunk))))
        refs |= batch
    return list(refs)


def import_rows(
    actor: Actor,
    rows: list[SourceRow],
    county_code: str,
    *,
    max_amount: Decimal,
    dry_run: bool = False,
    progress: Progress | None = None,
    source_name: str | None = None,
) -> ImportResult:
    """Check every row, then (unless ``dry_run``) write all of it; raises ``ImportRefused`` with every error.

    Flushes only: the caller commits (or, on a refusal or a dry run, nothing is written)."""
    say = progress or (lambda _s, _n, _t: None)
    result = ImportResult(county_code=county_code, rows=len(rows), dry_run=dry_run)
    if db.session.get(Region, county_code) is None or len(county_code) != 6:
        raise ImportRefused([RowError(0, None, f"未找到县级行政区划 {county_code}")])
    if not rows:
        raise ImportRefused([RowError(0, None, "文件中没有数据行")])
    _lock(county_code)
    households, errors = plan(rows, county_code, max_amount=max_amount, progress=say)
    fresh, result.households_existing = _check_database(households, county_code, errors)
    if errors:
        errors.sort(key=lambda e: (e.line, list(HEADER_OF.values()).index(e.column) if e.column else -1))
        raise ImportRefused(errors)
    members = [m for h in fresh for m in h.members]
    result.households_new = len(fresh)
    result.persons_matched = sum(1 for m in members if m.person_id is not None)
    result.persons_new = len(members) - result.persons_matched
    payments = [p for h in fresh for p in h.payments]
    result.enrollments_new = len(payments)
    result.total_monthly_amount = sum((p.amount for p in payments), Decimal("0.00"))
    if dry_run or not fresh:
        return result
    _write(actor, fresh, county_code, say)
    audit.record(
        actor,
        "registry.import",
        None,
        region=county_code,
        source=source_name,
        rows=len(rows),
        households=result.households_new,
        persons_new=result.persons_new,
        enrollments=result.enrollments_new,
    )
    return result


def _copy_supported() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _insert(model: Any, rows: list[dict[str, Any]], key: str | None = None, *, where: Any = None) -> dict[Any, int]:
    """Insert ``rows`` (dicts with the same keys) set-based; with ``key``, return {row[key]: new id}.

    PostgreSQL: ids drawn from the table's sequence in one query, then one COPY in the session's
    transaction. Elsewhere (SQLite): an executemany INSERT per ``CHUNK`` rows, the ids read back by ``key``."""
    if not rows:
        return {}
    table = model.__table__
    if _copy_supported():
        if key is not None:
            ids = db.session.scalars(
                text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
                {"t": table.name, "n": len(rows)},
            ).all()
            for row, new_id in zip(rows, ids, strict=True):
                row["id"] = new_id
        names = list(rows[0])
        json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
        raw = db.session.connection().connection.driver_connection
        columns = ", ".join(f'"{n}"' for n in names)
        with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([json.dumps(row[n], ensure_ascii=False) if n in json_columns else row[n] for n in names])
        return {row[key]: row["id"] for row in rows} if key is not None else {}
    found: dict[Any, int] = {}
    for chunk in _chunks(rows):
        db.session.execute(insert(table), list(chunk))  # executemany (RETURNING would go row by row here)
        if key is not None:
            column = getattr(model, key)  # unique: the new rows' ids read back by it
            found.update(
                (k, new_id)
                for new_id, k in db.session.execute(
                    select(model.id, column).where(
                        column.in_([row[key] for row in chunk]), *([] if where is None else [where])
                    )
                )
            )
    return found


def _write(actor: Actor, fresh: list[PlannedHousehold], county_code: str, say: Progress) -> None:
    now = clock.utcnow()
    today = clock.local_today()
    members = [m for h in fresh for m in h.members]
    place = {id(m): h for h in fresh for m in h.members}
    db.session.flush()
    # persons: the new ones inserted; the known ones take the import's facts as their current values
    new = [m for m in members if m.person_id is None]
    known = [m for m in members if m.person_id is not None]
    total = len(new) + len(fresh)  # progress: persons encrypted, then households written
    values = []
    for done, m in enumerate(new, start=1):
        h = place[id(m)]
        number = m.id_number
        values.append(
            {
                "id_number_enc": pii.encrypt_id(number),
                "id_number_bidx": m.bidx,
                "id_number_l4": pii.last4_index(number),
                "name": m.name,
                "gender": "M" if int(number[16]) % 2 else "F",
                "birth_date": idnumber.birth_date(number),
                "residence_township_code": h.township_code,
                "residence_village_code": h.village_code,
                "county_code": county_code,
                "created_at": now,
                "updated_at": now,
            }
        )
        if done % CHUNK == 0:
            say("write", CHUNK, total)
    ids = _insert(Person, values, key="id_number_bidx")
    for m in new:
        m.person_id = ids[m.bidx]
    for chunk in _chunks(known):
        db.session.execute(
            update(Person),
            [
                {
                    "id": m.person_id,
                    "name": m.name,
                    "residence_township_code": place[id(m)].township_code,
                    "residence_village_code": place[id(m)].village_code,
                    "county_code": county_code,
                    "updated_at": now,
                }
                for m in chunk
            ],
        )
    say("write", len(new) % CHUNK, total)
    facts = [
        {
            "person_id": m.person_id,
            "field": name,
            "value": value,
            "source_type": "import",
            "source_id": h.source_id,
            "recorded_at": now,
        }
        for h in fresh
        for m in h.members
        for name, value in zip(FACT_FIELDS, (m.name, h.township_code, h.village_code), strict=True)
        if value
    ]
    _insert(PersonFact, facts)
    # households and memberships (joining ends a known person's other current membership)
    ids = _insert(
        Household,
        [
            {
                "head_person_id": h.head.person_id,
                "residence_township_code": h.township_code,
                "residence_village_code": h.village_code,
                "hukou_township_code": None,
                "county_code": county_code,
                "source_type": "import",
                "source_id": h.source_id,
                "created_at": now,
                "updated_at": now,
            }
            for h in fresh
        ],
        key="source_id",
        where=Household.source_type == "import",
    )
    for h in fresh:
        h.household_id = ids[h.source_id]
    for chunk in _chunks([m.person_id for m in known]):
        db.session.execute(
            update(HouseholdMembership.__table__)
            .where(HouseholdMembership.person_id.in_(chunk), HouseholdMembership.ended_on.is_(None))
            .values(ended_on=today)
        )
    _insert(
        HouseholdMembership,
        [
            {
                "household_id": h.household_id,
                "person_id": m.person_id,
                "relation": m.relation,
                "started_on": today,
                "ended_on": None,
            }
            for h in fresh
            for m in h.members
        ],
    )
    # enrollments: the same column values as enrollments.create(), then members and "created" events
    payments = [(h, p) for h in fresh for p in h.payments]
    references = _unique_references(len(payments))
    rows = [
        enrollments.new_values(
            decision_ref=p.decision_ref,
            program=p.program,
            household_id=h.household_id,
            person_id=p.payee.person_id,
            member_count=len(p.members),
            amount=p.amount,
            start_month=p.start_month,
            township_code=h.township_code,
            village_code=h.village_code,
            payee_name=p.payee.name,
            bank_name=p.bank_name,
            bank_account=p.bank_account,
            reference=ref,
        )
        | {"created_at": now, "updated_at": now, "version": 1}
        for (h, p), ref in zip(payments, references, strict=True)
    ]
    enrollment_ids = _insert(Enrollment, rows, key="decision_ref")
    _insert(
        EnrollmentMember,
        [
            {"enrollment_id": enrollment_ids[p.decision_ref], "person_id": m.person_id, "relation": m.relation}
            for _, p in payments
            for m in p.members
        ],
    )
    kind = enrollments.created_kind("import")
    _insert(
        EnrollmentEvent,
        [
            {
                "enrollment_id": enrollment_ids[values["decision_ref"]],
                "kind": kind,
                "actor_type": actor.kind,
                "actor_id": actor.id,
                "reason": "存量对象导入",
                "diff": enrollments.created_diff(values),
                "source_type": "import",
                "source_id": None,
                "effective_month": values["start_month"],
                "created_at": now,
            }
            for values in rows
        ],
    )
    say("write", len(fresh), total)
    db.session.flush()


# --- the template ------------------------------------------------------------------------------------------


def example_rows() -> list[list[str]]:
    """Three example rows (a 低保 household of two, a 特困 person) with valid, made-up ID numbers."""
    head = idnumber.make_id_number("360124", date(1970, 5, 6), 11)
    spouse = idnumber.make_id_number("360124", date(1972, 8, 15), 22)
    alone = idnumber.make_id_number("360124", date(1944, 1, 1), 44)
    return [
        [
            "0001",
            "王大明",
            head,
            "本人",
            "低保",
            "905.00",
            "2024-03",
            "民和镇",
            "岚湖社区居委会",
            "中国农业银行进贤县支行",
            "6228480000000000011",
        ],
        ["0001", "李秀英", spouse, "配偶", "", "", "", "", "", "", ""],
        [
            "0002",
            "张桂兰",
            alone,
            "本人",
            "特困",
            "1150.00",
            "2023-07",
            "360124101",
            "",
            "江西农商银行李渡支行",
            "6230000000000000048",
        ],
    ]


def write_template(path: Path) -> None:
    """An empty import sheet (Chinese headers, widths, frozen header, drop-downs) and a sheet of notes."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    sheet = book.active
    sheet.title = "救助对象"
    sheet.append([c.header for c in COLUMNS])
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    widths = (10, 12, 22, 14, 12, 16, 12, 20, 22, 26, 24)
    for index, (column, width) in enumerate(zip(COLUMNS, widths, strict=True), start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(horizontal="center")
        sheet.column_dimensions[cell.column_letter].width = width
        if column.key in ("id_number", "bank_account", "household", "start_month"):
            for row in range(2, 2002):
                sheet.cell(row=row, column=index).number_format = "@"  # text: no 3.6E+17, no lost zeros
    sheet.freeze_panes = "A2"
    relation = DataValidation(
        type="list", formula1='"本人,配偶,子女,父母,兄弟姐妹,祖父母/外祖父母,孙子女/外孙子女,其他"'
    )
    program = DataValidation(type="list", formula1='"低保,特困"', allow_blank=True)
    sheet.add_data_validation(relation)
    sheet.add_data_validation(program)
    relation.add("D2:D100000")
    program.add("E2:E100000")
    notes = book.create_sheet("填写说明")
    notes.append(["列名", "是否必填", "说明"])
    required = {"yes": "必填", "head": "户主行必填（特困：每行必填）", "no": "选填"}
    for column in COLUMNS:
        notes.append([column.header, required[column.required], column.note])
    notes.append([])
    notes.append(
        [
            "规则",
            "",
            "每行一名成员；同一户编号为一户，须有且只有一行“本人”（户主）。整份文件全部正确才会导入，否则一行也不写入。",
        ]
    )
    notes.append(
        ["", "", "同一人（身份证号）只能出现一次；已在另一户在保低保中的人会被拒绝；重复导入同一文件不会重复新增。"]
    )
    notes.append([])
    notes.append(["示例（请勿复制到第一张表以外的位置）"])
    notes.append([c.header for c in COLUMNS])
    for example in example_rows():
        notes.append(example)
    for cell in notes[1]:
        cell.font = bold
    notes.column_dimensions["A"].width = 18
    notes.column_dimensions["B"].width = 26
    notes.column_dimensions["C"].width = 80
    book.save(path)
