from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core import clock, pii
from core.database import UTCDateTime, db
from core.households.models import Asset, HouseholdMember, Income

STATUSES = {
    "draft": "草稿",
    "submitted": "已提交，待受理",
    "correction_requested": "待补正材料",
    "not_accepted": "不予受理",
    "accepted": "已受理",
    "investigating": "调查核实中",
    "reviewing": "乡镇（街道）审核中",
    "public_notice": "公示中",
    "awaiting_confirmation": "待县级民政部门确认",
    "approved": "已批准",
    "rejected": "不予批准",
    "withdrawn": "已撤回",
}
# WeChat `phrase` values (<= 5 Chinese characters).
STATUS_PHRASES = {
    "submitted": "已提交",
    "correction_requested": "待补正",
    "not_accepted": "不予受理",
    "accepted": "已受理",
    "investigating": "调查中",
    "reviewing": "审核中",
    "public_notice": "公示中",
    "awaiting_confirmation": "待确认",
    "approved": "已批准",
    "rejected": "不予批准",
    "withdrawn": "已撤回",
}
OPEN_STATUSES = frozenset(
    {
        "submitted",
        "correction_requested",
        "accepted",
        "investigating",
        "reviewing",
        "public_notice",
        "awaiting_confirmation",
    }
)
FINAL_STATUSES = frozenset({"not_accepted", "approved", "rejected", "withdrawn"})


class ProgramSetting(db.Model):
    """A county's settings for one program (absent = national defaults)."""

    __tablename__ = "program_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    county_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    program: Mapped[str] = mapped_column(String(10))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    monthly_standard: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))  # yuan per person per month
    required_materials: Mapped[list | None] = mapped_column(JSON)
    asset_limits: Mapped[dict | None] = mapped_column(JSON)
    confirmation_delegated: Mapped[bool] = mapped_column(Boolean, default=False)
    appraisal_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    accept_working_days: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow, onupdate=clock.utcnow)

    __table_args__ = (UniqueConstraint("county_code", "program", name="uq_program_settings_county_program"),)


class Application(db.Model):
    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(24), unique=True)
    program: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(30), default="draft", index=True)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # The verified person (core.identity) the creating log-in acted for; None while that log-in was unverified.
    # Ownership follows the person, not the log-in: a log-in re-bound to another ID number leaves this behind.
    created_by_identity_id: Mapped[int | None] = mapped_column(ForeignKey("identities.id"), index=True)
    created_by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))  # started from a report
    # The applicant (for a proxy application: the principal the proxy acts for).
    applicant_name: Mapped[str | None] = mapped_column(String(50))
    applicant_id_number_enc, applicant_id_number_bidx, applicant_id_number_l4 = pii.columns()  # core.pii
    applicant_id_number = pii.encrypted_id(
        "applicant_id_number_enc", "applicant_id_number_bidx", "applicant_id_number_l4"
    )
    applicant_phone: Mapped[str | None] = mapped_column(String(20))
    applicant_person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), index=True)  # core.registry
    is_proxy: Mapped[bool] = mapped_column(Boolean, default=False)
    proxy_relation: Mapped[str | None] = mapped_column(String(20))
    proxy_reason: Mapped[str | None] = mapped_column(String(20))
    proxy_reason_note: Mapped[str | None] = mapped_column(String(200))
    principal_confirmed: Mapped[bool] = mapped_column(Boolean, default=True)
    residence_township_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    residence_village_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    residence_address: Mapped[str | None] = mapped_column(String(200))
    hukou_township_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    hardship_reason: Mapped[str | None] = mapped_column(Text)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    info_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdraw_reason: Mapped[str | None] = mapped_column(String(200))
    approved_amount: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))  # yuan per month
    start_month: Mapped[str | None] = mapped_column(String(7))  # YYYY-MM
    decision_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow, onupdate=clock.utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The head of the authorization evidence chain (core.authorizations.evidence): how many records it has
    # and the hash of the last one, written with each record, so a chain cut short is detected.
    evidence_length: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    evidence_head: Mapped[str | None] = mapped_column(String(64))

    members: Mapped[list[HouseholdMember]] = relationship(
        order_by=HouseholdMember.position, cascade="all, delete-orphan"
    )
    incomes: Mapped[list[Income]] = relationship(order_by=Income.position, cascade="all, delete-orphan")
    assets: Mapped[list[Asset]] = relationship(order_by=Asset.position, cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads it once
    __table_args__ = (Index("ix_applications_program_status", "program", "status"),)


class ApplicationEvent(db.Model):
    """The timeline: every status change, with the text the citizen reads."""

    __tablename__ = "application_events"
    __table_args__ = (
        Index(
            "ix_application_events_to_notify",
            "application_id",
            postgresql_where=text("notified_at IS NULL"),
            sqlite_where=text("notified_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(30))  # status after the event
    actor_kind: Mapped[str] = mapped_column(String(10))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    citizen_text: Mapped[str] = mapped_column(String(500))
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict | None] = mapped_column(JSON)
    # the notice's own wording ({"phrase", "hint"}) when it changes no status; None: the status's wording
    notice: Mapped[dict | None] = mapped_column(JSON)
    # set by the notify task once the event's messages are in the outbox; None: still to notify
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Attachment(db.Model):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    material: Mapped[str] = mapped_column(String(30))
    original_name: Mapped[str] = mapped_column(String(120))
    content_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    uploaded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    correction_event_id: Mapped[int | None] = mapped_column(ForeignKey("application_events.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)


class ApplicationConflict(db.Model):
    """One person named in two open applications of the same program by different households.

    Neither application is blocked: both go to their townships flagged, and an officer of either side
    decides which household the person belongs to (see docs/applications-conflicts.md). ``first`` was
    already open when ``second`` was submitted. The shared ID number is kept only as a keyed hash.
    """

    __tablename__ = "application_conflicts"

    id: Mapped[int] = mapped_column(primary_key=True)
    program: Mapped[str] = mapped_column(String(10))
    first_application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    first_member_id: Mapped[int] = mapped_column(ForeignKey("household_members.id", ondelete="CASCADE"))
    second_application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    second_member_id: Mapped[int] = mapped_column(ForeignKey("household_members.id", ondelete="CASCADE"))
    person_hash: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    chosen_application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"))
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint(
            "first_application_id", "second_application_id", "person_hash", name="uq_application_conflicts_pair_person"
        ),
    )

    def other_side(self, application_id: int) -> tuple[int, int]:
        """(application id, member id) of the side that is not ``application_id``."""
        if application_id == self.first_application_id:
            return self.second_application_id, self.second_member_id
        return self.first_application_id, self.first_member_id

    def own_member_id(self, application_id: int) -> int:
        return self.first_member_id if application_id == self.first_application_id else self.second_member_id
