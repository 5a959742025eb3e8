"""Payment rolls (发放名册), the service: drafting set-based with the changes since last month, re-drafting a
draft only, the two-person lock, region scope, the locked roll's database guard, the beat job, and the
reconciliation of totals (roll == enrollments paid that month)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from core.audit.models import AuditEntry
from core.database import commit, db, rollback
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.registry import citizen, rolls
from core.registry.models import Enrollment, PaymentRoll, PaymentRollLine
from tests.registry.factory import make_enrollment
from tests.registry.rolls_helpers import COUNTY, LIDU, MINHE, change, enrollments_in_county, officer


def _lines(roll_id: int) -> dict[int, PaymentRollLine]:
    return {
        line.enrollment_id: line
        for line in db.session.scalars(select(PaymentRollLine).where(PaymentRollLine.roll_id == roll_id))
    }


def _lock(app, county: str, month: str, a, b) -> int:
    """Draft, submit (officer a), lock (officer b); returns the roll id."""
    with app.app_context():
        roll = rolls.draft_roll(county, month, actor=a)
        commit()
        rolls.submit(a, roll.id, version=roll.version)
        commit()
        rolls.lock(b, roll.id, version=None)
        commit()
        roll_id = roll.id
        db.session.remove()
    return roll_id


def test_first_roll_lists_who_is_paid_and_reconciles(app):
    ids = enrollments_in_county(app)
    with app.app_context():
        roll = rolls.draft_roll(COUNTY, "2026-12")
        commit()
        lines = _lines(roll.id)
        assert set(lines) == {ids["a"], ids["b"], ids["c"]}  # not the later start, not the other county
        assert roll.status == "draft" and roll.drafted_by_officer_id is None
        assert roll.line_count == 3 and roll.payable_count == 3
        assert roll.total_amount == Decimal("2035.75")
        assert isinstance(roll.total_amount, Decimal)
        assert roll.total_amount == rolls.paid_total(COUNTY, "2026-12")
        total = sum((Decimal(line.amount) for line in lines.values()), Decimal("0"))
        assert total == roll.total_amount
        # the county's first roll: an enrollment that started before is not "new"
        assert {line.change for line in lines.values()} == {"unchanged"}
        line = lines[ids["a"]]
        assert (line.township_code, line.program, line.payee_name, line.member_count) == (MINHE, "dibao", "王大明", 2)
        assert (
            db.session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "payment_roll.draft")
            )
            == 1
        )


def test_changes_since_last_month(app):
    ids = enrollments_in_county(app)
    a, b = officer(app, "roll_a"), officer(app, "roll_b")
    with app.app_context():
        moving = make_enrollment(seq=610, township=LIDU, amount="520.00", village=None, head_name="赵转出")
        leaving = make_enrollment(seq=611, township=MINHE, amount="410.00", village=None, head_name="钱退出")
        arriving = make_enrollment(
            seq=612, township=MINHE, amount="560.00", start_month="2027-01", village=None, head_name="孙转入"
        )
        db.session.get(Enrollment, arriving).transferred_from_id = moving
        commit()
        db.session.remove()
    december = _lock(app, COUNTY, "2026-12", a, b)
    change(app, ids["a"], "adjusted", amount="950.00")
    change(app, ids["b"], "suspended")
    change(app, leaving, "exited", month="2026-12")
    change(app, moving, "transferred_out", month="2026-12")
    with app.app_context():
        roll = rolls.draft_roll(COUNTY, "2027-01", actor=a)
        commit()
        lines = _lines(roll.id)
        changes = {eid: (line.change, line.amount, line.previous_amount) for eid, line in lines.items()}
        assert changes[ids["a"]] == ("adjusted", Decimal("950.00"), Decimal("905.00"))
        assert changes[ids["b"]] == ("suspended", Decimal("0"), Decimal("650.50"))
        assert changes[ids["c"]] == ("unchanged", Decimal("480.25"), Decimal("480.25"))
        assert changes[ids["later"]][:2] == ("new", Decimal("300.00"))
        assert changes[leaving] == ("exited", Decimal("0"), Decimal("410.00"))
        assert changes[moving] == ("transferred_out", Decimal("0"), Decimal("520.00"))
        assert changes[arriving] == ("transferred_in", Decimal("560.00"), None)
        assert roll.payable_count == 4 and roll.line_count == 7
        assert roll.total_amount == Decimal("950.00") + Decimal("480.25") + Decimal("300.00") + Decimal("560.00")
        assert roll.total_amount == rolls.paid_total(COUNTY, "2027-01")
        # months paid for the citizen view come from locked rolls only (January is a draft)
        assert citizen._paid([ids["a"]]) == {ids["a"]: (1, "2026-12")}
        assert december != roll.id
        db.session.remove()
    _lock(app, COUNTY, "2027-01", a, b)
    change(app, ids["b"], "resumed")
    with app.app_context():
        roll = rolls.draft_roll(COUNTY, "2027-02")
        lines = _lines(roll.id)
        assert lines[ids["b"]].change == "resumed" and lines[ids["b"]].amount == Decimal("650.50")
        assert lines[ids["a"]].change == "unchanged"
        assert lines[arriving].change == "unchanged"
        assert leaving not in lines and moving not in lines  # an exit is listed once
        assert citizen._paid([ids["a"], ids["b"]]) == {ids["a"]: (2, "2027-01"), ids["b"]: (1, "2026-12")}


def test_exit_after_the_draft_month_is_still_paid_until_its_last_month(app):
    ids = enrollments_in_county(app)
    change(app, ids["c"], "exited", month="2027-01")  # decided in advance: paid up to January
    with app.app_context():
        january = rolls.draft_roll(COUNTY, "2027-01")
        assert _lines(january.id)[ids["c"]].amount == Decimal("480.25")
        february = rolls.draft_roll(COUNTY, "2027-02")
        assert _lines(february.id)[ids["c"]].change == "exited"
        assert rolls.paid_total(COUNTY, "2027-01") == january.total_amount


def test_redraft_replaces_lines_and_a_submitted_roll_is_never_redrafted(app):
    ids = enrollments_in_county(app)
    a, b = officer(app, "roll_a"), officer(app, "roll_b")
    with app.app_context():
        roll = rolls.draft_roll(COUNTY, "2026-12", actor=a)
        commit()
        first_version = roll.version
        roll_id = roll.id
        db.session.remove()
    change(app, ids["a"], "adjusted", amount="1000.00")
    with app.app_context():
        again = rolls.draft_roll(COUNTY, "2026-12", actor=b)
        commit()
        assert again.id == roll_id and again.version > first_version
        assert again.drafted_by_officer_id == b.id
        assert db.session.scalar(select(func.count()).select_from(PaymentRoll)) == 1
        assert db.session.scalar(select(func.count()).where(PaymentRollLine.roll_id == roll_id)) == 3
        assert _lines(roll_id)[ids["a"]].amount == Decimal("1000.00")
        rolls.submit(a, roll_id, version=again.version)
        commit()
        with pytest.raises(Conflict) as err:
            rolls.draft_roll(COUNTY, "2026-12")
        assert err.value.code == "roll_not_draft" and "待审核" in err.value.message
        rollback()
        with pytest.raises(Conflict) as err:
            rolls.officer_redraft(a, roll_id, version=None)
        assert err.value.code == "roll_not_draft"
        rollback()


def test_bad_month_and_county_are_field_errors(app):
    with app.app_context():
        for county, month, field in (("360124", "2026-13", "month"), ("36012", "2026-12", "county_code")):
            with pytest.raises(ValidationFailed) as err:
                rolls.draft_roll(county, month)
            assert field in err.value.errors


def test_two_person_rule_scope_and_stale_version(app):
    enrollments_in_county(app)
    a, b = officer(app, "roll_a"), officer(app, "roll_b")
    township = officer(app, "roll_town", region=MINHE, role="township_officer")
    other = officer(app, "roll_other", region="360121")
    with app.app_context():
        roll = rolls.officer_draft(a, None, "2026-12")
        commit()
        roll_id, version = roll.id, roll.version
        with pytest.raises(PermissionDenied) as err:
            rolls.submit(township, roll_id, version=version)
        assert err.value.code == "county_only"
        with pytest.raises(PermissionDenied):
            rolls.officer_draft(township, COUNTY, "2026-12")
        with pytest.raises(NotFound):
            rolls.submit(other, roll_id, version=version)
        with pytest.raises(NotFound):
            rolls.officer_draft(other, COUNTY, "2026-12")
        admin = officer(app, "roll_city", region="3601", role="city_admin")
        for code in ("360199", MINHE[:6] + "1"):
            with pytest.raises(ValidationFailed) as err:
                rolls.officer_draft(admin, code, "2026-12")
            assert "county_code" in err.value.errors
        with pytest.raises(Conflict) as err:
            rolls.submit(a, roll_id, version=version - 1)
        assert err.value.code == "edit_conflict"
        with pytest.raises(Conflict) as err:
            rolls.lock(b, roll_id, version=version)
        assert err.value.code == "roll_not_submitted"
        rollback()
        rolls.submit(a, roll_id, version=version)
        commit()
        roll = db.session.get(PaymentRoll, roll_id)
        assert roll.status == "submitted" and roll.submitted_by_officer_id == a.id
        with pytest.raises(PermissionDenied) as err:
            rolls.lock(a, roll_id, version=roll.version)
        assert err.value.code == "roll_two_person" and "双人复核" in err.value.message
        rollback()
        with pytest.raises(PermissionDenied):
            rolls.lock(township, roll_id, version=None)
        rollback()
        locked = rolls.lock(b, roll_id, version=db.session.get(PaymentRoll, roll_id).version)
        commit()
        assert locked.status == "locked" and locked.locked_by_officer_id == b.id and locked.locked_at
        with pytest.raises(Conflict) as err:
            rolls.lock(b, roll_id, version=None)
        assert err.value.code == "roll_locked"
        rollback()
        with pytest.raises(Conflict):
            rolls.reopen(b, roll_id, version=None, reason="金额有误")
        rollback()
        actions = set(db.session.scalars(select(AuditEntry.action).where(AuditEntry.target_type == "payment_rolls")))
        assert {"payment_roll.draft", "payment_roll.submit", "payment_roll.lock"} <= actions


def test_the_drafter_cannot_lock_what_another_submitted(app):
    enrollments_in_county(app)
    a, b = officer(app, "roll_a"), officer(app, "roll_b")
    with app.app_context():
        roll = rolls.officer_draft(a, None, "2026-12")
        rolls.submit(b, roll.id, version=None)
        commit()
        with pytest.raises(PermissionDenied) as err:
            rolls.lock(a, roll.id, version=None)
        assert err.value.code == "roll_two_person"


def test_an_outdated_draft_cannot_be_submitted_and_a_reviewer_can_send_it_back(app):
    ids = enrollments_in_county(app)
    a, b = officer(app, "roll_a"), officer(app, "roll_b")
    with app.app_context():
        roll_id = rolls.draft_roll(COUNTY, "2026-12", actor=a).id
        commit()
        db.session.remove()
    change(app, ids["c"], "adjusted", amount="500.00")
    with app.app_context():
        with pytest.raises(Conflict) as err:
            rolls.submit(a, roll_id, version=None)
        assert err.value.code == "roll_outdated" and "1条" in err.value.message
        rollback()
        rolls.officer_redraft(a, roll_id, version=None)
        rolls.submit(a, roll_id, version=None)
        commit()
        with pytest.raises(ValidationFailed):
            rolls.reopen(b, roll_id, version=None, reason=" ")
        rollback()
        reopened = rolls.reopen(b, roll_id, version=None, reason="李渡镇金额待核")
        commit()
        assert reopened.status == "draft" and reopened.submitted_by_officer_id is None


def test_an_empty_roll_cannot_be_submitted(app):
    a = officer(app, "roll_a")
    with app.app_context():
        roll = rolls.draft_roll(COUNTY, "2026-12")
        assert roll.line_count == 0 and roll.total_amount == Decimal("0.00")
        with pytest.raises(Conflict) as err:
            rolls.submit(a, roll.id, version=None)
        assert err.value.code == "roll_empty"


def test_a_locked_roll_never_changes_not_even_by_raw_sql(app):
    ids = enrollments_in_county(app)
    a, b = officer(app, "roll_a"), officer(app, "roll_b")
    roll_id = _lock(app, COUNTY, "2026-12", a, b)
    with app.app_context():
        with pytest.raises(Conflict) as err:
            rolls.draft_roll(COUNTY, "2026-12")
        assert err.value.code == "roll_not_draft"
        rollback()
        line_id = db.session.scalar(select(func.min(PaymentRollLine.id)).where(PaymentRollLine.roll_id == roll_id))
        enrollment_id = ids["later"]  # not on the roll: only the guard can refuse the line
        attempts = [
            ("UPDATE payment_roll_lines SET amount = 1 WHERE id = :line", {"line": line_id}),
            ("DELETE FROM payment_roll_lines WHERE id = :line", {"line": line_id}),
            (
                "INSERT INTO payment_roll_lines (roll_id, enrollment_id, township_code, program, payee_name,"
                " member_count, amount, change) VALUES (:roll, :enrollment, '360124100', 'dibao', '假名', 1, 9999,"
                " 'new')",
                {"roll": roll_id, "enrollment": enrollment_id},
            ),
            ("UPDATE payment_rolls SET total_amount = 0 WHERE id = :roll", {"roll": roll_id}),
            ("UPDATE payment_rolls SET status = 'draft' WHERE id = :roll", {"roll": roll_id}),
            ("DELETE FROM payment_rolls WHERE id = :roll", {"roll": roll_id}),
        ]
        for sql, params in attempts:
            with pytest.raises(DBAPIError, match="locked"), db.engine.begin() as conn:
                conn.execute(text(sql), params)
        roll = db.session.get(PaymentRoll, roll_id)
        assert roll.status == "locked" and roll.total_amount == Decimal("2035.75")
        assert db.session.get(PaymentRollLine, line_id).amount != Decimal("1")
        db.session.remove()
    with app.app_context():  # a draft's lines stay writable (the guard is about locked rolls only)
        draft = rolls.draft_roll(COUNTY, "2027-01")
        commit()
        with db.engine.begin() as conn:
            changed = conn.execute(
                text("UPDATE payment_roll_lines SET amount = amount WHERE roll_id = :roll"), {"roll": draft.id}
            )
        assert changed.rowcount == draft.line_count


def test_beat_job_drafts_next_month_once_per_county_and_skips_submitted(app, monkeypatch):
    from workers.tasks.rolls import draft_next_rolls

    enrollments_in_county(app)
    a = officer(app, "roll_a")
    first = draft_next_rolls("2027-01")
    assert first == {"month": "2027-01", "drafted": ["360121", COUNTY], "skipped": []}
    second = draft_next_rolls("2027-01")
    assert second["drafted"] == ["360121", COUNTY]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PaymentRoll)) == 2
        roll = db.session.scalar(select(PaymentRoll).where(PaymentRoll.county_code == COUNTY))
        rolls.submit(a, roll.id, version=None)
        commit()
        version = roll.version
        db.session.remove()
    third = draft_next_rolls("2027-01")
    assert third["skipped"] == [COUNTY] and third["drafted"] == ["360121"]
    with app.app_context():
        assert db.session.get(PaymentRoll, roll.id).version == version  # untouched
        assert db.session.scalar(select(func.count()).select_from(PaymentRoll)) == 2
    # the schedule: on ROLL_DRAFT_DAY of each month, for next month
    celery = app.extensions["celery"]
    entry = celery.conf.beat_schedule["draft-next-payment-rolls"]
    assert entry["task"] == "registry.draft_next_rolls"
    assert entry["schedule"].day_of_month == {app.config["ROLL_DRAFT_DAY"]} == {20}
    with app.app_context():
        from datetime import date

        assert rolls.next_month(date(2026, 12, 20)) == "2027-01"


@pytest.mark.postgres
def test_concurrent_drafts_of_one_county_month_make_one_roll(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("row locks and the unique race need PostgreSQL (DATABASE_URL)")
    enrollments_in_county(app)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def draft() -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                rolls.draft_roll(COUNTY, "2026-12")
                commit()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=draft) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PaymentRoll)) == 1
        assert db.session.scalar(select(func.count()).select_from(PaymentRollLine)) == 3
        assert db.session.scalar(select(PaymentRoll.total_amount)) == Decimal("2035.75")
