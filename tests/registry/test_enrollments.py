"""An approved application becomes one enrollment; every change is an event told to the household."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core import clock
from core.actor import Actor
from core.database import db
from core.errors import Conflict, ValidationFailed
from core.notifications.models import OutboxMessage
from core.registry import services as registry
from core.registry.models import Enrollment, EnrollmentEvent, EnrollmentMember, Person, PersonFact
from tests.portal.test_workflow import _act, _long_sessions, _officer, _steps, _to_notice
from tests.registry.factory import make_enrollment

COUNTY = Actor(kind="officer", id=None, roles=("county_officer",), region_code="360124")


def _approve(client, app, monkeypatch, phone="13900060001"):
    _long_sessions(app, monkeypatch)
    officer = _officer(app, f"reg_t_{phone[-4:]}")
    headers, app_id = _to_notice(client, app, officer, phone)
    clock.set_offset(timedelta(days=8))
    assert _act(officer, app_id, _steps(app, app_id)["public_notice"], "notice_finish").status_code == 302
    county = _officer(app, f"reg_c_{phone[-4:]}", region="360124", role="county_officer")
    ok = _act(
        county,
        app_id,
        _steps(app, app_id)["confirmation"],
        "decide",
        result="approve",
        amount="650",
        start_month="2026-12",
    )
    assert ok.status_code == 302
    return headers, app_id


def test_approval_enrolls_the_household_once(client, app, monkeypatch):
    _, app_id = _approve(client, app, monkeypatch)
    with app.app_context():
        rows = db.session.scalars(select(Enrollment).where(Enrollment.application_id == app_id)).all()
        assert len(rows) == 1
        enrollment = rows[0]
        assert enrollment.status == "active" and enrollment.program == "dibao"
        assert enrollment.monthly_amount == Decimal("650.00") and enrollment.start_month == "2026-12"
        assert enrollment.township_code == "360124100" and enrollment.county_code == "360124"
        assert enrollment.next_review_date.isoformat() == "2027-06-01"  # 低保: every six months
        # the members are persons; the applicant's person is the payee; facts keep their source
        person = db.session.get(Person, enrollment.person_id)
        assert person.name == "张建国" and person.id_number.startswith("360124")
        assert db.session.scalar(select(func.count()).select_from(EnrollmentMember)) == 1
        sources = {
            f.source_type for f in db.session.scalars(select(PersonFact).where(PersonFact.person_id == person.id))
        }
        assert sources == {"application"}
        # the same decision again (a retried task, a second listener call) adds nothing
        from core.applications.models import Application

        again = registry.enroll_approved(COUNTY, db.session.get(Application, app_id))
        assert again.id == enrollment.id
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Enrollment)) == 1
        kinds = [e.kind for e in registry.events_of(enrollment.id)]
        assert kinds == ["created"]


def test_person_seen_twice_is_one_person(app):
    with app.app_context():
        a = registry.person_for("36012419700506001X", "李四", source_type="import", source_id="f1")
        b = registry.person_for("36012419700506001x", "李四", source_type="report", source_id="9")
        assert a.id == b.id
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Person)) == 1
        # at rest the number is neither stored in clear nor as its plain hash
        raw = db.session.execute(select(Person.id_number_enc, Person.id_number_bidx)).one()
        assert "36012419700506001X" not in raw[0] and "36012419700506001X" not in raw[1]
        facts = db.session.scalars(select(PersonFact).order_by(PersonFact.id)).all()
        assert [(f.source_type, f.source_id) for f in facts] == [("import", "f1"), ("report", "9")]


def test_changes_are_events_with_diffs_and_notices(app):
    with app.app_context():
        eid = make_enrollment(amount="800.00")
        enrollment = db.session.get(Enrollment, eid)
        with pytest.raises(ValidationFailed):
            registry.change(COUNTY, enrollment, "suspended", reason="")
        registry.change(COUNTY, enrollment, "adjusted", reason="家庭收入增加", amount=Decimal("500.00"))
        registry.change(COUNTY, enrollment, "suspended", reason="外出务工，待核实")
        with pytest.raises(Conflict):
            registry.change(COUNTY, enrollment, "suspended", reason="again")
        registry.change(COUNTY, enrollment, "resumed", reason=None)
        registry.change(COUNTY, enrollment, "exited", reason="家庭收入超过低保标准", month="2027-01")
        db.session.commit()
        events = registry.events_of(eid)
        assert [e.kind for e in events] == ["created", "adjusted", "suspended", "resumed", "exited"]
        assert events[1].diff == {"monthly_amount": ["800.00", "500.00"]}
        assert events[4].diff["status"] == ["active", "exited"] and enrollment.end_month == "2027-01"
        with pytest.raises(Conflict):
            registry.change(COUNTY, enrollment, "resumed", reason=None)
        assert db.session.scalar(select(func.count()).select_from(EnrollmentEvent)) == 5


def test_household_is_told_with_the_appeal_route(client, app):
    from tests.helpers import bound_citizen, id_number

    number = id_number(__import__("datetime").date(1970, 5, 6), 77)
    bound_citizen(client, "13900060077", "王大明", number)
    with app.app_context():
        eid = make_enrollment(seq=76)  # seq 76 → 77th number: the verified citizen is the payee
        enrollment = db.session.get(Enrollment, eid)
        payee = db.session.get(Person, enrollment.person_id)
        assert payee.id_number == number
        registry.change(COUNTY, enrollment, "exited", reason="家庭收入超过低保标准", month="2027-01")
        db.session.commit()
        texts = [
            m.payload.get("text")
            for m in db.session.scalars(select(OutboxMessage))
            if m.template == "enrollment_change"
        ]
        assert any("纳入" in t for t in texts)
        assert any("停止发放" in t and "行政复议" in t for t in texts)


def test_amounts_are_decimal_and_bounded():
    assert registry.parse_amount("905") == Decimal("905.00")
    for bad in ("-1", "abc", "1e400", "NaN", "100000.01", "1.234"):
        with pytest.raises(ValidationFailed):
            registry.parse_amount(bad)
