"""Search by ID number after encryption at rest: the officers' queue finds an application by the full
number, the masked number or the last four (keyed indexes), and by name; other numbers find nothing."""

from __future__ import annotations

from datetime import date

from tests.helpers import bound_citizen, draft_body, id_number, make_officer, portal_login, submitted_application

ZHANG = ("张建国", id_number(date(1962, 4, 18), 11))
OTHER = id_number(date(1971, 3, 9), 27)


def _total(officer, q: str) -> str:
    return officer.get("/portal/queue", query_string={"q": q}).get_data(as_text=True)


def test_queue_search_by_full_masked_last_four_and_name(client, app):
    secret = make_officer(app, "pii_q", "township_officer", "360124100")
    officer = app.test_client()
    assert portal_login(officer, "pii_q", secret).status_code == 302
    headers = bound_citizen(client, "13900090000", *ZHANG)
    submitted_application(client, headers, draft_body(*ZHANG))
    masked = ZHANG[1][:4] + "**********" + ZHANG[1][-4:]
    for q in (ZHANG[1], ZHANG[1].lower(), masked, ZHANG[1][-4:], ZHANG[0]):
        assert "共 1 件" in _total(officer, q), q
    wrong_prefix = ("9999" if ZHANG[1][:4] != "9999" else "1111") + "**********" + ZHANG[1][-4:]
    other_last_four = OTHER[-4:] if OTHER[-4:] != ZHANG[1][-4:] else "0000"
    for q in (OTHER, wrong_prefix, other_last_four, "不存在的人"):
        assert "共 0 件" in _total(officer, q), q
