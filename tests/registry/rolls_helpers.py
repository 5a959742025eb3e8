"""Shared set-up for the payment roll tests: officers as actors, enrollments in two townships of one county
and one in another county, and moving enrollments through ``enrollments.change()``."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from core.accounts import services as accounts
from core.accounts.models import Officer
from core.actor import SYSTEM, Actor
from core.database import commit, db
from core.registry import enrollments
from core.registry.models import Enrollment
from tests.helpers import make_officer
from tests.registry.factory import make_enrollment

COUNTY = "360124"
MINHE, LIDU = "360124100", "360124101"
OTHER_COUNTY_TOWNSHIP = "360121100"


def officer(app, username: str, region: str = COUNTY, role: str = "county_officer") -> Actor:
    make_officer(app, username, role, region)
    with app.app_context():
        row = db.session.scalar(select(Officer).where(Officer.username == username))
        actor = accounts.officer_actor(row)
        db.session.remove()
    return actor


def enrollments_in_county(app) -> dict[str, int]:
    """Two in 民和镇, one in 李渡镇, one starting later, one in another county."""
    with app.app_context():
        ids = {
            "a": make_enrollment(seq=600, township=MINHE, amount="905.00", head_name="王大明"),
            "b": make_enrollment(seq=601, township=MINHE, amount="650.50", head_name="张小红", village=None),
            "c": make_enrollment(seq=602, township=LIDU, amount="480.25", head_name="李小花", village=None),
            "later": make_enrollment(seq=603, township=LIDU, amount="300.00", start_month="2027-01", village=None),
            "other": make_enrollment(seq=604, township=OTHER_COUNTY_TOWNSHIP, amount="700.00", village=None),
        }
        db.session.remove()
    return ids


def change(app, enrollment_id: int, kind: str, *, amount: str | None = None, month: str | None = None) -> None:
    with app.app_context():
        enrollment = db.session.get(Enrollment, enrollment_id)
        enrollments.change(
            SYSTEM,
            enrollment,
            kind,
            reason="测试变更",
            amount=Decimal(amount) if amount else None,
            month=month,
            notify=False,
        )
        commit()
        db.session.remove()
