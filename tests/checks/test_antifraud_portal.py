"""The county's anti-fraud page: jobs with progress, hits by reason and month, the Excel export; a
township officer gets none of it, a county officer sees only the county's warnings."""

from __future__ import annotations

import io
from datetime import date

from openpyxl import load_workbook
from sqlalchemy import select

from core.actor import SYSTEM
from core.bulk import crosscheck
from core.bulk.models import BulkJob
from core.database import commit, db
from core.registry.models import EnrollmentMember, Person
from tests.checks.parquet_fixtures import write
from tests.helpers import csrf_token, make_officer, portal_login
from tests.registry.factory import make_enrollment
from tests.registry.rolls_helpers import MINHE, OTHER_COUNTY_TOWNSHIP


def _login(app, username, role, region):
    secret = make_officer(app, username, role, region)
    client = app.test_client()
    assert portal_login(client, username, secret).status_code == 302
    return client


def _deaths(app, tmp_path):
    with app.app_context():
        ours = make_enrollment(seq=830, township=MINHE)
        theirs = make_enrollment(seq=831, township=OTHER_COUNTY_TOWNSHIP)
        numbers = [
            db.session.scalars(
                select(Person)
                .join(EnrollmentMember, EnrollmentMember.person_id == Person.id)
                .where(EnrollmentMember.enrollment_id == e)
            )
            .first()
            .id_number
            for e in (ours, theirs)
        ]
        src = {
            "deaths": [write(str(tmp_path), "deaths", [{"id_number": n, "death_date": "2026-10-01"} for n in numbers])]
        }
        crosscheck.cross_check(SYSTEM, input_sources=src, today=date(2026, 12, 1))
        commit()
        db.session.remove()


def test_the_county_dashboard_and_its_excel_show_only_the_countys_warnings(app, tmp_path):
    _deaths(app, tmp_path)
    county = _login(app, "jinxian-dash", "county_officer", "360124")
    page = county.get("/portal/antifraud")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-reason="deceased"' in html and "在保对象死亡" in html
    export = county.get("/portal/antifraud.xlsx")
    assert export.status_code == 200
    book = load_workbook(io.BytesIO(export.data))
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    deceased = next(r for r in rows if r and r[0] == "在保对象死亡")
    assert deceased[1] == 1  # the other county's death is not counted here
    # starting a run from the page queues one job (the eager worker runs it over no current files)
    assert county.post("/portal/antifraud/run", data={"csrf_token": csrf_token(html)}).status_code == 302
    with app.app_context():
        job = db.session.scalar(select(BulkJob))
        assert job.trigger == "officer" and job.status == "done" and job.progress == 100


def test_a_township_officer_has_no_dashboard(app, tmp_path):
    township = _login(app, "minhe-dash", "township_officer", MINHE)
    assert township.get("/portal/antifraud").status_code == 403
    assert township.get("/portal/antifraud.xlsx").status_code == 403
