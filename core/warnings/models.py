"""The warning record. ``open_key`` (person index + reason) is unique and cleared on closing, so the
database itself refuses a second open warning for the same person and reason (no check-then-act)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from core import clock, pii
from core.database import UTCDateTime, db

WARNING_SOURCES = {
    "event": "部门事件推送",
    "anti_fraud": "在保对象比对",
    "monitoring": "动态监测",
}
WARNING_LEVELS = {"red": "红色", "orange": "橙色", "yellow": "黄色"}
WARNING_STATUSES = {"open": "待核查", "confirmed": "核实属实", "dismissed": "核实不属实", "closed": "已处置"}


class RiskWarning(db.Model):
    __tablename__ = "warnings"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(20))  # WARNING_SOURCES
    reason: Mapped[str] = mapped_column(String(40))  # e.g. death, cremation, imprisonment, a monitoring scenario
    reason_label: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(10))  # WARNING_LEVELS
    status: Mapped[str] = mapped_column(String(12), default="open")
    open_key: Mapped[str | None] = mapped_column(String(120), unique=True)  # "<id index>:<reason>" while open
    id_number_enc, id_number_bidx, id_number_l4 = pii.columns(nullable=False)
    id_number = pii.encrypted_id("id_number_enc", "id_number_bidx", "id_number_l4")
    name: Mapped[str | None] = mapped_column(String(50))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), index=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("registry_households.id"))
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"), index=True)
    township_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    county_code: Mapped[str] = mapped_column(String(6))
    summary: Mapped[str] = mapped_column(String(300))
    # what the hit rests on (a department's event id, a record's key): a warning closed as dismissed or
    # handled is not raised again from the same record, but is from a new one
    fingerprint: Mapped[str] = mapped_column(String(64))
    evidence: Mapped[list | None] = mapped_column(JSON)  # the rows that caused it (category, load, row, fields)
    values: Mapped[dict | None] = mapped_column(JSON)  # computed values (amounts, dates, ratios)
    event_date: Mapped[date | None] = mapped_column(Date)  # when it happened (a death's date)
    hit_count: Mapped[int] = mapped_column(Integer, default=1)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    disposition: Mapped[str | None] = mapped_column(String(20))
    disposition_note: Mapped[str | None] = mapped_column(String(500))
    disposed_by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    disposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    arrears_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))  # paid after death, to recover

    __table_args__ = (
        Index("ix_warnings_county_status_reason", "county_code", "status", "reason"),
        Index("ix_warnings_township_status", "township_code", "status"),
        Index("ix_warnings_bidx_reason", "id_number_bidx", "reason", "fingerprint"),
    )
