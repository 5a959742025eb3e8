"""Helpers that drive the system through its real entry points."""

from __future__ import annotations

import re
from datetime import date

import pyotp

from core.accounts import services as accounts
from core.actor import SYSTEM
from core.database import commit, db
from core.idnumber import make_id_number

PASSWORD = "Correct-Horse-Battery-9"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login_citizen(client, phone: str) -> dict:
    """Log in through the SMS endpoints; returns the token response."""
    sent = client.post("/api/v1/auth/sms/send", json={"phone": phone})
    assert sent.status_code == 200, sent.get_json()
    code = sent.get_json()["dev_code"]
    resp = client.post("/api/v1/auth/sms/verify", json={"phone": phone, "code": code})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def citizen_headers(client, phone: str) -> dict[str, str]:
    return bearer(login_citizen(client, phone)["access_token"])


def make_officer(app, username: str, role: str, region: str | None) -> str:
    """Create an officer through the service; returns the TOTP secret."""
    with app.app_context():
        _, secret = accounts.create_officer(SYSTEM, username=username, password=PASSWORD, role=role, region_code=region)
        commit()
        db.session.remove()
    return secret


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token in page"
    return match.group(1)


def portal_login(client, username: str, secret: str, password: str = PASSWORD):
    page = client.get("/portal/login")
    resp = client.post(
        "/portal/login",
        data={"username": username, "password": password, "csrf_token": csrf_token(page.get_data(as_text=True))},
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    page = client.get("/portal/login/totp")
    return client.post(
        "/portal/login/totp",
        data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_token(page.get_data(as_text=True))},
    )


def id_number(born: date = date(1980, 1, 1), seq: int = 1, prefix: str = "360124") -> str:
    return make_id_number(prefix, born, seq)
