"""Two officers acting on one transfer at once (PostgreSQL, real row locks): one outcome. Two requests for one
enrollment at once: one transfer (the lock on the enrollment and the partial unique index)."""

from __future__ import annotations

import os
import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from core import clock
from core.database import db
from core.errors import DomainError
from core.registry import enrollments
from core.registry import transfers as transfer_service
from core.registry.models import Enrollment, Transfer
from tests.helpers import bound_citizen, id_number, jpeg_bytes
from tests.registry.factory import make_enrollment
from tests.registry.test_transfers import _actor, _request

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgresql")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not ON_POSTGRES, reason="runs in the PostgreSQL pass of the suite (DATABASE_URL=postgresql…)"),
]


def _race(app, *calls) -> list[str]:
    """Run the calls at once, each in its own app context (own session and connection); their outcomes."""
    barrier = threading.Barrier(len(calls), timeout=20)
    results: list[str] = [""] * len(calls)

    def run(n: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                calls[n]()
                db.session.commit()
                results[n] = "ok"
            except DomainError as err:
                db.session.rollback()
                results[n] = err.code
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def _released(client, app, seq: int, phone: str, old_county) -> tuple[int, int]:
    with app.app_context():
        eid = make_enrollment(seq=seq, amount="905.00", members=2)
    headers = bound_citizen(client, phone, "王大明", id_number(date(1970, 5, 6), seq % 997 + 1))
    tid = _request(client, headers, eid).get_json()["id"]
    with app.app_context():
        transfer_service.release(old_county, tid, end_month=enrollments.month_of(clock.local_today()))
        db.session.commit()
    return eid, tid


def test_double_accept_and_accept_against_refuse_have_one_outcome(client, app):
    old_county = _actor(app, "cc_old_county", "county_officer", "360124")
    new_a = _actor(app, "cc_new_county_a", "county_officer", "360121")
    new_b = _actor(app, "cc_new_county_b", "county_officer", "360121")
    eid, tid = _released(client, app, 900, "13900083001", old_county)
    outcomes = _race(app, lambda: transfer_service.accept(new_a, tid), lambda: transfer_service.accept(new_b, tid))
    assert sorted(outcomes) == ["invalid_transfer_transition", "ok"], outcomes
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(Enrollment.transferred_from_id == eid)) == 1
        assert db.session.get(Enrollment, eid).status == "transferred"
        db.session.remove()

    eid2, tid2 = _released(client, app, 910, "13900083002", old_county)
    outcomes = _race(
        app,
        lambda: transfer_service.accept(new_a, tid2),
        lambda: transfer_service.refuse(new_b, tid2, reason="经核实户籍未迁入"),
    )
    assert sorted(outcomes) == ["invalid_transfer_transition", "ok"], outcomes
    with app.app_context():
        transfer = db.session.get(Transfer, tid2)
        old = db.session.get(Enrollment, eid2)
        if transfer.status == "accepted":
            assert old.status == "transferred" and transfer.new_enrollment_id is not None
        else:
            assert transfer.status == "refused" and old.status == "active"
            assert db.session.scalar(select(func.count()).where(Enrollment.transferred_from_id == eid2)) == 0
        db.session.remove()


def test_two_requests_at_once_make_one_transfer(client, app):
    with app.app_context():
        eid = make_enrollment(seq=920, amount="905.00", members=2)
    user_headers = bound_citizen(client, "13900083003", "王大明", id_number(date(1970, 5, 6), 920 % 997 + 1))
    with app.app_context():
        from core.accounts import services as accounts

        user_id = accounts.find_user_by_phone("13900083003").id

    def ask():
        from core.accounts.models import User
        from core.actor import Actor

        user = db.session.get(User, user_id)
        return transfer_service.request_by_household(
            Actor(kind="citizen", id=user_id),
            user,
            eid,
            to_township_code="360121100",
            to_village_code=None,
            to_address=None,
            reason="户籍迁入莲塘镇",
            data=jpeg_bytes(),
            filename="h.jpg",
            max_bytes=10 * 1024 * 1024,
        )

    outcomes = _race(app, ask, ask)
    assert sorted(outcomes) == ["ok", "transfer_open"], outcomes
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Transfer)) == 1
        db.session.remove()
    assert user_headers
