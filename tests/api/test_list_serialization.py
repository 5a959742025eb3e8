"""The hot lists serialize their rows by hand (issue 15): the bodies and the X-Pagination header stay exactly
what the schemas (ApplicationSummary, ReportOut) and flask-smorest's pagination metadata give."""

from __future__ import annotations

import json
from datetime import date

from flask_smorest import Blueprint
from sqlalchemy import select

from core.accounts.models import User
from core.actor import Actor
from core.applications import citizen_access
from core.database import db
from core.reports import queries as report_queries
from core.reports.models import Report
from miniprogram_api.applications.schemas import ApplicationSummary, summary_items
from miniprogram_api.pagination import pagination_metadata
from miniprogram_api.reports.schemas import ReportOut, report_items
from tests.helpers import bound_citizen, draft_body, id_number


def test_pagination_metadata_is_flask_smorests():
    for item_count in (0, 1, 2, 19, 20, 21, 99, 100, 101, 1000):
        for page_size in (1, 2, 10, 20, 100):
            for page in (1, 2, 3, 5, 11, 60, 1001):
                expected = Blueprint._make_pagination_metadata(page, page_size, item_count)
                got = pagination_metadata(page, page_size, item_count)
                assert json.dumps(got) == json.dumps(expected), (page, page_size, item_count)


def test_application_rows_are_dumped_as_the_schema_dumps_them(app, client):
    headers = bound_citizen(client, "13800001701", "李四", id_number(seq=21))
    for i in range(3):
        body = draft_body("李四", id_number(seq=21))
        body["hardship_reason"] = f"第{i}份"
        assert client.post("/api/v1/applications", headers=headers, json=body).status_code == 201
    proxy = draft_body("王大爷", id_number(date(1940, 2, 2), 5))
    proxy["on_behalf_of"] = {
        "name": "王大爷",
        "id_number": id_number(date(1940, 2, 2), 5),
        "relation": "cadre",
        "reason": "elderly",
    }
    assert client.post("/api/v1/applications", headers=headers, json=proxy).status_code == 201
    resp = client.get("/api/v1/applications", headers=headers, query_string={"page_size": 3})
    assert resp.status_code == 200
    with app.app_context():
        user = db.session.scalar(select(User).where(User.phone == "13800001701"))
        page = citizen_access.list_for_citizen(user, page=1, page_size=3)
        expected = ApplicationSummary(many=True).dump(page.items)
        assert summary_items(page.items) == expected
        assert len(expected) == 3 and any(
            a["is_proxy"]
            for a in expected + summary_items(citizen_access.list_for_citizen(user, page=2, page_size=3).items)
        )
        # the HTTP body is the same JSON the schema path made (flask's provider, sorted keys)
        assert resp.get_data() == app.json.response(expected).get_data()
    assert json.loads(resp.headers["X-Pagination"]) == {
        "total": 4,
        "total_pages": 2,
        "first_page": 1,
        "last_page": 2,
        "page": 1,
        "next_page": 2,
    }


def test_report_rows_are_dumped_as_the_schema_dumps_them(app, client):
    bound_citizen(client, "13800001702", "网格员乙", id_number(seq=22))
    with app.app_context():
        user = db.session.scalar(select(User).where(User.phone == "13800001702"))
        for k, extra in enumerate(
            (
                {
                    "person_id_number": id_number(date(1938, 6, 1), 55),
                    "latitude": 28.5,
                    "longitude": 115.9,
                    "coordinate_system": "gcj02",
                    "outcome": "referred_to_application",
                    "status": "closed",
                },
                {"person_name": None, "address": None, "description": None, "age_group": None},
                {"latitude": 28, "longitude": 116, "coordinate_system": "wgs84", "status": "contacted"},
            )
        ):
            db.session.add(
                Report(
                    reference=f"BG-TEST-{k}",
                    reporter_user_id=user.id,
                    reporter_role="grid_worker",
                    category=("elderly_alone", "disability", "other")[k],
                    urgency="normal",
                    township_code="360124100",
                    **{
                        "address": "民和镇解放街1号",
                        "person_name": "刘奶奶",
                        "age_group": "elderly",
                        "description": "独居",
                        **extra,
                    },
                )
            )
        db.session.flush()
        first = db.session.scalar(select(Report).where(Report.reference == "BG-TEST-0"))
        db.session.add(
            Report(
                reference="BG-TEST-3",
                reporter_user_id=user.id,
                reporter_role="volunteer",
                category="other",
                urgency="urgent",
                township_code="360124100",
                duplicate_of_id=first.id,
            )
        )
        db.session.commit()
        actor = Actor("citizen", user.id)
        rows = report_queries.list_for_reporter(actor, page=1, page_size=20)
        mine = select(Report).where(Report.reporter_user_id == user.id).order_by(Report.id.desc())
        objects = db.session.scalars(mine)
        assert rows.total == 4
        expected = ReportOut(many=True).dump(objects.all())
        assert report_items(rows.items) == expected
        assert expected[-1]["person_id_number_masked"].endswith("*" * 10 + id_number(date(1938, 6, 1), 55)[-4:])
        assert expected[0]["is_duplicate"] is True and expected[-1]["outcome_label"]
        # paging past the end counts; a partial page does not need to
        assert report_queries.list_for_reporter(actor, page=3, page_size=2).total == 4
        assert report_queries.list_for_reporter(actor, page=2, page_size=3).total == 4
        db.session.remove()
