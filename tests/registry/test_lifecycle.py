"""The registry end to end (issue 11's "done when"): an approved application becomes an enrollment on
the county's locked roll, the household moves to another county of the province and the enrollment
follows it, the new county's review campaign exits it, each roll shows each change, and the citizen sees
all of it in 我的待遇."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from core.database import db
from core.registry import reviews, rolls
from core.registry import transfers as transfer_service
from core.registry.models import Enrollment, PaymentRollLine, ReviewTask, Transfer
from tests.helpers import citizen_headers
from tests.registry.test_enrollments import _approve
from tests.registry.test_transfers import _actor, _request


def _lines(roll_id: int) -> dict[int, tuple[str, Decimal]]:
    rows = db.session.scalars(select(PaymentRollLine).where(PaymentRollLine.roll_id == roll_id)).all()
    return {line.enrollment_id: (line.change, line.amount) for line in rows}


def _locked_roll(county: str, month: str, drafter, approver) -> int:
    roll = rolls.draft_roll(county, month, actor=drafter)
    db.session.commit()
    roll = rolls.submit(drafter, roll.id, version=roll.version)
    db.session.commit()
    roll = rolls.lock(approver, roll.id, version=roll.version)
    db.session.commit()
    assert roll.status == "locked" and roll.total_amount == rolls.paid_total(county, month)
    return roll.id


def test_approved_rolled_transferred_reviewed_and_exited(client, app, monkeypatch):
    _, app_id = _approve(client, app, monkeypatch, phone="13900090001")  # 650 yuan from 2026-12
    headers = citizen_headers(client, "13900090001")  # a fresh log-in: the approval took days
    old_a = _actor(app, "life_old_a", "county_officer", "360124")
    old_b = _actor(app, "life_old_b", "county_officer", "360124")
    new_a = _actor(app, "life_new_a", "county_officer", "360121")
    new_b = _actor(app, "life_new_b", "county_officer", "360121")
    new_township = _actor(app, "life_new_town", "township_officer", "360121100")
    with app.app_context():
        old_id = db.session.scalar(select(Enrollment.id).where(Enrollment.application_id == app_id))
        december = _locked_roll("360124", "2026-12", old_a, old_b)
        assert _lines(december) == {old_id: ("new", Decimal("650.00"))}
        db.session.remove()
    benefit = client.get(f"/api/v1/me/benefits/{old_id}", headers=headers).get_json()
    assert "months_paid" in benefit, benefit
    assert benefit["months_paid"] == 1 and benefit["last_paid_month"] == "2026-12"

    # the 户籍 moves to 南昌县: the household asks, the old county ends with December, the new one accepts
    asked = _request(client, headers, old_id, key="life-transfer-1")
    assert asked.status_code == 201, asked.get_json()
    tid = asked.get_json()["id"]
    with app.app_context():
        transfer_service.release(old_a, tid, end_month="2026-12")
        db.session.commit()
        transfer_service.accept(new_a, tid)
        db.session.commit()
        new_id = db.session.get(Transfer, tid).new_enrollment_id
        new = db.session.get(Enrollment, new_id)
        assert (new.county_code, new.start_month, new.monthly_amount) == ("360121", "2027-01", Decimal("650.00"))
        # each county's January roll shows the move
        old_january = rolls.draft_roll("360124", "2027-01", actor=old_a)
        new_january = _locked_roll("360121", "2027-01", new_a, new_b)
        db.session.commit()
        assert _lines(old_january.id) == {old_id: ("transferred_out", Decimal("0.00"))}
        assert _lines(new_january) == {new_id: ("transferred_in", Decimal("650.00"))}

        # the new county's review exits it after the home visit
        campaign = reviews.start_campaign(
            new_a, name="2027年上半年复核", program="dibao", township_codes=None, deadline="2027-06-30"
        )
        db.session.commit()
        task = db.session.scalar(select(ReviewTask).where(ReviewTask.campaign_id == campaign.id))
        assert task.enrollment_id == new_id and task.township_code == "360121100"
        reviews.record_outcome(
            new_township,
            task.id,
            "exit",
            reason="家庭成员就业，收入超过低保标准",
            visit_record="2027年1月入户核查：长子在县城务工，月收入约3000元",
            month="2027-01",
            version=task.version,
        )
        db.session.commit()
        assert db.session.get(Enrollment, new_id).status == "exited"
        february = rolls.draft_roll("360121", "2027-02", actor=new_a)
        db.session.commit()
        assert _lines(february.id) == {new_id: ("exited", Decimal("0.00"))} and february.total_amount == 0
        rows, total = reviews.progress(new_a, campaign)
        db.session.remove()
    assert [r["township_code"] for r in rows] == ["360121100"]
    assert rows[0]["done"] == rows[0]["exits"] == 1
    assert rows[0]["saved"] == total["saved"] == Decimal("650.00")

    mine = {b["id"]: b for b in client.get("/api/v1/me/benefits", headers=headers).get_json()}
    assert set(mine) == {old_id, new_id}
    assert mine[old_id]["status"] == "transferred" and mine[old_id]["months_paid"] == 1
    assert mine[new_id]["status"] == "exited" and mine[new_id]["months_paid"] == 1
    history = client.get(f"/api/v1/me/benefits/{new_id}", headers=headers).get_json()["history"]
    assert [h["kind"] for h in history] == ["exited", "transferred_in"]
    assert "行政复议" in client.get(f"/api/v1/me/benefits/{new_id}", headers=headers).get_json()["appeal_route"]
