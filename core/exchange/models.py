"""Departments that send data, their API clients (key id + secret, rotated, revoked), the nonces their
signed requests have used, and the death/cremation events they push.

A client's secret is stored encrypted (core.crypto): the server must recompute the HMAC, so a one-way
hash is not enough. During a rotation the previous secret stays valid until ``previous_valid_until``.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core import clock, pii
from core.database import UTCDateTime, db

DEPARTMENT_KINDS = {
    "public_security": "公安",
    "civil_affairs": "民政（殡葬火化、婚姻登记）",
    "justice": "司法（监狱、社区矫正）",
    "human_resources": "人力资源和社会保障",
    "medical_insurance": "医疗保障",
    "housing": "住房和城乡建设（不动产登记）",
    "traffic": "公安交管（车辆）",
    "tax": "税务",
    "provident_fund": "住房公积金",
    "disabled_federation": "残疾人联合会",
    "education": "教育",
    "market_regulation": "市场监督管理",
    "bank": "银行、证券",
    "organization": "组织人事（公职人员）",
    "rural_revitalization": "乡村振兴",
    "other": "其他部门",
}
CLIENT_STATUSES = {"active": "启用", "revoked": "已吊销"}
SIGNATURE_ALGORITHMS = {"hmac-sha256": "HMAC-SHA256", "hmac-sm3": "HMAC-SM3（国密）"}
EVENT_TYPES = {"death": "死亡", "cremation": "火化"}
EVENT_STATUSES = {"received": "已接收", "matched": "已匹配在保对象", "unmatched": "未匹配在保对象"}


class Department(db.Model):
    """A department (or bank) that provides data; ``region_code`` is the area its data cover."""

    __tablename__ = "exchange_departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(30))
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)


class ApiClient(db.Model):
    """One system of a department calling our exchange API with signed requests."""

    __tablename__ = "exchange_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("exchange_departments.id"), index=True)
    key_id: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    algorithm: Mapped[str] = mapped_column(String(20), default="hmac-sha256")
    secret_enc: Mapped[str] = mapped_column(String(300))
    previous_secret_enc: Mapped[str | None] = mapped_column(String(300))
    previous_valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)  # data categories it may provide
    status: Mapped[str] = mapped_column(String(10), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RequestNonce(db.Model):
    """A nonce a client has used: the primary key refuses its second use (no check-then-act)."""

    __tablename__ = "exchange_nonces"

    client_id: Mapped[int] = mapped_column(ForeignKey("exchange_clients.id"), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow, index=True)


class DepartmentEvent(db.Model):
    """A death or cremation pushed by a department, checked against enrollments on arrival."""

    __tablename__ = "exchange_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("exchange_clients.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("exchange_departments.id"))
    event_id: Mapped[str] = mapped_column(String(64))  # the department's own id: a retry is harmless
    event_type: Mapped[str] = mapped_column(String(20))
    id_number_enc, id_number_bidx, id_number_l4 = pii.columns(nullable=False)
    id_number = pii.encrypted_id("id_number_enc", "id_number_bidx", "id_number_l4")
    name: Mapped[str | None] = mapped_column(String(50))
    event_date: Mapped[date] = mapped_column(Date)
    place: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="received")
    matched_enrollments: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)

    __table_args__ = (
        UniqueConstraint("client_id", "event_id", name="uq_exchange_events_client_event"),
        Index("ix_exchange_events_received", "received_at"),
    )
