"""A death pushed by a department becomes a red warning in the enrollment's township at once; the
township verifies, the county stops payment through the registry, arrears come from the locked rolls."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select, update

from core.casework.models import Case
from core.database import db
from core.exchange.models import DepartmentEvent
from core.registry import rolls
from core.registry.models import Enrollment, EnrollmentEvent, EnrollmentMember, PaymentRoll, Person
from core.warnings import services as warnings
from core.warnings.models import RiskWarning
from tests.exchange.exchange_helpers import make_client, post_json
from tests.registry.factory import make_enrollment
from tests.registry.rolls_helpers import COUNTY, MINHE, OTHER_COUNTY_TOWNSHIP, officer

EVENTS = "/api/v1/exchange/events"


def _member(app, enrollment_id: int, *, head: bool = False) -> tuple[str, str]:
    with app.app_context():
        rows = db.session.execute(
            select(Person, Enrollment.person_id)
            .join(EnrollmentMember, EnrollmentMember.person_id == Person.id)
            .join(Enrollment, Enrollment.id == EnrollmentMember.enrollment_id)
            .where(Enrollment.id == enrollment_id)
            .order_by(Person.id)
        ).all()
        person = next(p for p, payee in rows if (p.id == payee) == head)
        return person.id_number, person.name


def _push(client, key_id: str, events: list[dict]):
    return post_json(client, EVENTS, {"events": events}, key_id=key_id)


def _death(number: str, event_id: str = "HH-1", **over) -> dict:
    return {"event_id": event_id, "type": "death", "id_number": number, "date": "2026-11-10", "name": "王大明", **over}


def test_a_recipients_death_is_a_warning_in_the_township_queue(app, client):
    with app.app_context():
        enrollment_id = make_enrollment(seq=700, township=MINHE, amount="905.00")
        _, key_id = make_client()
    number, _ = _member(app, enrollment_id, head=True)
    response = _push(client, key_id, [_death(number)])
    assert response.status_code == 200, response.json
    assert response.json["results"] == [{"event_id": "HH-1", "status": "received", "matched_enrollments": 1}]
    with app.app_context():
        warning = db.session.scalar(select(RiskWarning))
        assert (warning.reason, warning.level, warning.status) == ("deceased", "red", "open")
        assert warning.township_code == MINHE and warning.enrollment_id == enrollment_id
        assert warning.id_number == number and warning.evidence[0]["event_id"] == "HH-1"
        case = db.session.get(Case, warning.case_id)
        assert (case.kind, case.township_code, case.subject_type, case.subject_id) == (
            "warning",
            MINHE,
            "warning",
            warning.id,
        )
        assert case.stage == "warning" and case.due_date is not None
        assert db.session.scalar(select(DepartmentEvent.status)) == "matched"


def test_a_retried_push_and_a_later_cremation_make_no_second_warning(app, client):
    with app.app_context():
        enrollment_id = make_enrollment(seq=701, township=MINHE)
        _, key_id = make_client()
    number, _ = _member(app, enrollment_id, head=False)
    assert _push(client, key_id, [_death(number)]).status_code == 200
    retry = _push(client, key_id, [_death(number)])
    assert retry.json["results"][0]["status"] == "duplicate"
    cremation = _push(client, key_id, [_death(number, "HH-2", type="cremation", place="进贤县殡仪馆")])
    assert cremation.json["results"][0]["status"] == "received"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RiskWarning)) == 1
        assert db.session.scalar(select(func.count()).select_from(Case)) == 1
        warning = db.session.scalar(select(RiskWarning))
        assert [e["event_type"] for e in warning.evidence] == ["death", "cremation"]


def test_a_namesake_with_another_number_and_a_non_recipient_match_nothing(app, client):
    from tests.helpers import id_number

    with app.app_context():
        make_enrollment(seq=702, township=MINHE, head_name="王大明")
        _, key_id = make_client()
    stranger = id_number(seq=555, prefix="360124")
    response = _push(client, key_id, [_death(stranger, name="王大明")])
    assert response.json["results"][0]["matched_enrollments"] == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RiskWarning)) == 0
        assert db.session.scalar(select(DepartmentEvent.status)) == "unmatched"


def test_bad_events_are_all_or_nothing_with_field_errors(app, client):
    with app.app_context():
        _, key_id = make_client()
    response = _push(
        client,
        key_id,
        [
            _death("360124198001010011", "A"),
            {"event_id": "B", "type": "death", "id_number": "12345", "date": "2026/11/10"},
            _death("360124198001010011", "C", date="2999-01-01"),
        ],
    )
    assert response.status_code == 422
    errors = response.json["errors"]
    assert "events.1.id_number" in errors and "events.1.date" in errors and "events.2.date" in errors
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(DepartmentEvent)) == 0
    too_many = _push(client, key_id, [_death("360124198001010011", f"E{i}") for i in range(1001)])
    assert too_many.status_code == 422


def test_another_countys_officer_never_sees_the_warning(app, client):
    with app.app_context():
        enrollment_id = make_enrollment(seq=703, township=MINHE)
        _, key_id = make_client()
    number, _ = _member(app, enrollment_id, head=True)
    _push(client, key_id, [_death(number)])
    outsider = officer(app, "nanchang1", region="360121", role="county_officer")
    township_outsider = officer(app, "liantang1", region=OTHER_COUNTY_TOWNSHIP, role="township_officer")
    insider = officer(app, "minhe1", region=MINHE, role="township_officer")
    with app.app_context():
        warning_id = db.session.scalar(select(RiskWarning.id))
        for actor in (outsider, township_outsider):
            assert warnings.list_warnings(actor).total == 0
            try:
                warnings.get_warning(actor, warning_id)
                raise AssertionError("a foreign warning was readable")
            except warnings.NotFound:
                pass
        assert warnings.list_warnings(insider).total == 1


def test_verify_then_the_county_stops_payment_and_computes_arrears(app, client):
    with app.app_context():
        enrollment_id = make_enrollment(seq=704, township=MINHE, amount="905.00", start_month="2026-09")
        _, key_id = make_client()
        for month in ("2026-10", "2026-11", "2026-12"):
            rolls.draft_roll(COUNTY, month)
        db.session.execute(update(PaymentRoll).values(status="locked"))
        db.session.commit()
    number, _ = _member(app, enrollment_id, head=True)
    _push(client, key_id, [_death(number, date="2026-10-15")])
    township = officer(app, "minhe2", region=MINHE, role="township_officer")
    county = officer(app, "jinxian9", region=COUNTY, role="county_officer")
    with app.app_context():
        warning_id = db.session.scalar(select(RiskWarning.id))
        try:
            warnings.act(township, warning_id, action="exit", reason="死亡")
            raise AssertionError("a township officer stopped payment")
        except warnings.PermissionDenied:
            pass
        warnings.verify(township, warning_id, result="confirmed", note="入户核实，确已于10月15日去世")
        db.session.commit()
        case = db.session.scalar(select(Case))
        assert case.stage == "warning_action" and case.status == "in_progress"
        warning = warnings.act(county, warning_id, action="exit", reason="死亡注销", month="2026-10")
        db.session.commit()
        assert warning.status == "closed" and warning.open_key is None
        assert warning.arrears_amount == Decimal("1810.00")  # November and December paid after the death
        assert warning.values["arrears_months"] == ["2026-11", "2026-12"]
        enrollment = db.session.get(Enrollment, enrollment_id)
        assert enrollment.status == "exited"
        event = db.session.scalar(select(EnrollmentEvent).where(EnrollmentEvent.kind == "exited"))
        assert (event.source_type, event.source_id) == ("warning", warning_id)
        assert db.session.scalar(select(Case.status)) == "closed"


def test_a_dismissed_warning_is_not_raised_again_from_the_same_record(app, client):
    with app.app_context():
        enrollment_id = make_enrollment(seq=705, township=MINHE)
        _, key_id = make_client()
    number, _ = _member(app, enrollment_id, head=True)
    _push(client, key_id, [_death(number)])
    township = officer(app, "minhe3", region=MINHE, role="township_officer")
    with app.app_context():
        warning_id = db.session.scalar(select(RiskWarning.id))
        warnings.verify(township, warning_id, result="dismissed", note="本人健在，部门数据有误", data_wrong=True)
        db.session.commit()
        assert [w.id for w in warnings.data_quality_notes(township)] == [warning_id]
    _push(client, key_id, [_death(number, "HH-9", type="cremation")])  # the same death date again
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RiskWarning)) == 1
    _push(client, key_id, [_death(number, "HH-10", date="2026-11-28")])  # a new record: a new warning
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RiskWarning)) == 2
