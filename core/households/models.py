"""A household as declared in an application: members, incomes, assets.

Draft rows may be incomplete (the mini-program saves as the user types); the application's
submit validates them fully.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import ForeignKey, Integer, Numeric, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from core import pii
from core.database import db


class HouseholdMember(db.Model):
    __tablename__ = "household_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(50))
    id_number_enc, id_number_bidx, id_number_l4 = pii.columns()  # core.pii: encrypted, keyed blind indexes
    id_number = pii.encrypted_id("id_number_enc", "id_number_bidx", "id_number_l4")
    relation: Mapped[str | None] = mapped_column(String(20))
    health: Mapped[str | None] = mapped_column(String(20))
    disability_grade: Mapped[int | None] = mapped_column(SmallInteger)
    employment: Mapped[str | None] = mapped_column(String(20))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), index=True)  # core.registry, once submitted


class Income(db.Model):
    __tablename__ = "household_incomes"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    member_index: Mapped[int | None] = mapped_column(Integer)  # which member earns it (position), if known
    category: Mapped[str] = mapped_column(String(20))
    monthly_amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    note: Mapped[str | None] = mapped_column(String(200))


class Asset(db.Model):
    __tablename__ = "household_assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(30))
    description: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(200))
    area_sqm: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    value_yuan: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    quantity: Mapped[int | None] = mapped_column(Integer)
