"""Assessment models (data, per county, with a province default) and the checks of applications."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.database import UTCDateTime, db

CHECK_STATUSES = {
    "queued": "排队中",
    "running": "核对中",
    "done": "已完成",
    "blocked": "授权不全，未核对",
    "failed": "核对失败",
}
GRADES = {"green": "绿", "yellow": "黄", "red": "红"}
GRADE_LABELS = {"green": "绿色（信息一致）", "yellow": "黄色（入户时请说明）", "red": "红色（超出标准）"}
CONCLUSIONS = {"consistent": "核对一致", "explain": "需入户核实说明", "ineligible": "经核对不符合条件"}


class AssessmentModel(db.Model):
    """The rules a grade follows, as JSON (core.checks.assessment.DEFAULT_MODEL). ``region_code`` is a
    county (6 digits) or a province (2 digits, the default of its counties)."""

    __tablename__ = "check_assessment_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12), unique=True)
    config: Mapped[dict] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow, onupdate=clock.utcnow)


class EconomicCheck(db.Model):
    """One run of the check for an application (a re-check is a new row; the latest one counts)."""

    __tablename__ = "economic_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    township_code: Mapped[str | None] = mapped_column(String(12))
    county_code: Mapped[str | None] = mapped_column(String(6))
    status: Mapped[str] = mapped_column(String(10), default="queued")
    trigger: Mapped[str] = mapped_column(String(20))  # authorized | recheck
    requested_by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    grade: Mapped[str | None] = mapped_column(String(10))  # GRADES
    model_region: Mapped[str | None] = mapped_column(String(12))
    model_version: Mapped[int | None] = mapped_column(Integer)
    model: Mapped[dict | None] = mapped_column(JSON)  # the rules as applied (a later change alters no report)
    findings: Mapped[dict | None] = mapped_column(JSON)  # per member and category: the rows found
    reasons: Mapped[list | None] = mapped_column(JSON)  # each with its level and the rows it rests on
    figures: Mapped[dict | None] = mapped_column(JSON)  # incomes, assets, per capita, the standard
    freshness: Mapped[list | None] = mapped_column(JSON)  # per category: latest data, expected refresh, stale
    message: Mapped[str | None] = mapped_column(Text)
    conclusion: Mapped[str | None] = mapped_column(String(20))  # CONCLUSIONS
    conclusion_note: Mapped[str | None] = mapped_column(String(500))
    concluded_by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    concluded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_economic_checks_application", "application_id", "id"),)
