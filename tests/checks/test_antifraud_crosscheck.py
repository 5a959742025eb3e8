"""The anti-fraud cross-check: recipients × department files → warnings in the enrollment's township,
deduplicated across runs, never on a name alone, invisible to another county."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from core.actor import SYSTEM
from core.audit.models import AuditEntry
from core.bulk import crosscheck, roster
from core.casework.models import Case
from core.database import commit, db
from core.errors import NotFound
from core.registry.models import Enrollment, EnrollmentMember, Person
from core.warnings import services as warnings
from core.warnings.models import RiskWarning
from tests.checks.parquet_fixtures import write
from tests.registry.factory import make_enrollment
from tests.registry.rolls_helpers import MINHE, OTHER_COUNTY_TOWNSHIP, officer

TODAY = date(2026, 12, 1)


def _persons(enrollment_id: int) -> list[Person]:
    return list(
        db.session.scalars(
            select(Person)
            .join(EnrollmentMember, EnrollmentMember.person_id == Person.id)
            .where(EnrollmentMember.enrollment_id == enrollment_id)
            .order_by(Person.id)
        )
    )


def _namesake_number(number: str) -> str:
    """Another valid-looking ID number (a different person of the same name)."""
    return number[:14] + ("1111" if number[14:] != "1111" else "2222")


@pytest.fixture
def recipients(app):
    with app.app_context():
        ids = {
            "a": make_enrollment(seq=810, township=MINHE, head_name="王大明", start_month="2026-01"),
            "b": make_enrollment(seq=811, township=MINHE, head_name="张小红", start_month="2026-01"),
            "other": make_enrollment(seq=812, township=OTHER_COUNTY_TOWNSHIP, head_name="刘一", start_month="2026-01"),
        }
        people = {k: [(p.id, p.id_number, p.name) for p in _persons(v)] for k, v in ids.items()}
        db.session.remove()
    return ids, people


def _files(root, people) -> dict[str, list[str]]:
    a_head, b_head, other_head = people["a"][0], people["b"][0], people["other"][0]
    return {
        "deaths": [
            write(
                root,
                "deaths",
                [
                    {"id_number": a_head[1], "name": a_head[2], "death_date": "2026-06-15"},
                    # a namesake of 张小红 with another ID number: never a match
                    {"id_number": _namesake_number(b_head[1]), "name": b_head[2], "death_date": "2026-07-01"},
                    {"id_number": other_head[1], "name": other_head[2], "death_date": "2026-08-01"},
                ],
                load_id=11,
            )
        ],
        "pensions": [
            write(
                root,
                "pensions",
                [{"id_number": a_head[1], "month": f"2026-{m:02d}-01", "amount": "1200.50"} for m in (5, 6, 7, 8)],
                load_id=12,
            )
        ],
        "vehicles": [
            write(
                root,
                "vehicles",
                [
                    {
                        "id_number": b_head[1],
                        "plate_no": "赣A00001",
                        "vehicle_type": "car",
                        "registered_on": "2026-09-01",
                        "status": "normal",
                    },
                    # bought before the enrollment started: known at the decision, no warning
                    {
                        "id_number": b_head[1],
                        "plate_no": "赣A00002",
                        "vehicle_type": "car",
                        "registered_on": "2025-03-01",
                        "status": "normal",
                    },
                ],
                load_id=13,
            )
        ],
    }


def _run(app, src):
    with app.app_context():
        result = crosscheck.cross_check(SYSTEM, input_sources=src, today=TODAY)
        commit()
        db.session.remove()
    return result


def test_deaths_pensions_and_vehicles_become_township_warnings(app, tmp_path, recipients):
    ids, people = recipients
    result = _run(app, _files(str(tmp_path), people))
    assert result["by_reason"] == {"deceased": 2, "pension_after_death": 1, "new_vehicle": 1}
    with app.app_context():
        rows = {(w.person_id, w.reason): w for w in db.session.scalars(select(RiskWarning))}
        a_head, b_head = people["a"][0], people["b"][0]
        death = rows[(a_head[0], "deceased")]
        assert (death.source, death.level, death.status, death.township_code) == ("anti_fraud", "red", "open", MINHE)
        assert death.enrollment_id == ids["a"] and death.fingerprint == "deceased:2026-06-15"
        assert death.evidence[0]["category"] == "deaths" and death.evidence[0]["load_id"] == 11
        assert death.evidence[0]["row_no"] == 1
        pension = rows[(a_head[0], "pension_after_death")]
        # July and August were drawn after the death (June, the month of the death, was still due)
        assert pension.values["months"] == 2 and pension.values["amount"] == pytest.approx(2401.00)
        assert [e["ref"] for e in pension.evidence] == ["2026-07-01", "2026-08-01"]
        vehicle = rows[(b_head[0], "new_vehicle")]
        assert vehicle.fingerprint == "vehicles:赣A00001" and len(vehicle.evidence) == 1
        # the namesake's death raised nothing about 张小红
        assert (b_head[0], "deceased") not in rows
        # each new warning is a township case
        case = db.session.get(Case, death.case_id)
        assert (case.kind, case.township_code) == ("warning", MINHE)


def test_a_second_run_over_the_same_files_raises_no_second_warning(app, tmp_path, recipients):
    _, people = recipients
    src = _files(str(tmp_path), people)
    first = _run(app, src)
    second = _run(app, src)
    assert first["created"] == 4 and second["created"] == 0 and second["updated"] == 4
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RiskWarning)) == 4
        assert db.session.scalar(select(func.count()).select_from(Case).where(Case.kind == "warning")) == 4


def test_a_dismissed_warning_is_not_raised_again_from_the_same_record(app, tmp_path, recipients):
    _, people = recipients
    src = _files(str(tmp_path), people)
    _run(app, src)
    township = officer(app, "minhe-af", region=MINHE, role="township_officer")
    with app.app_context():
        w = db.session.scalar(select(RiskWarning).where(RiskWarning.reason == "new_vehicle"))
        warnings.verify(township, w.id, result="dismissed", note="车辆已过户，部门数据有误", data_wrong=True)
        commit()
    again = _run(app, src)
    assert again["suppressed"] == 1 and again["created"] == 0


def test_an_officer_of_another_county_sees_none_of_these_warnings(app, tmp_path, recipients):
    _, people = recipients
    _run(app, _files(str(tmp_path), people))
    stranger = officer(app, "other-county-af", region=OTHER_COUNTY_TOWNSHIP[:6])
    with app.app_context():
        page = warnings.list_warnings(stranger, status=None, page_size=100)
        assert {w.township_code for w in page.items} == {OTHER_COUNTY_TOWNSHIP}
        minhe_id = db.session.scalar(select(RiskWarning.id).where(RiskWarning.township_code == MINHE))
        with pytest.raises(NotFound):
            warnings.get_warning(stranger, minhe_id)
        dashboard = crosscheck.dashboard(stranger)
        assert sum(r["total"] for r in dashboard["reasons"]) == 1


def test_an_exited_enrollment_is_not_checked(app, tmp_path, recipients):
    ids, people = recipients
    with app.app_context():
        db.session.get(Enrollment, ids["a"]).status = "exited"
        commit()
        assert people["a"][0][0] not in set(roster.build().column("person_id").to_pylist())
        db.session.remove()
    result = _run(app, _files(str(tmp_path), people))
    assert "pension_after_death" not in result["by_reason"]


def test_the_job_reports_progress_and_is_audited(app, tmp_path, recipients):
    _, people = recipients
    src = _files(str(tmp_path), people)
    county = officer(app, "jinxian-af", region=MINHE[:6])
    seen = []
    with app.app_context():
        job = crosscheck.start(county, trigger="officer", enqueue=False)  # run below with the injected files
        job_id = job.id
        commit()
        job = crosscheck.run(job_id, input_sources=src, today=TODAY, on_progress=lambda s, p: seen.append((s, p)))
        assert (job.status, job.progress, job.result["created"]) == ("done", 100, 4)
        assert list(dict.fromkeys(s for s, _ in seen)) == ["roster", "joining", "warnings", "done"]
        assert [p for _, p in seen] == sorted(p for _, p in seen)  # progress only goes forward
        assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "bulk.antifraud.start")) is not None
        assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "warnings.raise")) is not None


def test_the_roster_cache_holds_no_readable_id_number(app, tmp_path, recipients):
    _, people = recipients
    with app.app_context():
        roster.build()
        from core.files import storage

        data = (storage.root() / "bulk" / roster.CACHE_NAME).read_bytes()
        assert people["a"][0][1].encode() not in data
        # a second build reads the cache (same result)
        assert roster.build().num_rows == 6


def test_a_finished_job_is_not_run_again(app, tmp_path, recipients):
    _, people = recipients
    src = _files(str(tmp_path), people)
    with app.app_context():
        job = crosscheck.start(SYSTEM, trigger="cli", enqueue=False)
        commit()
        crosscheck.run(job.id, input_sources=src, today=TODAY)
        again = crosscheck.run(job.id, input_sources=src, today=TODAY)
        assert again.status == "done" and again.result["created"] == 4
        # while one is queued or running, asking again returns it (no second job)
        assert crosscheck.start(SYSTEM, enqueue=False).id != job.id
        assert crosscheck.start(SYSTEM, enqueue=False).id == crosscheck.start(SYSTEM, enqueue=False).id


def test_lookup_copies_are_sorted_made_once_and_swept_with_their_source(app, tmp_path):
    from core.checks import lookup_copies
    from core.checks import services as checks

    numbers = [f"36012419800101{n:04d}" for n in range(300)]
    path = write(str(tmp_path), "deaths", [{"id_number": n, "death_date": "2026-01-02"} for n in reversed(numbers)])
    with app.app_context():
        found = checks.lookup({"deaths": [path]}, [numbers[7], "110101199001011234"])
        assert [r["id_number"] for r in found] == [numbers[7]] and found[0]["row_no"] == 300 - 7
        copies = list((lookup_copies._dir()).glob("*.parquet"))
        assert len(copies) == 1
        checks.lookup({"deaths": [path]}, [numbers[8]])
        assert list((lookup_copies._dir()).glob("*.parquet")) == copies  # made once
        import os

        os.unlink(path)
        assert lookup_copies.sweep() == 1 and not list(lookup_copies._dir().glob("*.parquet"))
