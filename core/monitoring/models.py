"""Monitoring (动态监测): the roster of the low-income population, the rule sets, the runs, the dispositions."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from core import clock, pii
from core.database import UTCDateTime, db

MEMBER_SOURCES = {
    "dibao": "低保对象",
    "tekun": "特困人员",
    "marginal": "低保边缘",
    "expenditure": "支出型困难",
    "refused": "近24个月未获批或撤回的申请人",
    "reported": "主动发现报告当事人",
    "imported": "其他部门名单（如乡村振兴监测对象）",
}
RULE_SET_STATUSES = {"draft": "草稿", "active": "已启用", "retired": "已停用"}
RUN_KINDS = {"load": "部门数据入库后", "full": "每晚全量", "preview": "规则试算"}
DISPOSITIONS = {
    "apply": "核实属实，代为发起救助申请",
    "adjust": "核实属实，调整在保待遇",
    "covered": "已在保障",
    "not_eligible": "不符合条件",
    "referral": "转介其他部门",
}
REFERRAL_TARGETS = {"medical": "医保部门", "education": "教育部门", "disability": "残联", "hr": "人社部门"}


class MonitoringMember(db.Model):
    """One person's membership of the monitored population, from one source, for a period."""

    __tablename__ = "monitoring_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    id_number_enc, id_number_bidx, id_number_l4 = pii.columns(nullable=False)
    id_number = pii.encrypted_id("id_number_enc", "id_number_bidx", "id_number_l4")
    name: Mapped[str | None] = mapped_column(String(50))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), index=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("registry_households.id"))
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    household_key: Mapped[str] = mapped_column(String(40))  # members of one household share it
    rank: Mapped[int] = mapped_column(Integer, default=0)  # 0: the head
    township_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    village_code: Mapped[str | None] = mapped_column(String(12))
    county_code: Mapped[str] = mapped_column(String(6))
    source: Mapped[str] = mapped_column(String(12))  # MEMBER_SOURCES
    source_ref: Mapped[str | None] = mapped_column(String(64))  # enrollment, application, report, import file
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)  # None: while the source lasts
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow, onupdate=clock.utcnow)

    __table_args__ = (
        UniqueConstraint("id_number_bidx", "source", name="uq_monitoring_members_person_source"),
        Index("ix_monitoring_members_county_source", "county_code", "source"),
        Index("ix_monitoring_members_household", "household_key"),
    )


class MonitoringRuleSet(db.Model):
    """A county's version of the monitoring rules (the province default applies where none is active)."""

    __tablename__ = "monitoring_rule_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    county_code: Mapped[str] = mapped_column(String(6))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="draft")
    rules: Mapped[list] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(String(300))
    created_by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    preview: Mapped[dict | None] = mapped_column(JSON)  # hits per rule on last month's data
    previewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    activated_by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))

    __table_args__ = (
        UniqueConstraint("county_code", "version", name="uq_monitoring_rule_sets_version"),
        # one active version per county (migration e9f0a1b2c3d4)
        Index(
            "uq_monitoring_rule_sets_active",
            "county_code",
            unique=True,
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
    )


class MonitoringRun(db.Model):
    """One evaluation: after a load (``key`` load:<id>, once), nightly in full, or a rule preview."""

    __tablename__ = "monitoring_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(60), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # RUN_KINDS
    load_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="running")
    as_of: Mapped[date] = mapped_column(Date)
    persons: Mapped[int] = mapped_column(Integer, default=0)
    hits: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    suppressed: Mapped[int] = mapped_column(Integer, default=0)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(String(300))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MonitoringDisposition(db.Model):
    """How the township disposed of a monitoring warning (one per warning), and what it led to."""

    __tablename__ = "monitoring_dispositions"

    id: Mapped[int] = mapped_column(primary_key=True)
    warning_id: Mapped[int] = mapped_column(ForeignKey("warnings.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(12))  # DISPOSITIONS
    rule_code: Mapped[str | None] = mapped_column(String(40))  # the warning's main rule
    scenario: Mapped[str] = mapped_column(String(40))
    referral_to: Mapped[str | None] = mapped_column(String(12))  # REFERRAL_TARGETS
    note: Mapped[str] = mapped_column(String(500))
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"), index=True)
    township_code: Mapped[str] = mapped_column(String(12))
    county_code: Mapped[str] = mapped_column(String(6))
    on_time: Mapped[bool | None] = mapped_column(default=None)  # disposed by the case's due date
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)

    __table_args__ = (Index("ix_monitoring_dispositions_county_kind", "county_code", "kind"),)
