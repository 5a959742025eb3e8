"""`make run`'s demo data loads once and its log-ins work."""

from __future__ import annotations

import re

from tests.helpers import portal_login


def test_demo_load_is_idempotent_and_logins_work(app, client, tmp_path):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "load", "--regions-dir", str(tmp_path / "absent")])
    assert first.exit_code == 0, first.output
    assert "officer minhe created" in first.output and "demo application submitted" in first.output
    again = runner.invoke(args=["demo", "load", "--regions-dir", str(tmp_path / "absent")])
    assert again.exit_code == 0 and "demo data already present" in again.output
    info = runner.invoke(args=["demo", "info"])
    secrets = dict(re.findall(r"^\s+(\w+)\s+\w+\s+\d+\s+totp_secret: ([A-Z2-7]+)$", info.output, re.M))
    assert set(secrets) == {"minhe", "lidu", "jinxian", "jinxian2", "jxdata"}
    # the county's rolls: this month's locked by the second officer (双人复核), next month's drafted
    assert re.search(
        r"payment rolls: \d{4}-\d{2} locked \(3,000 paid, [\d,]+\.\d\d 元\), \d{4}-\d{2} drafted", first.output
    )
    county = app.test_client()
    portal_login(county, "jinxian2", secrets["jinxian2"], password="Demo-Password-2026")
    rolls_page = county.get("/portal/rolls").get_data(as_text=True)
    assert "已锁定" in rolls_page and "草稿" in rolls_page
    officer = app.test_client()
    assert portal_login(officer, "minhe", secrets["minhe"], password="Demo-Password-2026").status_code == 302
    queue = officer.get("/portal/queue").get_data(as_text=True)
    assert "低保申请 · 张*" in queue and "独居老人无人照料" in queue  # the application and the report
    lidu = app.test_client()
    portal_login(lidu, "lidu", secrets["lidu"], password="Demo-Password-2026")
    lidu_queue = lidu.get("/portal/queue").get_data(as_text=True)
    assert "户籍地知情" in lidu_queue and "低保申请 · 张*" in lidu_queue  # the 户籍 township's information copy
    assert "共 0 件" in lidu.get("/portal/queue?bucket=accept").get_data(as_text=True)  # not for it to accept


def test_demo_register_is_realistic_and_loads_once(app, tmp_path):
    from datetime import date

    from sqlalchemy import func, select

    from core import idnumber
    from core.database import db
    from core.registry.models import Enrollment, EnrollmentEvent, Household, Person

    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "load", "--regions-dir", str(tmp_path / "absent")])
    assert first.exit_code == 0, first.output
    assert "demo register loaded: 3,000 households" in first.output

    def counts() -> dict[str, int]:
        with app.app_context():
            result = {
                m.__tablename__: db.session.scalar(select(func.count()).select_from(m))
                for m in (Person, Household, Enrollment, EnrollmentEvent)
            }
            db.session.remove()
            return result

    before = counts()
    assert before["registry_households"] == 3000 and before["enrollments"] == 3000
    assert before["persons"] > 5000 and before["enrollment_events"] == 3000
    again = runner.invoke(args=["demo", "load", "--regions-dir", str(tmp_path / "absent")])
    assert again.exit_code == 0 and "demo register loaded" not in again.output
    assert counts() == before
    with app.app_context():
        by_program = dict(
            db.session.execute(select(Enrollment.program, func.count()).group_by(Enrollment.program)).all()
        )
        assert set(by_program) == {"dibao", "tekun"} and 200 < by_program["tekun"] < 600
        townships = db.session.scalar(select(func.count(func.distinct(Enrollment.township_code))))
        from core.regions.models import Region

        county_townships = db.session.scalar(
            select(func.count()).where(Region.level == "township", Region.parent_code == "360124")
        )
        assert townships == county_townships  # every township of the county has recipients
        amounts = db.session.scalars(select(Enrollment.monthly_amount)).all()
        assert all(0 < a <= 5000 for a in amounts)
        sample = db.session.scalars(select(Person).order_by(Person.id).limit(300)).all()
        for person in sample:
            number, problems = idnumber.validate_id_number(person.id_number)
            assert problems == [] and number.startswith("360124") and person.birth_date < date(2026, 12, 2)
        months = {m for m in db.session.scalars(select(Enrollment.start_month))}
        assert min(months) < "2022-01" and max(months) >= "2026-01"
        db.session.remove()
