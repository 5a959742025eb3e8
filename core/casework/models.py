from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.database import UTCDateTime, db

CASE_KINDS = {
    "demo": "演示案件",
    "application": "救助申请",
    "application_info": "救助申请（户籍地知情）",
    "report": "主动发现报告",
    "transfer": "资格转移",
    "review": "定期复核",  # a review task of a campaign (core.registry.reviews)
    "warning": "预警核查",  # a warning to verify (core.warnings)
}
CASE_STATUSES = {
    "open": "待办理",
    "in_progress": "办理中",
    "closed": "已办结",
}


class Case(db.Model):
    """A unit of work in a township's queue (an application, a report, later a warning)."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(24), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="open")
    township_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    county_code: Mapped[str] = mapped_column(String(6))
    city_code: Mapped[str] = mapped_column(String(4))
    province_code: Mapped[str] = mapped_column(String(2))
    assignee_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    opened_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow, onupdate=clock.utcnow)
    routed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # What the case is about (an application, a report) and how officers see it in the queue.
    subject_type: Mapped[str | None] = mapped_column(String(20))
    subject_id: Mapped[int | None] = mapped_column(Integer)
    is_info_copy: Mapped[bool] = mapped_column(Boolean, default=False)  # 户籍地 township: informed, not handling
    is_proxy: Mapped[bool] = mapped_column(Boolean, default=False)
    program: Mapped[str | None] = mapped_column(String(10))
    household_size: Mapped[int | None] = mapped_column(Integer)
    # The statutory clock pauses while waiting for the citizen (补正).
    clock_paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paused_remaining_days: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # overdue: shown to the county
    # The statutory limit from acceptance to decision (working days), extendable once.
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    limit_date: Mapped[date | None] = mapped_column(Date)
    extended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    extension_reason: Mapped[str | None] = mapped_column(String(300))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Where the case stands (accept, investigating, review, public_notice, confirmation, decision, report,
    # closed) and its nearest open deadline: what the queues filter and sort on.
    stage: Mapped[str | None] = mapped_column(String(20))
    next_due: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads it once
    __table_args__ = (
        Index("ix_cases_township_status_created", "township_code", "status", "created_at"),
        Index("ix_cases_county_status_created", "county_code", "status", "created_at"),
        Index("ix_cases_subject", "subject_type", "subject_id"),
        Index("ix_cases_township_stage_due", "township_code", "stage", "next_due"),
        Index("ix_cases_county_stage_due", "county_code", "stage", "next_due"),
    )


STEP_STATUSES = {
    "waiting": "等待前序环节",
    "ready": "待办理",
    "in_progress": "办理中",
    "done": "已完成",
}


class CaseStep(db.Model):
    """One step of a case's workflow. Parallel steps are simply several ready at once."""

    __tablename__ = "case_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    step: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12), default="waiting")
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_date: Mapped[date | None] = mapped_column(Date, index=True)
    claimed_by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    data: Mapped[dict | None] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads it once
    __table_args__ = (Index("ix_case_steps_case_step", "case_id", "step", unique=True),)


STEP_FILE_KINDS = {
    "photo": "入户照片",
    "signature_applicant": "申请人签字",
    "signature_investigator_1": "第一调查人签字",
    "signature_investigator_2": "第二调查人签字",
}


class StepFile(db.Model):
    """A file recorded with a workflow step: home-visit photos and on-screen signatures (core.files storage)."""

    __tablename__ = "case_step_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("case_steps.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    content_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    uploaded_by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
