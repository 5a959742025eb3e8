"""Department calls at once on PostgreSQL: the same signed request twice → one accepted, one replay; two
deaths of one recipient from two departments at once → one open warning and one township case."""

from __future__ import annotations

import json
import os
import threading

import pytest
from sqlalchemy import func, select

from core.casework.models import Case
from core.database import db
from core.exchange.models import DepartmentEvent
from core.warnings.models import RiskWarning
from tests.exchange.exchange_helpers import make_client, signed
from tests.exchange.test_death_events import _death, _member
from tests.registry.factory import make_enrollment
from tests.registry.rolls_helpers import MINHE

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgresql")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not ON_POSTGRES, reason="runs in the PostgreSQL pass of the suite (DATABASE_URL=postgresql…)"),
]
EVENTS = "/api/v1/exchange/events"


def _at_once(app, requests: list[tuple[bytes, dict]]) -> list[int]:
    barrier = threading.Barrier(len(requests), timeout=20)
    statuses = [0] * len(requests)

    def run(n: int) -> None:
        body, headers = requests[n]
        client = app.test_client()
        barrier.wait()
        statuses[n] = client.post(EVENTS, data=body, headers=headers).status_code

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return statuses


def _signed_push(key_id: str, events: list[dict]) -> tuple[bytes, dict]:
    body = json.dumps({"events": events}).encode()
    return body, {"Content-Type": "application/json", **signed("POST", EVENTS, body, key_id=key_id)}


def test_the_same_signed_request_at_once_is_accepted_once(app):
    with app.app_context():
        _, key_id = make_client()
    request = _signed_push(key_id, [_death("360124198001010011", "R-1")])
    for _ in range(3):
        statuses = _at_once(app, [request, request])
        if sorted(statuses) == [200, 401]:
            break
        request = _signed_push(key_id, [_death("360124198001010011", f"R-{_ + 2}")])
    assert sorted(statuses) == [200, 401], statuses
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(DepartmentEvent)) >= 1


def test_two_departments_report_one_death_at_once_one_warning(app):
    with app.app_context():
        enrollment_id = make_enrollment(seq=730, township=MINHE)
        _, civil = make_client(code="mz-a")
        _, police = make_client(code="ga-b")
    number, _ = _member(app, enrollment_id, head=True)
    statuses = _at_once(
        app,
        [
            _signed_push(civil, [_death(number, "MZ-1", type="cremation")]),
            _signed_push(police, [_death(number, "GA-1")]),
        ],
    )
    assert statuses == [200, 200]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RiskWarning)) == 1
        assert db.session.scalar(select(func.count()).select_from(Case)) == 1
        assert db.session.scalar(select(func.count()).select_from(DepartmentEvent)) == 2
