"""The citizen's application list: the total is right on every page although a page that is not full
costs no count query (issue 15), and another user's applications never count."""

from __future__ import annotations

import json

from sqlalchemy import event

from core.database import db
from tests.helpers import bound_citizen, draft_body, id_number


def _page(client, headers, **query):
    resp = client.get("/api/v1/applications", headers=headers, query_string=query)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json(), json.loads(resp.headers["X-Pagination"])


def test_totals_on_full_partial_and_past_the_end_pages(app, client):
    headers = bound_citizen(client, "13800001601", "李四", id_number(seq=16))
    other = bound_citizen(client, "13800001602", "王五", id_number(seq=17))
    for i in range(5):
        body = draft_body("李四", id_number(seq=16))
        body["hardship_reason"] = f"第{i}份"
        assert client.post("/api/v1/applications", headers=headers, json=body).status_code == 201
    assert (
        client.post("/api/v1/applications", headers=other, json=draft_body("王五", id_number(seq=17))).status_code
        == 201
    )

    items, meta = _page(client, headers, page=1, page_size=2)  # full page: counted
    assert len(items) == 2 and meta["total"] == 5 and meta["last_page"] == 3
    items, meta = _page(client, headers, page=3, page_size=2)  # partial page: 4 skipped + 1
    assert len(items) == 1 and meta["total"] == 5
    items, meta = _page(client, headers, page=4, page_size=2)  # past the end: counted
    assert items == [] and meta["total"] == 5
    items, meta = _page(client, headers, page=1, page_size=20, status="submitted")
    assert items == [] and meta["total"] == 0
    items, meta = _page(client, other)
    assert len(items) == 1 and meta["total"] == 1
    # newest first, and the same order across pages
    all_ids = [a["id"] for a in _page(client, headers, page_size=20)[0]]
    paged = [a["id"] for p in (1, 2, 3) for a in _page(client, headers, page=p, page_size=2)[0]]
    assert paged == all_ids == sorted(all_ids, reverse=True)


def test_a_page_that_is_not_full_is_one_query(app, client):
    headers = bound_citizen(client, "13800001603", "赵六", id_number(seq=18))
    assert (
        client.post("/api/v1/applications", headers=headers, json=draft_body("赵六", id_number(seq=18))).status_code
        == 201
    )
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        items, meta = _page(client, headers, page_size=20)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(items) == 1 and meta["total"] == 1
    # the token check (no Redis in this suite: one query) and the page; no count
    assert len([s for s in seen if "FROM applications" in s]) == 1, seen
    assert not [s for s in seen if "count(" in s.lower()], seen
