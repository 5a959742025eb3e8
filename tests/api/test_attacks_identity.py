"""Attacks on real-name identity, replayed from outside (issue: identity and consent that hold).

The provincial identity service is a loopback fake behind the real HTTP adapter: it knows which phone
numbers the carriers registered to which ID number, as the real one does."""

from __future__ import annotations

import io
import json
import os
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from sqlalchemy import func, select

from core.accounts.models import User
from core.audit.models import AuditEntry
from core.database import db
from core.identity.models import Identity, IdentityVerification
from core.identity.providers import HttpIdentityService
from tests.conftest import SHARED, unavailable
from tests.helpers import (
    LIVE_LIN,
    LIVE_OBAMA,
    bound_citizen,
    citizen_headers,
    claim_real_name,
    draft_body,
    face_frame,
    id_number,
    jpeg_bytes,
    make_officer,
    portal_login,
    submitted_application,
    upload,
)

VICTIM = ("陈淑芬", id_number(date(1958, 3, 9), 61))
VICTIM_PHONE, VICTIM_NEW_PHONE, ATTACKER_PHONE = "13900090001", "13900090002", "13900090666"


class FakeProvince(BaseHTTPRequestHandler):
    registry: ClassVar[dict[str, tuple[str, set[str]]]] = {}  # id number -> (name, phones registered to it)
    down = False
    odd: ClassVar[tuple[int, bytes] | None] = None
    calls = 0

    def do_POST(self):
        type(self).calls += 1
        if type(self).down:
            self.send_response(503)
            self.end_headers()
            return
        if type(self).odd is not None:  # a provider answering something we did not ask for
            status, payload = type(self).odd
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(payload)
            return
        assert self.headers["Authorization"] == "Bearer province-key"
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        name, phones = self.registry.get(body["id_number"], (None, set()))
        if name != body["name"]:
            result = "mismatch"
        elif body["phone"] not in phones:
            result = "phone_mismatch"
        else:
            result = "match"
        payload = json.dumps({"result": result, "transaction_id": f"T{type(self).calls}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def province(app, monkeypatch):
    FakeProvince.registry = {VICTIM[1]: (VICTIM[0], {VICTIM_PHONE, VICTIM_NEW_PHONE})}
    FakeProvince.down, FakeProvince.odd, FakeProvince.calls = False, None, 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeProvince)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    service = HttpIdentityService(f"http://127.0.0.1:{server.server_port}", "province-key", timeout=2)
    monkeypatch.setitem(app.extensions, "identity_service", service)
    yield service
    server.shutdown()
    server.server_close()


def _verify(client, headers) -> dict:
    resp = client.post("/api/v1/me/real-name/verify", headers=headers, json={"method": "id_service"})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def _victim_with_application(client) -> tuple[dict, dict]:
    headers = citizen_headers(client, VICTIM_PHONE)
    claim_real_name(client, headers, *VICTIM)
    assert _verify(client, headers)["status"] == "passed"
    return headers, submitted_application(client, headers, draft_body(*VICTIM))


def test_second_account_binding_the_victims_number_gets_nothing(client, app, province):
    victim, application = _victim_with_application(client)
    attacker = citizen_headers(client, ATTACKER_PHONE)
    claim_real_name(client, attacker, *VICTIM)  # a claim is allowed: it proves nothing and opens nothing

    failed = _verify(client, attacker)
    assert failed["status"] == "failed" and failed["reason"] == "phone_mismatch"
    assert "手机号" in failed["reason_message"]
    me = client.get("/api/v1/me", headers=attacker).get_json()
    assert me["real_name_status"] == "claimed" and me["id_number_masked"] is None

    app_id = application["id"]
    assert client.get("/api/v1/applications", headers=attacker).get_json() == []
    for method, path in (
        ("get", f"/api/v1/applications/{app_id}"),
        ("get", f"/api/v1/applications/{app_id}/timeline"),
        ("get", f"/api/v1/applications/{app_id}/authorizations"),
        ("post", f"/api/v1/applications/{app_id}/withdraw"),
    ):
        resp = getattr(client, method)(path, headers=attacker, json={"reason": "不需要了"})
        assert resp.status_code == 404, (path, resp.status_code)
        assert VICTIM[1] not in resp.get_data(as_text=True)
    # the victim's application is untouched
    assert client.get(f"/api/v1/applications/{app_id}", headers=victim).get_json()["status"] == "submitted"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Identity)) == 1
        attacker_user = db.session.scalar(select(User).where(User.phone == ATTACKER_PHONE))
        assert attacker_user.identity_id is None and attacker_user.id_number is None


def test_a_second_login_of_the_same_person_is_linked_not_a_parallel_owner(client, app, province):
    _first, application = _victim_with_application(client)
    second = citizen_headers(client, VICTIM_NEW_PHONE)
    claim_real_name(client, second, *VICTIM)
    assert _verify(client, second)["status"] == "passed"

    me = client.get("/api/v1/me", headers=second).get_json()
    assert me["real_name_status"] == "verified"
    assert {login["phone_masked"] for login in me["linked_logins"]} == {"139****0001", "139****0002"}
    assert [login["current"] for login in me["linked_logins"]] == [False, True]
    listed = client.get("/api/v1/applications", headers=second).get_json()
    assert [a["id"] for a in listed] == [application["id"]]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Identity)) == 1
        users = db.session.scalars(select(User).where(User.phone.in_([VICTIM_PHONE, VICTIM_NEW_PHONE]))).all()
        assert len({u.identity_id for u in users}) == 1
        linked = db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "identity.verified").order_by(AuditEntry.id.desc())
        )
        assert linked.detail["linked_to_existing"] is True
    outbox = Path(app.config["STORAGE_DIR"], "outbox.jsonl").read_text(encoding="utf-8").splitlines()
    told = [json.loads(line) for line in outbox if '"identity_linked"' in line]
    assert [m["to"] for m in told] == [VICTIM_PHONE]  # the first log-in learns of the new one


def test_unverified_account_may_draft_but_not_submit(client, app, province):
    headers = citizen_headers(client, VICTIM_PHONE)
    claim_real_name(client, headers, *VICTIM)
    created = client.post("/api/v1/applications", headers=headers, json=draft_body(*VICTIM))
    assert created.status_code == 201
    app_id = created.get_json()["id"]
    for material in ("id_card", "hukou"):
        assert upload(client, headers, app_id, material, jpeg_bytes()).status_code == 201
    refused = client.post(f"/api/v1/applications/{app_id}/submit", headers=headers)
    assert refused.status_code == 403 and refused.get_json()["status"] == "real_name_unverified"
    assert "实名核验" in refused.get_json()["message"]
    assert _verify(client, headers)["status"] == "passed"
    assert client.post(f"/api/v1/applications/{app_id}/submit", headers=headers).status_code == 200


def test_a_draft_under_someone_elses_number_cannot_be_submitted_after_verifying_ones_own(client, app, province):
    attacker = citizen_headers(client, ATTACKER_PHONE)
    claim_real_name(client, attacker, *VICTIM)
    app_id = client.post("/api/v1/applications", headers=attacker, json=draft_body(*VICTIM)).get_json()["id"]
    own = ("吴强", id_number(date(1990, 2, 2), 71))
    FakeProvince.registry[own[1]] = (own[0], {ATTACKER_PHONE})
    claim_real_name(client, attacker, *own)
    assert _verify(client, attacker)["status"] == "passed"
    for material in ("id_card", "hukou"):
        upload(client, attacker, app_id, material, jpeg_bytes())
    refused = client.post(f"/api/v1/applications/{app_id}/submit", headers=attacker)
    assert refused.status_code == 403 and refused.get_json()["status"] == "applicant_not_verified_person"


def test_rebinding_needs_a_reason_and_a_new_verification_and_is_audited(client, app, province):
    headers, _ = _victim_with_application(client)
    other = ("陈淑芳", id_number(date(1958, 3, 9), 62))
    resp = client.post("/api/v1/me/real-name", headers=headers, json={"name": other[0], "id_number": other[1]})
    assert resp.status_code == 422 and resp.get_json()["errors"]["rebind_reason"]
    resp = client.post(
        "/api/v1/me/real-name",
        headers=headers,
        json={"name": other[0], "id_number": other[1], "rebind_reason": "当初录错了身份证号"},
    )
    assert resp.status_code == 200
    me = resp.get_json()
    # still acting for the verified identity until the new number is proven
    assert me["real_name_status"] == "verified"
    assert me["id_number_masked"] == VICTIM[1][:4] + "*" * 10 + VICTIM[1][-4:]
    assert me["claim"]["rebind"] is True
    assert _verify(client, headers)["reason"] == "mismatch"  # the province does not know this pair
    FakeProvince.registry[other[1]] = (other[0], {VICTIM_PHONE})
    assert _verify(client, headers)["status"] == "passed"
    me = client.get("/api/v1/me", headers=headers).get_json()
    assert me["id_number_masked"] == other[1][:4] + "*" * 10 + other[1][-4:]
    with app.app_context():
        entry = db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "identity.verified").order_by(AuditEntry.id.desc())
        )
        assert entry.detail["rebind_reason"] == "当初录错了身份证号" and entry.detail["rebind_from"]


def test_after_rebinding_the_account_no_longer_acts_for_the_old_number(client, app, province):
    """A recycled phone number: its new holder re-binds the account to their own, verified, number. The
    old person's applications stay with the old person (and their other log-ins), not with the account."""
    headers, application = _victim_with_application(client)
    draft = client.post("/api/v1/applications", headers=headers, json=draft_body(*VICTIM)).get_json()
    other_login = citizen_headers(client, VICTIM_NEW_PHONE)
    claim_real_name(client, other_login, *VICTIM)
    assert _verify(client, other_login)["status"] == "passed"
    newcomer = ("吴强", id_number(date(1990, 2, 2), 71))
    FakeProvince.registry[newcomer[1]] = (newcomer[0], {VICTIM_PHONE})  # the carrier re-registered the number
    resp = client.post(
        "/api/v1/me/real-name",
        headers=headers,
        json={"name": newcomer[0], "id_number": newcomer[1], "rebind_reason": "手机号码是新办的"},
    )
    assert resp.status_code == 200
    assert _verify(client, headers)["status"] == "passed"

    assert client.get("/api/v1/applications", headers=headers).get_json() == []
    for method, path, body in (
        ("get", f"/api/v1/applications/{application['id']}", None),
        ("get", f"/api/v1/applications/{application['id']}/timeline", None),
        ("get", f"/api/v1/applications/{application['id']}/attachments", None),
        ("post", f"/api/v1/applications/{application['id']}/withdraw", {"reason": "不需要了"}),
        ("get", f"/api/v1/applications/{draft['id']}", None),
        ("patch", f"/api/v1/applications/{draft['id']}", {"hardship_reason": "改掉"}),
        ("delete", f"/api/v1/applications/{draft['id']}", None),
    ):
        resp = getattr(client, method)(path, headers=headers, json=body)
        assert resp.status_code == 404, (method, path, resp.status_code)
        assert VICTIM[1] not in resp.get_data(as_text=True)
    # the person keeps everything through their other log-in, drafts included
    listed = {a["id"] for a in client.get("/api/v1/applications", headers=other_login).get_json()}
    assert listed == {application["id"], draft["id"]}
    assert client.get(f"/api/v1/applications/{application['id']}", headers=other_login).get_json()["status"] == (
        "submitted"
    )


def test_a_linked_login_acts_as_the_person_not_as_a_stranger(client, app, province):
    """Another log-in of the same person may issue the household's QR codes, and a second application for
    the same applicant from it is the person's own duplicate (409), not a conflict for the townships."""
    _first, application = _victim_with_application(client)
    second = citizen_headers(client, VICTIM_NEW_PHONE)
    claim_real_name(client, second, *VICTIM)
    assert _verify(client, second)["status"] == "passed"
    requests = client.get(f"/api/v1/applications/{application['id']}/authorizations", headers=second).get_json()
    qr = client.post(
        f"/api/v1/applications/{application['id']}/authorizations/{requests[0]['id']}/qrcode", headers=second
    )
    assert qr.status_code == 201, qr.get_json()
    created = client.post("/api/v1/applications", headers=second, json=draft_body(*VICTIM)).get_json()
    for material in ("id_card", "hukou"):
        upload(client, second, created["id"], material, jpeg_bytes())
    again = client.post(f"/api/v1/applications/{created['id']}/submit", headers=second)
    assert again.status_code == 409 and again.get_json()["status"] == "duplicate_application"


def test_identity_service_outage_answers_503_and_changes_nothing(client, app, province):
    headers = citizen_headers(client, VICTIM_PHONE)
    claim_real_name(client, headers, *VICTIM)
    FakeProvince.down = True
    for _ in range(3):
        resp = client.post("/api/v1/me/real-name/verify", headers=headers, json={"method": "id_service"})
        assert resp.status_code == 503 and resp.get_json()["status"] == "identity_service_down"
    calls = FakeProvince.calls
    resp = client.post("/api/v1/me/real-name/verify", headers=headers, json={"method": "id_service"})
    assert resp.status_code == 503 and FakeProvince.calls == calls  # circuit open: fails fast
    assert client.get("/api/v1/me", headers=headers).get_json()["real_name_status"] == "claimed"
    with app.app_context():
        statuses = db.session.scalars(select(IdentityVerification.status)).all()
        assert statuses == ["pending"]


@pytest.mark.parametrize(
    "odd",
    [
        (401, b'{"error": "invalid api key"}'),
        (429, b'{"error": "quota"}'),
        (200, b"[]"),
        (200, b'"match"'),
        (200, b"null"),
        (200, b'{"result": "maybe"}'),
        (200, b"<html>proxy error</html>"),
    ],
)
def test_an_odd_identity_service_answer_is_503_not_a_500_nor_the_users_failure(client, app, province, odd):
    """Whatever the provider answers besides match / mismatch / phone_mismatch (a refused key, a quota, a
    list, an unknown result) says nothing about the citizen: 503, nothing changes, no attempt counted."""
    headers = citizen_headers(client, VICTIM_PHONE)
    claim_real_name(client, headers, *VICTIM)
    FakeProvince.odd = odd
    resp = client.post("/api/v1/me/real-name/verify", headers=headers, json={"method": "id_service"})
    assert resp.status_code == 503, resp.get_data(as_text=True)
    assert resp.get_json()["status"] == "identity_service_down" and "稍后再试" in resp.get_json()["message"]
    with app.app_context():
        assert db.session.scalars(select(IdentityVerification.status)).all() == ["pending"]


def test_a_name_and_number_mismatch_is_not_reported_as_a_failed_face_check(client, app, province):
    """The identity service's and the face check's "mismatch" are different failures with different advice."""
    headers = citizen_headers(client, VICTIM_PHONE)
    claim_real_name(client, headers, "陈淑英", VICTIM[1])  # a wrong name for the number
    failed = _verify(client, headers)
    assert failed["reason"] == "mismatch"
    assert failed["reason_message"] == "姓名、身份证号与核验结果不一致"
    secret = make_officer(app, "window2", "township_officer", "360124100")
    officer = app.test_client()
    portal_login(officer, "window2", secret)
    page = officer.get(f"/portal/identity?phone={VICTIM_PHONE}").get_data(as_text=True)
    assert "未通过：姓名、身份证号与核验结果不一致" in page and "人脸比对未通过" not in page


def test_failed_attempts_are_capped(client, app, province):
    attacker = citizen_headers(client, ATTACKER_PHONE)
    claim_real_name(client, attacker, *VICTIM)
    for _ in range(app.config["REAL_NAME_MAX_FAILURES_PER_DAY"]):
        assert _verify(client, attacker)["status"] == "failed"
    resp = client.post("/api/v1/me/real-name/verify", headers=attacker, json={"method": "id_service"})
    assert resp.status_code == 429 and resp.get_json()["status"] == "real_name_attempts_exceeded"


def test_window_verification_in_the_portal_is_recorded_and_shown(client, app):
    headers = citizen_headers(client, VICTIM_PHONE)
    secret = make_officer(app, "window1", "township_officer", "360124100")
    officer = app.test_client()
    portal_login(officer, "window1", secret)
    page = officer.get(f"/portal/identity?phone={VICTIM_PHONE}")
    assert page.status_code == 200 and "尚未通过实名核验" in page.get_data(as_text=True)
    from tests.helpers import csrf_token

    token = csrf_token(page.get_data(as_text=True))
    form = {"phone": VICTIM_PHONE, "name": VICTIM[0], "id_number": VICTIM[1], "csrf_token": token}
    refused = officer.post("/portal/identity/window", data=form)  # the ID card was not checked
    assert refused.status_code == 303
    assert client.get("/api/v1/me", headers=headers).get_json()["real_name_status"] == "unverified"
    done = officer.post("/portal/identity/window", data={**form, "document_checked": "1"}, follow_redirects=True)
    text = done.get_data(as_text=True)
    assert "已记录窗口实名核验" in text and "乡镇（街道）窗口现场核验" in text and "window1" in text
    me = client.get("/api/v1/me", headers=headers).get_json()
    assert me["real_name_status"] == "verified" and me["verification_method"] == "window"
    application = submitted_application(client, headers, draft_body(*VICTIM))
    page = officer.get(f"/portal/applications/{application['id']}").get_data(as_text=True)
    assert "填报人实名核验" in page and "窗口现场核验" in page and "经办：window1" in page
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "identity.verified"))
        assert entry.actor_kind == "officer" and entry.detail["method"] == "window"
        assert db.session.scalar(select(func.count()).where(AuditEntry.action == "identity.view")) >= 1


@pytest.mark.parametrize(
    ("role", "region"), [("system_admin", None), ("city_admin", "3601"), ("county_officer", "360124")]
)
def test_only_a_township_officer_records_a_window_verification(client, app, role, region):
    """The window is the township's: a system administrator (or a county or city account) binding a log-in
    to an ID number would be a way round every other check (and round separation of duties)."""
    headers = citizen_headers(client, VICTIM_PHONE)
    secret = make_officer(app, "notwindow", role, region)
    officer = app.test_client()
    portal_login(officer, "notwindow", secret)
    from tests.helpers import csrf_token

    page = officer.get(f"/portal/identity?phone={VICTIM_PHONE}").get_data(as_text=True)
    assert "记录核验" not in page  # no form offered
    form = {"phone": VICTIM_PHONE, "name": VICTIM[0], "id_number": VICTIM[1], "document_checked": "1"}
    resp = officer.post("/portal/identity/window", data={**form, "csrf_token": csrf_token(page)})
    assert resp.status_code == 303
    assert "乡镇（街道）经办人员" in officer.get(resp.headers["Location"]).get_data(as_text=True)
    assert client.get("/api/v1/me", headers=headers).get_json()["real_name_status"] == "unverified"


def test_a_window_note_longer_than_its_column_is_a_field_error_not_a_500(client, app):
    headers = bound_citizen(client, VICTIM_PHONE, *VICTIM)
    secret = make_officer(app, "window3", "township_officer", "360124100")
    officer = app.test_client()
    portal_login(officer, "window3", secret)
    from tests.helpers import csrf_token

    token = csrf_token(officer.get(f"/portal/identity?phone={VICTIM_PHONE}").get_data(as_text=True))
    other = ("陈淑芳", id_number(date(1958, 3, 9), 62))
    form = {"phone": VICTIM_PHONE, "name": other[0], "id_number": other[1], "document_checked": "1"}
    resp = officer.post("/portal/identity/window", data={**form, "csrf_token": token, "note": "录错" * 101})
    assert resp.status_code == 303
    page = officer.get(resp.headers["Location"]).get_data(as_text=True)
    assert "备注不超过100字" in page
    me = client.get("/api/v1/me", headers=headers).get_json()
    assert me["id_number_masked"] == VICTIM[1][:4] + "*" * 10 + VICTIM[1][-4:]  # nothing changed


def test_the_application_page_shows_the_verification_of_the_person_who_applied(client, app, province):
    """After the log-in is re-bound to someone else, an officer still sees how the applicant was verified,
    not how the log-in's new person was."""
    _headers, application = _victim_with_application(client)
    secret = make_officer(app, "window4", "township_officer", "360124100")
    officer = app.test_client()
    portal_login(officer, "window4", secret)
    from tests.helpers import csrf_token

    token = csrf_token(officer.get(f"/portal/identity?phone={VICTIM_PHONE}").get_data(as_text=True))
    other = ("吴强", id_number(date(1990, 2, 2), 71))
    form = {"phone": VICTIM_PHONE, "name": other[0], "id_number": other[1], "document_checked": "1"}
    done = officer.post("/portal/identity/window", data={**form, "csrf_token": token, "note": "手机号码已过户给本人"})
    assert done.status_code == 302
    page = officer.get(f"/portal/applications/{application['id']}").get_data(as_text=True)
    shown = page.split('data-testid="submitter-verification">', 1)[1].split("</dd>", 1)[0]
    assert "身份核验服务" in shown and "窗口" not in shown and "window4" not in shown


def test_unverified_claim_cannot_open_a_member_qr(client, app, province):
    applicant, application = _victim_with_application(client)
    member = ("陈小军", id_number(date(1985, 7, 7), 81))
    body = draft_body(
        *VICTIM,
        extra_members=[
            {
                "name": member[0],
                "id_number": member[1],
                "relation": "child",
                "health": "healthy",
                "employment": "employed",
            }
        ],
    )
    client.post(f"/api/v1/applications/{application['id']}/withdraw", headers=applicant, json={"reason": "重新填写"})
    app_id = client.post("/api/v1/applications", headers=applicant, json=body).get_json()["id"]
    requests = client.get(f"/api/v1/applications/{app_id}/authorizations", headers=applicant).get_json()
    target = next(r for r in requests if r["member_name"] == member[0])
    qr = client.post(f"/api/v1/applications/{app_id}/authorizations/{target['id']}/qrcode", headers=applicant)
    assert qr.status_code == 201
    token = qr.get_json()["token"]
    attacker = citizen_headers(client, ATTACKER_PHONE)
    claim_real_name(client, attacker, *member)  # claims the member's identity without proof
    resp = _open_letter(client, attacker, token)
    assert resp.status_code == 403 and resp.get_json()["status"] == "real_name_required"


def test_an_unverified_account_cannot_ask_household_members_to_authorize(client, app, province):
    """A claim opens nothing tied to an ID number: no QR codes or hand-overs for the members named in a
    draft (each is a request to a real person, found by ID number, to consent to a check of their finances)."""
    headers = citizen_headers(client, VICTIM_PHONE)
    claim_real_name(client, headers, *VICTIM)
    member = {"name": "陈小军", "id_number": id_number(date(1985, 7, 7), 81), "relation": "child"}
    body = draft_body(*VICTIM, extra_members=[{**member, "health": "healthy", "employment": "employed"}])
    app_id = client.post("/api/v1/applications", headers=headers, json=body).get_json()["id"]
    requests = client.get(f"/api/v1/applications/{app_id}/authorizations", headers=headers).get_json()
    target = next(r for r in requests if r["member_name"] == member["name"])
    base = f"/api/v1/applications/{app_id}/authorizations/{target['id']}"
    for path in (f"{base}/qrcode", f"{base}/handover"):
        refused = client.post(path, headers=headers)
        assert refused.status_code == 403, (path, refused.get_json())
        assert refused.get_json()["status"] == "real_name_unverified" and "实名核验" in refused.get_json()["message"]
    assert _verify(client, headers)["status"] == "passed"
    assert client.post(f"{base}/qrcode", headers=headers).status_code == 201
    assert client.post(f"{base}/handover", headers=headers).status_code == 201


def _open_letter(client, headers, token):
    """The letter behind a QR token (the token travels in a header, never in the URL)."""
    return client.get("/api/v1/authorizations/letter", headers={**headers, "X-Authorization-Token": token})


FACES = SHARED / "data" / "faces"


def _face_check(client, headers, frames_for) -> dict:
    """Ask for a challenge, film the frames it asks for (``frames_for(actions)``), poll the result."""
    challenge = client.post("/api/v1/me/real-name/face/challenge", headers=headers)
    assert challenge.status_code == 201, challenge.get_json()
    body = challenge.get_json()
    assert body["instructions"] == [{"turn_left": "向左转头", "turn_right": "向右转头"}[a] for a in body["actions"]]
    data = {
        "challenge_id": body["challenge_id"],
        "frames": [(io.BytesIO(face_frame(n)), n.split("/")[-1]) for n in frames_for(tuple(body["actions"]))],
    }
    resp = client.post("/api/v1/me/real-name/face", headers=headers, data=data, content_type="multipart/form-data")
    assert resp.status_code == 202, resp.get_json()
    result = client.get(f"/api/v1/me/real-name/verifications/{resp.get_json()['id']}", headers=headers)
    return result.get_json()


def test_real_name_by_face_against_the_reference_portrait(client, app, tmp_path):
    """Frames of the person (a real head turn, as the challenge asks) against the portrait on file for the
    claimed number pass; someone else's face fails and links nothing; the same frames cannot pass again."""
    if not FACES.exists():
        unavailable(f"{FACES} is absent: no real photos")
    import shutil

    person = ("林曼", id_number(date(1980, 1, 16), 91))
    shutil.copy(FACES / "lin-manuel-miranda.png", tmp_path / "p.png")
    (tmp_path / "m.csv").write_text(f"id_number,file\n{person[1]},p.png\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(
        args=["identity", "import-portraits", str(tmp_path), "--manifest", str(tmp_path / "m.csv")]
    )
    assert result.exit_code == 0, result.output

    impostor = citizen_headers(client, ATTACKER_PHONE)
    claim_real_name(client, impostor, *person)
    result = _face_check(client, impostor, lambda actions: LIVE_OBAMA[actions])
    assert result["status"] == "failed" and result["reason"] == "mismatch", result
    assert result["reason_message"] == "人脸比对未通过"
    assert client.get("/api/v1/me", headers=impostor).get_json()["real_name_status"] == "claimed"

    owner = citizen_headers(client, VICTIM_PHONE)
    claim_real_name(client, owner, *person)
    wrong_order = _face_check(client, owner, lambda actions: LIVE_LIN[tuple(reversed(actions))])
    assert wrong_order["status"] == "failed" and wrong_order["reason"] == "wrong_sequence", wrong_order
    passed = _face_check(client, owner, lambda actions: LIVE_LIN[actions])
    assert passed["status"] == "passed", passed
    me = client.get("/api/v1/me", headers=owner).get_json()
    assert me["real_name_status"] == "verified" and me["verification_method"] == "face"
    other = client.get(f"/api/v1/me/real-name/verifications/{passed['id']}", headers=impostor)
    assert other.status_code == 404

    # the impostor replays the owner's accepted frames for the same number: refused as a replay
    replayed = _face_check(client, impostor, lambda actions: LIVE_LIN[actions])
    assert replayed["status"] == "failed" and replayed["reason"] == "replay", replayed


def test_face_challenge_is_single_use_and_bound_to_the_account(client, app):
    a = citizen_headers(client, VICTIM_PHONE)
    b = citizen_headers(client, ATTACKER_PHONE)
    assert client.post("/api/v1/me/real-name/face/challenge", headers=a).status_code == 409  # no claim yet
    claim_real_name(client, a, *VICTIM)
    claim_real_name(client, b, *VICTIM)
    challenge = client.post("/api/v1/me/real-name/face/challenge", headers=a).get_json()["challenge_id"]

    def upload_with(headers):
        data = {"challenge_id": challenge, "frames": [(io.BytesIO(jpeg_bytes()), f"{n}.jpg") for n in range(3)]}
        return client.post("/api/v1/me/real-name/face", headers=headers, data=data, content_type="multipart/form-data")

    foreign = upload_with(b)
    assert foreign.status_code == 404 and foreign.get_json()["status"] == "challenge_invalid"
    assert upload_with(a).status_code == 202
    again = upload_with(a)
    assert again.status_code == 409


ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgresql")


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="runs in the PostgreSQL pass of the suite (DATABASE_URL=postgresql…)")
def test_two_logins_verifying_one_number_at_once_make_one_identity(app, province):
    """Both requests reach the identity service together (a barrier in the fake), then link at once."""
    barrier = threading.Barrier(2, timeout=10)
    original = FakeProvince.do_POST

    def synchronised(handler):
        barrier.wait()
        original(handler)

    FakeProvince.do_POST = synchronised
    try:
        clients = [app.test_client(), app.test_client()]
        heads = [citizen_headers(c, p) for c, p in zip(clients, (VICTIM_PHONE, VICTIM_NEW_PHONE), strict=True)]
        for c, h in zip(clients, heads, strict=True):
            claim_real_name(c, h, *VICTIM)
        results: list = [None, None]

        def verify(n: int) -> None:
            resp = clients[n].post("/api/v1/me/real-name/verify", headers=heads[n], json={"method": "id_service"})
            results[n] = (resp.status_code, resp.get_json())

        threads = [threading.Thread(target=verify, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        FakeProvince.do_POST = original
    assert [r[0] for r in results] == [200, 200], results
    assert [r[1]["status"] for r in results] == ["passed", "passed"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Identity)) == 1
        ids = db.session.scalars(select(User.identity_id).where(User.phone.in_([VICTIM_PHONE, VICTIM_NEW_PHONE])))
        assert len(set(ids)) == 1


class FakeWechat(BaseHTTPRequestHandler):
    """jscode2session, the access token, and the real-name check: openid -> (name, ID number) on file."""

    real_names: ClassVar[dict[str, tuple[str, str]]] = {}

    def _json(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        from urllib.parse import parse_qs, urlparse

        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/sns/jscode2session":
            self._json({"openid": f"o-{query['js_code']}", "session_key": "SK=="})
        elif url.path == "/cgi-bin/token":
            self._json({"access_token": "AT", "expires_in": 7200})
        else:
            self._json({"errcode": 404})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert "access_token=AT" in self.path and body["cred_type"] == 1
        on_file = self.real_names.get(body["openid"])
        if on_file is None:
            self._json({"errcode": 0, "verify_openid": "V_OP_NA"})
        elif on_file == (body["real_name"], body["cred_id"]):
            self._json({"errcode": 0, "verify_openid": "V_OP_NM_MA", "verify_real_name": "V_NM_ID_MA"})
        else:
            self._json({"errcode": 0, "verify_openid": "V_OP_NM_MA", "verify_real_name": "V_NM_ID_UM"})

    def log_message(self, *args):
        pass


def test_wechat_real_name_links_the_wechat_login_to_the_sms_verified_person(client, app, province, monkeypatch):
    from core.accounts.wechat import HttpWechatClient
    from core.identity.providers import WechatRealName
    from tests.helpers import bearer

    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeWechat)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setitem(app.extensions, "wechat_client", HttpWechatClient(base, "wx", "s", timeout=2))
    monkeypatch.setitem(app.extensions, "platform_identity", WechatRealName(base, "wx", "s", timeout=2))
    FakeWechat.real_names = {"o-victim": VICTIM, "o-attacker": ("吴强", id_number(date(1990, 2, 2), 71))}
    try:
        _sms, application = _victim_with_application(client)
        logins = {}
        for who in ("victim", "attacker"):
            token = client.post("/api/v1/auth/wechat", json={"code": who}).get_json()["access_token"]
            logins[who] = bearer(token)
            claim_real_name(client, logins[who], *VICTIM)
            me = client.get("/api/v1/me", headers=logins[who]).get_json()
            assert "platform" in me["verification_methods"] and "id_service" not in me["verification_methods"]

        refused = client.post("/api/v1/me/real-name/verify", headers=logins["attacker"], json={"method": "platform"})
        assert refused.get_json()["status"] == "failed" and refused.get_json()["reason"] == "not_verified_on_platform"
        assert client.get("/api/v1/applications", headers=logins["attacker"]).get_json() == []

        passed = client.post("/api/v1/me/real-name/verify", headers=logins["victim"], json={"method": "platform"})
        assert passed.get_json()["status"] == "passed"
        me = client.get("/api/v1/me", headers=logins["victim"]).get_json()
        assert [(x["kind"], x["current"]) for x in me["linked_logins"]] == [("sms", False), ("wechat", True)]
        listed = client.get("/api/v1/applications", headers=logins["victim"]).get_json()
        assert [a["id"] for a in listed] == [application["id"]]
    finally:
        server.shutdown()
        server.server_close()
