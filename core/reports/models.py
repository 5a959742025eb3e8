from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core import clock, pii
from core.database import UTCDateTime, db


class Report(db.Model):
    """A one-tap report of a person in difficulty (主动发现)."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(24), unique=True)
    reporter_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    reporter_role: Mapped[str] = mapped_column(String(20))
    priority: Mapped[int] = mapped_column(SmallInteger, default=0)
    category: Mapped[str] = mapped_column(String(30))
    urgency: Mapped[str] = mapped_column(String(10), default="normal")
    township_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    village_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    coordinate_system: Mapped[str | None] = mapped_column(String(10))
    address: Mapped[str | None] = mapped_column(String(200))
    person_name: Mapped[str | None] = mapped_column(String(50))
    person_id_number_enc, person_id_number_bidx, person_id_number_l4 = pii.columns()  # core.pii
    person_id_number = pii.encrypted_id("person_id_number_enc", "person_id_number_bidx", "person_id_number_l4")
    person_phone: Mapped[str | None] = mapped_column(String(20))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), index=True)  # core.registry
    age_group: Mapped[str | None] = mapped_column(String(10))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="new")
    outcome: Mapped[str | None] = mapped_column(String(30))
    outcome_note: Mapped[str | None] = mapped_column(String(500))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"))
    first_contact_due: Mapped[date | None] = mapped_column(Date)
    contacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    visited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads it once
    __table_args__ = (
        Index("ix_reports_township_status", "township_code", "status"),
        Index("ix_reports_village_name", "village_code", "person_name"),
    )


class ReportPhoto(db.Model):
    __tablename__ = "report_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    content_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)


class ReportEvent(db.Model):
    """What happened to a report; ``reporter_text`` is what the reporter may read (no private data)."""

    __tablename__ = "report_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    kind: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(12))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    note: Mapped[str | None] = mapped_column(Text)
    reporter_text: Mapped[str | None] = mapped_column(String(200))


class ReportSetting(db.Model):
    """A county's first-contact deadlines (working days)."""

    __tablename__ = "report_settings"

    county_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), primary_key=True)
    urgent_days: Mapped[int] = mapped_column(SmallInteger, default=1)
    normal_days: Mapped[int] = mapped_column(SmallInteger, default=3)
