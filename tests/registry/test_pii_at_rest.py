"""ID numbers at rest: after a typical flow no table holds a readable ID number, and look-ups still work."""

from __future__ import annotations

import io
import json
import re
from datetime import date

from sqlalchemy import LargeBinary, func, select

from core.accounts.models import User
from core.applications.models import Application
from core.audit.models import AuditEntry
from core.authorizations.models import AuthorizationRequest
from core.database import db
from core.households.models import HouseholdMember
from core.identity.models import Identity, IdentityVerification
from core.notifications.models import OutboxMessage
from core.registry.models import Person
from core.reports.models import Report
from tests.helpers import (
    bound_citizen,
    csrf_token,
    draft_body,
    id_number,
    make_officer,
    png_bytes,
    portal_login,
    submitted_application,
)

APPLICANT = ("张建国", id_number(date(1962, 4, 18), 11))
SPOUSE = ("李秀英", id_number(date(1965, 9, 2), 22))
SON = ("张小军", id_number(date(1990, 1, 5), 33))
REPORTED = ("刘奶奶", id_number(date(1938, 6, 1), 55))
REPORTER = ("网格员甲", id_number(date(1985, 3, 3), 7))

# 18 characters, not part of a longer run of letters and digits (hex digests and tokens are).
READABLE_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


def _flow(client, app) -> int:
    """Real-name verification, an application with members submitted, authorization requests (one
    confirmed on a handed-over phone), a report naming a person."""
    headers = bound_citizen(client, "13900070000", *APPLICANT)
    body = draft_body(
        *APPLICANT,
        extra_members=[
            {
                "name": SPOUSE[0],
                "id_number": SPOUSE[1],
                "relation": "spouse",
                "health": "healthy",
                "employment": "farming",
            },
            {"name": SON[0], "id_number": SON[1], "relation": "child", "health": "healthy", "employment": "employed"},
        ],
    )
    submitted = submitted_application(client, headers, body, key="submit-pii-1")
    app_id = submitted["id"]
    requests = client.get(f"/api/v1/applications/{app_id}/authorizations", headers=headers).get_json()
    assert {r["member_name"] for r in requests} == {APPLICANT[0], SPOUSE[0], SON[0]}
    spouse = next(r for r in requests if r["member_name"] == SPOUSE[0])
    assert spouse["member_id_number_masked"] == SPOUSE[1][:4] + "*" * 10 + SPOUSE[1][-4:]
    handover = client.post(f"/api/v1/applications/{app_id}/authorizations/{spouse['id']}/handover", headers=headers)
    assert handover.status_code in (200, 201), handover.get_json()
    confirmed = client.post(
        "/api/v1/authorizations/identity",
        headers={**headers, "X-Authorization-Token": handover.get_json()["token"]},
        json={"id_number": SPOUSE[1]},
    )
    assert confirmed.status_code == 200, confirmed.get_json()

    reporter = bound_citizen(client, "13900070001", *REPORTER)
    granted = app.test_cli_runner().invoke(
        args=["users", "grant-role", "--phone", "13900070001", "--role", "grid_worker", "--region", "360124100"]
    )
    assert granted.exit_code == 0, granted.output
    report = client.post(
        "/api/v1/reports",
        headers={**reporter, "Idempotency-Key": "report-pii-1"},
        json={
            "category": "elderly_alone",
            "township_code": "360124100",
            "person_name": REPORTED[0],
            "person_id_number": REPORTED[1],
        },
    )
    assert report.status_code == 201, report.get_json()

    # the township officer opens the application, reveals the numbers (audited) and records the paper
    # authorization of one member at the window
    secret = make_officer(app, "pii_scan", "township_officer", "360124100")
    officer = app.test_client()
    assert portal_login(officer, "pii_scan", secret).status_code == 302
    page = officer.get(f"/portal/applications/{app_id}").get_data(as_text=True)
    assert SPOUSE[1] not in page and SPOUSE[1][:4] + "*" * 10 + SPOUSE[1][-4:] in page
    revealed = officer.post(f"/portal/applications/{app_id}/reveal", data={"csrf_token": csrf_token(page)})
    assert revealed.status_code == 200 and SPOUSE[1] in revealed.get_data(as_text=True)
    son = next(r for r in requests if r["member_name"] == SON[0])
    window = officer.post(
        f"/portal/applications/{app_id}/authorizations/{son['id']}/window",
        data={"csrf_token": csrf_token(page), "scan": (io.BytesIO(png_bytes()), "letter.png")},
        content_type="multipart/form-data",
    )
    assert window.status_code == 302, window.get_data(as_text=True)
    return app_id


def _text(value) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _readable_numbers() -> list[tuple[str, str, str]]:
    """(table, column, match) for every readable ID number in any text, JSON or binary column."""
    found = []
    known = {n for _, n in (APPLICANT, SPOUSE, SON, REPORTED, REPORTER)}
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, LargeBinary) or _python_type(c) in (str, dict, list)]
        if not columns:
            continue
        for row in db.session.execute(select(*columns)).all():
            for column, value in zip(columns, row, strict=True):
                if value is None:
                    continue
                text = _text(value)
                hits = set(READABLE_ID.findall(text)) | {n for n in known if n in text}
                found += [(table.name, column.name, hit) for hit in sorted(hits)]
    return found


def _python_type(column):
    try:
        return column.type.python_type
    except NotImplementedError:
        return None


def test_no_readable_id_number_anywhere_after_a_typical_flow(client, app):
    app_id = _flow(client, app)
    with app.app_context():
        assert _readable_numbers() == []
        # the flow did write what might have held a number: audit entries, outbox messages, registry persons
        assert db.session.scalar(select(func.count(AuditEntry.id))) > 5
        assert db.session.scalar(select(func.count(OutboxMessage.id))) > 0
        assert db.session.scalar(select(Person.name).where(Person.id_number == SPOUSE[1])) == SPOUSE[0]
        # and every look-up still finds its row through the keyed index
        assert db.session.scalar(select(User.real_name).where(User.id_number == APPLICANT[1])) == APPLICANT[0]
        assert db.session.scalar(select(Identity.real_name).where(Identity.id_number == APPLICANT[1])) == APPLICANT[0]
        claim = db.session.scalar(
            select(IdentityVerification).where(IdentityVerification.claimed_id_number == APPLICANT[1])
        )
        assert claim.claimed_id_number == APPLICANT[1]
        member = db.session.scalar(select(HouseholdMember).where(HouseholdMember.id_number == SON[1]))
        assert (member.name, member.application_id) == (SON[0], app_id)
        application = db.session.scalar(select(Application).where(Application.applicant_id_number == APPLICANT[1]))
        assert application.id == app_id and application.applicant_id_number == APPLICANT[1]
        request = db.session.scalar(
            select(AuthorizationRequest).where(
                AuthorizationRequest.application_id == app_id, AuthorizationRequest.member_id_number == SPOUSE[1]
            )
        )
        assert request.member_name == SPOUSE[0] and request.identity_confirmed_at is not None
        assert (
            db.session.scalar(select(Report.person_name).where(Report.person_id_number == REPORTED[1])) == (REPORTED[0])
        )
        # lower-case x, spaces: the same index as the stored number
        assert db.session.scalar(select(func.count(User.id)).where(User.id_number == f" {APPLICANT[1].lower()} ")) == 1


def test_a_draft_reads_back_as_saved(client, app):
    """Storage only: a blank number in a draft stays blank (not null), a typed one comes back as typed."""
    headers = bound_citizen(client, "13900070009", *APPLICANT)
    body = draft_body(*APPLICANT, extra_members=[{"name": SON[0], "id_number": "", "relation": "child"}])
    created = client.post("/api/v1/applications", headers=headers, json=body)
    assert created.status_code == 201, created.get_json()
    draft = client.get(f"/api/v1/applications/{created.get_json()['id']}", headers=headers).get_json()
    assert [m["id_number"] for m in draft["members"]] == [APPLICANT[1], ""]
    with app.app_context():
        assert _readable_numbers() == []
