"""The data catalogue (数据目录): categories of department data, their versioned schemas, and the loads
that brought data in (with provenance, counts, rejections and freshness).

Only this metadata lives in the OLTP database; the rows themselves are Parquet files (core.exchange.store).
The default categories are data (core.exchange.defaults), installed on first use; a category changes by a
new schema version (``add_schema_version``), and loads keep the version they were checked against.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from core import access, clock
from core.actor import Actor
from core.audit import services as audit
from core.database import UTCDateTime, db
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.exchange import defaults
from core.exchange.models import DEPARTMENT_KINDS, Department

LOAD_STATUSES = {
    "pending": "排队中",
    "running": "处理中",
    "completed": "已完成",
    "failed": "失败",
    "purged": "已按保存期限删除",
}
LOAD_SOURCES = {"upload": "门户上传", "api_file": "接口上传文件", "push": "接口批量推送", "cli": "命令行导入"}
# Officers who run the catalogue (upload, schema, retention) and those who may read it.
MANAGE_ROLES = frozenset({"data_officer", "system_admin"})
READ_ROLES = frozenset({"data_officer", "county_officer", "city_admin", "system_admin"})
ADMIN_ROLES = frozenset({"system_admin"})


class DataCategory(db.Model):
    """A kind of department data (死亡, 养老金 …): who provides it, how a load applies, how long it is kept."""

    __tablename__ = "exchange_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    department_kind: Mapped[str] = mapped_column(String(30))
    load_rule: Mapped[str] = mapped_column(String(10))  # snapshot | increment
    refresh_days: Mapped[int] = mapped_column(Integer)  # expected refresh interval
    retention_days: Mapped[int] = mapped_column(Integer)  # loads older than this are purged (PIPL)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow, onupdate=clock.utcnow)


class CategorySchema(db.Model):
    """One version of a category's columns (key, label, type, required, code list, unit, header aliases)."""

    __tablename__ = "exchange_category_schemas"

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("exchange_categories.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    columns: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    id_column: Mapped[str] = mapped_column(String(40))
    date_column: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)

    __table_args__ = (UniqueConstraint("category_id", "version", name="uq_exchange_category_schemas_version"),)


class DataLoad(db.Model):
    """One delivery of a category's data (a file or a pushed batch), with where it came from and what
    became of it. ``batch_id`` is unique per client and category: a retried batch finds its load."""

    __tablename__ = "exchange_loads"

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("exchange_categories.id"))
    schema_version: Mapped[int] = mapped_column(Integer)
    department_id: Mapped[int] = mapped_column(ForeignKey("exchange_departments.id"), index=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("exchange_clients.id"))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    source: Mapped[str] = mapped_column(String(10))  # LOAD_SOURCES
    filename: Mapped[str | None] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    batch_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    stage: Mapped[str | None] = mapped_column(String(20))
    progress: Mapped[int] = mapped_column(Integer, default=0)  # percent
    rows_total: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_accepted: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    rejected_by_reason: Mapped[dict[str, int] | None] = mapped_column(JSON)
    min_effective_date: Mapped[date | None] = mapped_column(Date)
    max_effective_date: Mapped[date | None] = mapped_column(Date)
    source_key: Mapped[str | None] = mapped_column(String(300))  # the received file, until it is processed
    storage_path: Mapped[str | None] = mapped_column(String(300))  # the load's Parquet directory
    error_report_key: Mapped[str | None] = mapped_column(String(300))  # rejected rows (Parquet)
    message: Mapped[str | None] = mapped_column(Text)  # why a load failed, in Chinese
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("client_id", "category_id", "batch_id", name="uq_exchange_loads_client_batch"),
        Index("ix_exchange_loads_category_status", "category_id", "status"),
    )


# --- schema --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    type: str
    required: bool
    codes: dict[str, str] | None
    unit: str | None
    aliases: tuple[str, ...]

    @property
    def sql_type(self) -> str:
        return {"varchar": "VARCHAR", "integer": "BIGINT", "decimal": "DECIMAL(18,2)", "date": "DATE"}[self.type]


@dataclass(frozen=True)
class Schema:
    category: str
    version: int
    columns: tuple[Column, ...]
    id_column: str
    date_column: str

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)

    @property
    def data_columns(self) -> tuple[Column, ...]:
        """The typed columns stored after the normalized ones (the ID number is ``id_number``)."""
        return tuple(c for c in self.columns if c.key != self.id_column)

    def header_map(self) -> dict[str, str]:
        """Accepted header text (key, label, aliases; compared without spaces) → column key."""
        names: dict[str, str] = {}
        for c in self.columns:
            for name in (c.key, c.label, *c.aliases):
                names.setdefault(normalize_header(name), c.key)
        return names


def normalize_header(text: str) -> str:
    return "".join(str(text or "").replace("\ufeff", "").split()).replace("（", "(").replace("）", ")").lower()


def _columns_from_json(raw: list[dict[str, Any]]) -> tuple[Column, ...]:
    return tuple(
        Column(
            key=c["key"],
            label=c["label"],
            type=c.get("type", "varchar"),
            required=bool(c.get("required")),
            codes=c.get("codes") or None,
            unit=c.get("unit"),
            aliases=tuple(c.get("aliases") or ()),
        )
        for c in raw
    )


def schema_of(category: DataCategory, version: int | None = None) -> Schema:
    row = db.session.scalar(
        select(CategorySchema).where(
            CategorySchema.category_id == category.id,
            CategorySchema.version == (version or category.current_version),
        )
    )
    if row is None:
        raise NotFound("该数据类别没有此版本的结构定义")
    return Schema(category.code, row.version, _columns_from_json(row.columns), row.id_column, row.date_column)


COLUMN_KEY_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")
RESERVED_KEYS = frozenset({"id_number", "effective_date", "load_id", "row_no"})


def check_columns(columns: list[dict[str, Any]], id_column: str, date_column: str) -> list[dict[str, Any]]:
    """Validate a schema definition; returns it normalized, or raises ValidationFailed (Chinese)."""
    errors: list[str] = []
    if not isinstance(columns, list) or not columns or len(columns) > 100:
        raise ValidationFailed(errors={"columns": ["结构须包含1至100个列"]})
    seen: set[str] = set()
    out = []
    for index, c in enumerate(columns, start=1):
        if not isinstance(c, dict):
            errors.append(f"第{index}列定义格式不正确")
            continue
        key = str(c.get("key") or "")
        if not key or len(key) > 40 or set(key) - COLUMN_KEY_CHARS or key[0].isdigit():
            errors.append(f"第{index}列的代码须为小写字母、数字和下划线（不以数字开头，最多40个字符）")
        elif key in seen:
            errors.append(f"列代码「{key}」重复")
        elif key in RESERVED_KEYS - {id_column}:
            errors.append(f"列代码「{key}」为系统保留")
        seen.add(key)
        if c.get("type", "varchar") not in defaults.COLUMN_TYPES:
            errors.append(f"列「{key}」的类型须为：" + "、".join(defaults.COLUMN_TYPES))
        if not str(c.get("label") or "").strip():
            errors.append(f"列「{key}」缺少中文名称")
        codes = c.get("codes")
        if codes is not None and (not isinstance(codes, dict) or not all(isinstance(v, str) for v in codes.values())):
            errors.append(f"列「{key}」的代码表须为 代码→名称 的对应")
        out.append(
            defaults.col(
                key,
                str(c.get("label") or "").strip(),
                c.get("type", "varchar"),
                required=bool(c.get("required")),
                codes={str(k): v for k, v in codes.items()} if isinstance(codes, dict) else None,
                unit=c.get("unit"),
                aliases=tuple(str(a) for a in c.get("aliases") or ()),
            )
        )
    if id_column not in seen:
        errors.append("须指定身份证号所在的列")
    if date_column not in seen:
        errors.append("须指定生效日期所在的列")
    elif next((c for c in out if c["key"] == date_column), {}).get("type") != "date":
        errors.append("生效日期列的类型须为日期")
    if errors:
        raise ValidationFailed(errors={"columns": errors})
    return out


# --- categories ----------------------------------------------------------------------------------------


def install_defaults(actor: Actor) -> list[str]:
    """Write the default categories that are missing (schema version 1); returns their codes. Idempotent."""
    existing = set(db.session.scalars(select(DataCategory.code)))
    added = []
    for spec in defaults.DEFAULT_CATEGORIES:
        if spec["code"] in existing:
            continue
        try:  # two requests installing at once: the unique code lets one win, the other skips it
            with db.session.begin_nested():
                category = DataCategory(
                    code=spec["code"],
                    name=spec["name"],
                    department_kind=spec["department_kind"],
                    load_rule=spec["load_rule"],
                    refresh_days=spec["refresh_days"],
                    retention_days=spec["retention_days"],
                    current_version=1,
                )
                db.session.add(category)
                db.session.flush()
                db.session.add(
                    CategorySchema(
                        category_id=category.id,
                        version=1,
                        columns=spec["columns"],
                        id_column="id_number",
                        date_column=spec["date_column"],
                        created_by=actor.label[:40],
                    )
                )
                db.session.flush()
        except IntegrityError:
            continue
        added.append(spec["code"])
    if added:
        db.session.flush()
        audit.record(actor, "exchange.catalogue.install", None, categories=",".join(added))
    return added


def get_category(code: str) -> DataCategory:
    """A category by its code; the defaults are installed the first time one of them is asked for."""
    category = db.session.scalar(select(DataCategory).where(DataCategory.code == (code or "")))
    if category is None and code in defaults.DEFAULTS_BY_CODE:
        from core.actor import SYSTEM

        install_defaults(SYSTEM)
        category = db.session.scalar(select(DataCategory).where(DataCategory.code == code))
    if category is None:
        raise NotFound("数据类别不存在", errors={"category": [f"数据类别「{code}」不在数据目录中"]})
    return category


def add_schema_version(
    actor: Actor, code: str, *, columns: list[dict[str, Any]], id_column: str, date_column: str
) -> CategorySchema:
    """A new schema version becomes current; earlier loads keep theirs."""
    require(actor, ADMIN_ROLES | MANAGE_ROLES)
    category = get_category(code)
    normalized = check_columns(columns, id_column, date_column)
    version = (
        db.session.scalar(select(func.max(CategorySchema.version)).where(CategorySchema.category_id == category.id))
        or 0
    ) + 1
    row = CategorySchema(
        category_id=category.id,
        version=version,
        columns=normalized,
        id_column=id_column,
        date_column=date_column,
        created_by=actor.label[:40],
    )
    db.session.add(row)
    category.current_version = version
    db.session.flush()
    audit.record(actor, "exchange.schema.add", category, version=version, columns=len(normalized))
    return row


def set_retention(actor: Actor, code: str, days: int) -> DataCategory:
    require(actor, ADMIN_ROLES)
    if not isinstance(days, int) or not 1 <= days <= 36500:
        raise ValidationFailed(errors={"retention_days": ["保存期限须为1至36500天"]})
    category = get_category(code)
    before = category.retention_days
    category.retention_days = days
    db.session.flush()
    audit.record(actor, "exchange.retention.set", category, changes={"retention_days": [before, days]})
    return category


def require(actor: Actor, roles: frozenset[str]) -> None:
    if not set(actor.roles) & roles:
        raise PermissionDenied("您没有权限管理部门数据")


# --- which loads an officer sees ------------------------------------------------------------------------


def departments_visible_to(actor: Actor) -> Any:
    """A WHERE clause on Department: departments in the actor's region or above it (a province's 公安
    covers every county). A system administrator sees all; an empty scope sees none."""
    if access.sees_everything(actor):
        return true()
    own = access.scope(actor)
    if own is None:
        return false()
    prefixes = [own[:n] for n in (2, 4, 6, 9, 12) if n <= len(own)]
    return or_(access.under(actor, Department.region_code), Department.region_code.in_(prefixes))


def departments_managed_by(actor: Actor) -> Any:
    """Departments an officer may upload for: inside their region (not above it)."""
    return access.under(actor, Department.region_code)


def upload_choices(actor: Actor) -> tuple[list[Department], list[DataCategory]]:
    """The departments an officer may upload for and the categories (defaults installed)."""
    require(actor, MANAGE_ROLES)
    if not db.session.scalar(select(DataCategory.id).limit(1)):
        install_defaults(actor)
    departments = db.session.scalars(
        select(Department).where(departments_managed_by(actor), Department.active).order_by(Department.name)
    )
    return list(departments), list(db.session.scalars(select(DataCategory).order_by(DataCategory.id)))


def visible_departments(actor: Actor) -> list[Department]:
    stmt = select(Department).where(departments_visible_to(actor))
    return list(db.session.scalars(stmt.order_by(Department.region_code, Department.name)))


def get_load_for_officer(actor: Actor, load_id: int) -> DataLoad:
    require(actor, READ_ROLES)
    load = db.session.get(DataLoad, load_id)
    if load is None:
        raise NotFound("未找到该批次")
    department = db.session.get(Department, load.department_id)
    if department is None or department.id not in {d.id for d in visible_departments(actor)}:
        raise NotFound("未找到该批次")
    return load


# --- freshness and the catalogue page -------------------------------------------------------------------


@dataclass
class Freshness:
    latest_effective_date: date | None
    last_load_at: datetime | None
    stale: bool
    rows: int
    loads: int


def current_loads(category: DataCategory, department_ids: set[int] | None = None) -> list[DataLoad]:
    """The loads whose data are current: for a snapshot, the latest completed load of each department;
    for an increment, every completed load (purged ones are gone)."""
    stmt = select(DataLoad).where(DataLoad.category_id == category.id, DataLoad.status == "completed")
    if department_ids is not None:
        stmt = stmt.where(DataLoad.department_id.in_(department_ids or {-1}))
    loads = list(db.session.scalars(stmt.order_by(DataLoad.finished_at.desc(), DataLoad.id.desc())))
    if category.load_rule != defaults.SNAPSHOT:
        return loads
    latest: dict[int, DataLoad] = {}
    for load in loads:
        latest.setdefault(load.department_id, load)
    return list(latest.values())


def freshness(category: DataCategory, department_ids: set[int] | None = None) -> Freshness:
    loads = current_loads(category, department_ids)
    latest = max((x.max_effective_date for x in loads if x.max_effective_date), default=None)
    last = max((x.finished_at for x in loads if x.finished_at), default=None)
    today = clock.local_today()
    stale = latest is None or latest < today - timedelta(days=category.refresh_days)
    return Freshness(latest, last, stale, sum(x.rows_accepted for x in loads), len(loads))


def catalogue_rows(actor: Actor) -> list[dict[str, Any]]:
    """One row per category for the catalogue page, counted over the loads the actor may see."""
    require(actor, READ_ROLES)
    if not db.session.scalar(select(DataCategory.id).limit(1)):
        install_defaults(actor)
    departments = visible_departments(actor)
    ids = {d.id for d in departments}
    rows = []
    for category in db.session.scalars(select(DataCategory).order_by(DataCategory.id)):
        fresh = freshness(category, ids)
        last = db.session.scalar(
            select(DataLoad)
            .where(DataLoad.category_id == category.id, DataLoad.department_id.in_(ids or {-1}))
            .order_by(DataLoad.id.desc())
            .limit(1)
        )
        rows.append(
            {
                "category": category,
                "department_kind": DEPARTMENT_KINDS.get(category.department_kind, category.department_kind),
                "load_rule": defaults.LOAD_RULES.get(category.load_rule, category.load_rule),
                "freshness": fresh,
                "last_load": last,
            }
        )
    return rows


def category_view(actor: Actor, code: str) -> dict[str, Any]:
    require(actor, READ_ROLES)
    category = get_category(code)
    departments = {d.id: d for d in visible_departments(actor)}
    versions = list(
        db.session.scalars(
            select(CategorySchema)
            .where(CategorySchema.category_id == category.id)
            .order_by(CategorySchema.version.desc())
        )
    )
    loads = list(
        db.session.scalars(
            select(DataLoad)
            .where(DataLoad.category_id == category.id, DataLoad.department_id.in_(set(departments) or {-1}))
            .order_by(DataLoad.id.desc())
            .limit(200)
        )
    )
    return {
        "category": category,
        "schema": schema_of(category),
        "versions": versions,
        "loads": loads,
        "departments": departments,
        "freshness": freshness(category, set(departments)),
        "department_kind": DEPARTMENT_KINDS.get(category.department_kind, category.department_kind),
        "load_rule": defaults.LOAD_RULES.get(category.load_rule, category.load_rule),
    }


def load_summary(load: DataLoad) -> dict[str, Any]:
    """A load as the department API and the CLI report it (no personal data)."""
    category = db.session.get(DataCategory, load.category_id)
    return {
        "load_id": load.id,
        "category": category.code if category else None,
        "batch_id": load.batch_id,
        "status": load.status,
        "status_label": LOAD_STATUSES.get(load.status, load.status),
        "stage": load.stage,
        "progress": load.progress,
        "rows_total": load.rows_total,
        "rows_accepted": load.rows_accepted,
        "rows_rejected": load.rows_rejected,
        "rejected_by_reason": load.rejected_by_reason or {},
        "min_effective_date": load.min_effective_date.isoformat() if load.min_effective_date else None,
        "max_effective_date": load.max_effective_date.isoformat() if load.max_effective_date else None,
        "sha256": load.sha256,
        "message": load.message,
        "created_at": load.created_at.isoformat() if load.created_at else None,
        "finished_at": load.finished_at.isoformat() if load.finished_at else None,
    }
