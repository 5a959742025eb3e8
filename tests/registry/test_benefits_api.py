"""GET /api/v1/me/benefits: a verified person sees the enrollments that cover them, nobody else's."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from core.actor import Actor
from core.database import db
from core.registry import services as registry
from core.registry.models import Enrollment
from tests.helpers import bound_citizen, citizen_headers, id_number
from tests.registry.factory import make_enrollment

COUNTY = Actor(kind="officer", id=None, roles=("county_officer",), region_code="360124")


def test_payee_sees_benefit_with_history_and_stranger_gets_404(client, app):
    headers = bound_citizen(client, "13900070001", "王大明", id_number(date(1970, 5, 6), 301))
    with app.app_context():
        eid = make_enrollment(seq=300, amount="905.00", members=3)
        other = make_enrollment(seq=310, head_name="赵六")
        registry.change(
            COUNTY, db.session.get(Enrollment, eid), "adjusted", reason="家庭收入增加", amount=Decimal("700")
        )
        db.session.commit()
    listed = client.get("/api/v1/me/benefits", headers=headers)
    assert listed.status_code == 200
    rows = listed.get_json()
    assert [r["id"] for r in rows] == [eid]
    row = rows[0]
    assert row["monthly_amount"] == "700.00" and row["status_label"] == "在保" and row["member_count"] == 3
    assert row["bank_account_masked"] == "****0123" and row["can_transfer"] is True
    assert row["months_paid"] == 0 and row["next_review_date"] == "2027-05-01"
    detail = client.get(f"/api/v1/me/benefits/{eid}", headers=headers).get_json()
    assert [h["kind"] for h in detail["history"]] == ["adjusted", "created"]
    assert "由905.00元调整为700.00元" in detail["history"][0]["text"]
    # another household's enrollment, a missing one, a huge id: 404 — no difference between them
    for target in (other, 999999, 2**31 + 5):
        resp = client.get(f"/api/v1/me/benefits/{target}", headers=headers)
        assert resp.status_code == 404
    assert client.get(f"/api/v1/me/benefits/{other}", headers=headers).get_json()["status"] == "benefit_not_found"


def test_member_sees_household_benefit_unverified_sees_nothing(client, app):
    with app.app_context():
        eid = make_enrollment(seq=320, members=2)
    # the second member of seq 320's household: born 2001-01-01, seq 321 (factory's numbering)
    member = bound_citizen(client, "13900070002", "王小红", id_number(date(2001, 1, 1), 321))
    assert [r["id"] for r in client.get("/api/v1/me/benefits", headers=member).get_json()] == [eid]
    fresh = citizen_headers(client, "13900070003")  # logged in, not real-name verified
    assert client.get("/api/v1/me/benefits", headers=fresh).get_json() == []
    assert client.get(f"/api/v1/me/benefits/{eid}", headers=fresh).status_code == 404
    assert client.get("/api/v1/me/benefits").status_code == 401
