"""The social-assistance registry (一人一档): persons, households, enrollments, rolls, reviews, transfers.

ID numbers and bank accounts are stored encrypted (core.pii / core.crypto); a person is found by the
keyed blind index of their number. Money is Numeric(12, 2), never float, never negative (CHECK).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core import clock, pii
from core.database import UTCDateTime, db

FACT_SOURCES = {
    "application": "救助申请",
    "report": "主动发现报告",
    "import": "存量对象导入",
    "officer": "工作人员登记",
    "transfer": "资格转移",
}

ENROLLMENT_STATUSES = {
    "active": "在保",
    "suspended": "暂停发放",
    "exited": "已退出",
    "transferred": "已转出",
}
ENROLLMENT_EVENTS = {
    "created": "纳入救助",
    "adjusted": "调整金额",
    "suspended": "暂停发放",
    "resumed": "恢复发放",
    "exited": "退出救助",
    "transferred_out": "转出",
    "transferred_in": "转入",
    "reviewed": "复核（继续享受）",
}
ROLL_STATUSES = {"draft": "草稿", "submitted": "待审核", "locked": "已锁定"}
ROLL_CHANGES = {
    "new": "新增",
    "adjusted": "金额调整",
    "unchanged": "无变化",
    "suspended": "暂停",
    "resumed": "恢复",
    "exited": "退出",
    "transferred_in": "转入",
    "transferred_out": "转出",
}
REVIEW_OUTCOMES = {"continue": "继续享受", "adjust": "调整金额", "suspend": "暂停发放", "exit": "退出救助"}
CAMPAIGN_STATUSES = {"open": "进行中", "closed": "已结束"}
TRANSFER_STATUSES = {
    "requested": "待原县确认",
    "released": "原县已确认，待新县接收",
    "accepted": "已完成转移",
    "refused": "已拒绝",
    "cancelled": "已撤回",
}


class Person(db.Model):
    """One real person, keyed by ID number (encrypted; looked up by its blind index)."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    id_number_enc, id_number_bidx, id_number_l4 = pii.columns(nullable=False, unique=True)
    id_number = pii.encrypted_id("id_number_enc", "id_number_bidx", "id_number_l4")
    name: Mapped[str] = mapped_column(String(50), index=True)
    gender: Mapped[str | None] = mapped_column(String(1))  # M / F, from the ID number
    birth_date: Mapped[date | None] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(20))
    residence_township_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    residence_village_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    hukou_township_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    county_code: Mapped[str | None] = mapped_column(String(6), index=True)
    deceased_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow, onupdate=clock.utcnow)

    __table_args__ = (
        Index("ix_persons_l4_name", "id_number_l4", "name"),
        # name-prefix search (LIKE '王%') in any collation: PostgreSQL only (migration e5f6a7b8c9d0)
        Index("ix_persons_name_pattern", "name", postgresql_ops={"name": "varchar_pattern_ops"}).ddl_if(
            dialect="postgresql"
        ),
    )


class PersonFact(db.Model):
    """Where and when the registry learnt one thing about a person (name, residence, relation …)."""

    __tablename__ = "person_facts"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(30))
    value: Mapped[str | None] = mapped_column(String(300))
    source_type: Mapped[str] = mapped_column(String(20))  # FACT_SOURCES
    source_id: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)

    __table_args__ = (
        # the same fact from the same source is recorded once (re-imports and re-submits add nothing)
        UniqueConstraint("person_id", "field", "source_type", "source_id", name="uq_person_facts_source"),
    )


class Household(db.Model):
    """A registry household: its head, where it lives and where its 户籍 is."""

    __tablename__ = "registry_households"

    id: Mapped[int] = mapped_column(primary_key=True)
    head_person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    residence_township_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    residence_village_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    hukou_township_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    address: Mapped[str | None] = mapped_column(String(200))
    source_type: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow, onupdate=clock.utcnow)

    __table_args__ = (UniqueConstraint("source_type", "source_id", name="uq_registry_households_source"),)


class HouseholdMembership(db.Model):
    """A person in a household, with the relation to its head; ``ended_on`` set when they leave."""

    __tablename__ = "household_memberships"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("registry_households.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    relation: Mapped[str | None] = mapped_column(String(20))
    started_on: Mapped[date | None] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (UniqueConstraint("household_id", "person_id", name="uq_household_memberships"),)


class Enrollment(db.Model):
    """A household (or, for 特困, a person) receiving a programme's benefit (救助对象 / 在保)."""

    __tablename__ = "enrollments"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(24), unique=True)
    # What created it, once: "application:<id>", "import:<county>:<head id index>:<program>", "transfer:<id>"
    decision_ref: Mapped[str] = mapped_column(String(120), unique=True)
    program: Mapped[str] = mapped_column(String(10))
    household_id: Mapped[int] = mapped_column(ForeignKey("registry_households.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)  # the payee (head, or 特困 person)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"), index=True)
    transferred_from_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    status: Mapped[str] = mapped_column(String(12), default="active")
    status_reason: Mapped[str | None] = mapped_column(String(300))
    monthly_amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    member_count: Mapped[int] = mapped_column(Integer, default=1)
    start_month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    end_month: Mapped[str | None] = mapped_column(String(7))  # last paid month once exited / transferred
    decision_reference: Mapped[str | None] = mapped_column(String(60))  # the decision's document number
    next_review_date: Mapped[date | None] = mapped_column(Date)
    township_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    village_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    county_code: Mapped[str] = mapped_column(String(6))
    payee_name: Mapped[str] = mapped_column(String(50))
    bank_name: Mapped[str | None] = mapped_column(String(60))
    bank_account_enc: Mapped[str | None] = mapped_column(String(300))
    bank_account_last4: Mapped[str | None] = mapped_column(String(4))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow, onupdate=clock.utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads it once
    __table_args__ = (
        CheckConstraint("monthly_amount >= 0", name="ck_enrollments_amount_not_negative"),
        Index("ix_enrollments_county_status_program", "county_code", "status", "program"),
        Index("ix_enrollments_township_status", "township_code", "status"),
    )


class EnrollmentMember(db.Model):
    """Who an enrollment covers (the household's members at enrollment, or the one 特困 person)."""

    __tablename__ = "enrollment_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    relation: Mapped[str | None] = mapped_column(String(20))

    __table_args__ = (UniqueConstraint("enrollment_id", "person_id", name="uq_enrollment_members"),)


class EnrollmentEvent(db.Model):
    """Every change of an enrollment: who, why, and the field diff."""

    __tablename__ = "enrollment_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # ENROLLMENT_EVENTS
    actor_type: Mapped[str] = mapped_column(String(10))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(String(300))
    diff: Mapped[dict | None] = mapped_column(JSON)
    source_type: Mapped[str | None] = mapped_column(String(20))  # review / transfer / application / import
    source_id: Mapped[int | None] = mapped_column(Integer)
    effective_month: Mapped[str | None] = mapped_column(String(7))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)


class PaymentRoll(db.Model):
    """A county's monthly payment roll (发放名册): drafted, submitted by one officer, locked by another."""

    __tablename__ = "payment_rolls"

    id: Mapped[int] = mapped_column(primary_key=True)
    county_code: Mapped[str] = mapped_column(String(6))
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    status: Mapped[str] = mapped_column(String(12), default="draft")
    line_count: Mapped[int] = mapped_column(Integer, default=0)
    payable_count: Mapped[int] = mapped_column(Integer, default=0)
    total_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    drafted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    drafted_by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))  # None: the beat job
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    submitted_by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    locked_by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads it once
    __table_args__ = (
        UniqueConstraint("county_code", "month", name="uq_payment_rolls_county_month"),
        CheckConstraint("total_amount >= 0", name="ck_payment_rolls_total_not_negative"),
    )


class PaymentRollLine(db.Model):
    """One enrollment on a roll: what is paid this month and how it changed since last month."""

    __tablename__ = "payment_roll_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    roll_id: Mapped[int] = mapped_column(ForeignKey("payment_rolls.id", ondelete="CASCADE"), index=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"))
    township_code: Mapped[str] = mapped_column(String(12))
    village_code: Mapped[str | None] = mapped_column(String(12))
    program: Mapped[str] = mapped_column(String(10))
    payee_name: Mapped[str] = mapped_column(String(50))
    member_count: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    previous_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    change: Mapped[str] = mapped_column(String(20))  # ROLL_CHANGES

    __table_args__ = (
        UniqueConstraint("roll_id", "enrollment_id", name="uq_payment_roll_lines"),
        CheckConstraint("amount >= 0", name="ck_payment_roll_lines_amount_not_negative"),
    )


class ReviewCampaign(db.Model):
    """A county's periodic review (复核), e.g. "2026年下半年复核": a programme, townships, a deadline."""

    __tablename__ = "review_campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    name: Mapped[str] = mapped_column(String(60))
    program: Mapped[str] = mapped_column(String(10))
    township_codes: Mapped[list | None] = mapped_column(JSON)  # None: the whole county
    deadline: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="open")
    task_count: Mapped[int] = mapped_column(Integer, default=0)
    created_by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)

    # one campaign of a name per county: a second start (a double click, two officers at once) is refused
    __table_args__ = (UniqueConstraint("county_code", "name", name="uq_review_campaigns_county_name"),)


class ReviewTask(db.Model):
    """One enrollment to review in a campaign; a case in its township's queue."""

    __tablename__ = "review_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("review_campaigns.id", ondelete="CASCADE"), index=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    township_code: Mapped[str] = mapped_column(String(12), index=True)
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="open")  # open / done
    outcome: Mapped[str | None] = mapped_column(String(10))  # REVIEW_OUTCOMES
    previous_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    new_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    reason: Mapped[str | None] = mapped_column(String(300))
    visit_record: Mapped[str | None] = mapped_column(Text)
    completed_by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads it once
    __table_args__ = (
        UniqueConstraint("campaign_id", "enrollment_id", name="uq_review_tasks_campaign_enrollment"),
        CheckConstraint("new_amount IS NULL OR new_amount >= 0", name="ck_review_tasks_amount_not_negative"),
    )


class Transfer(db.Model):
    """An eligibility transfer (资格转移) to another county of the same province when the 户籍 moves."""

    __tablename__ = "enrollment_transfers"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(24), unique=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"), index=True)
    from_county_code: Mapped[str] = mapped_column(String(6), index=True)
    to_county_code: Mapped[str] = mapped_column(String(6), index=True)
    to_township_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    to_village_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    to_address: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12), default="requested")
    requested_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    reason: Mapped[str | None] = mapped_column(String(300))
    hukou_storage_key: Mapped[str | None] = mapped_column(String(200))  # the new 户口簿 page (core.files)
    hukou_content_type: Mapped[str | None] = mapped_column(String(50))
    end_month: Mapped[str | None] = mapped_column(String(7))  # last month paid by the old county
    released_by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    new_enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    refusal_reason: Mapped[str | None] = mapped_column(String(300))
    refused_by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow, onupdate=clock.utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads it once
    __table_args__ = (
        # one open transfer per enrollment (a second request while one is open is refused by the database)
        Index(
            "uq_enrollment_transfers_open",
            "enrollment_id",
            unique=True,
            postgresql_where=text("status IN ('requested', 'released')"),
            sqlite_where=text("status IN ('requested', 'released')"),
        ),
    )
