"""Alipay log-in against a loopback fake gateway that speaks the open-platform protocol: it checks the RSA2
signature of every request with the application's public key and signs every answer with its own key."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qsl

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from core.accounts.alipay import HttpAlipayClient, rsa2_sign, rsa2_verify, signed_node, signing_content


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_private(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _pem_public(key) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


APP_KEY, ALIPAY_KEY, OTHER_KEY = _key(), _key(), _key()


class FakeAlipay(BaseHTTPRequestHandler):
    """The gateway: verifies the request signature, answers by code, signs the answer's node text."""

    calls: ClassVar[list[dict]] = []
    tamper = False  # change the answer after signing it
    sign_with = ALIPAY_KEY

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        params = dict(parse_qsl(self.rfile.read(length).decode("utf-8")))
        FakeAlipay.calls.append(params)
        node = "alipay_system_oauth_token_response"
        app_public = APP_KEY.public_key()
        if not rsa2_verify(signing_content(params), params.get("sign", ""), app_public):
            node, value = (
                "error_response",
                {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature"},
            )
        elif params.get("method") != "alipay.system.oauth.token" or params.get("grant_type") != "authorization_code":
            node, value = (
                "error_response",
                {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-method"},
            )
        elif params["code"].startswith("good-"):
            user = "2088" + params["code"].removeprefix("good-").rjust(12, "0")
            value = {
                "user_id": user,
                "access_token": "authusrB" + user,
                "expires_in": 1296000,
                "re_expires_in": 2592000,
            }
        else:
            node, value = (
                "error_response",
                {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.code-invalid"},
            )
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        signature = rsa2_sign(text, FakeAlipay.sign_with)
        if FakeAlipay.tamper:
            text = text.replace("2088", "2099")
        data = ('{"' + node + '":' + text + ',"sign":"' + signature + '"}').encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_alipay(app):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeAlipay)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    original = app.extensions["alipay_client"]
    app.extensions["alipay_client"] = HttpAlipayClient(
        f"http://127.0.0.1:{server.server_port}/gateway.do",
        "2021000000000001",
        _pem_private(APP_KEY),
        _pem_public(ALIPAY_KEY),
        timeout=2,
    )
    FakeAlipay.calls, FakeAlipay.tamper, FakeAlipay.sign_with = [], False, ALIPAY_KEY
    yield server
    app.extensions["alipay_client"] = original
    server.shutdown()


def _users(app) -> list[tuple[int, str | None]]:
    from core.accounts.models import User
    from core.database import db

    with app.app_context():
        rows = [(u.id, u.alipay_user_id) for u in db.session.scalars(select(User).order_by(User.id))]
        db.session.remove()
    return rows


def test_alipay_login_binds_the_alipay_user_to_one_account(client, app, fake_alipay):
    first = client.post("/api/v1/auth/alipay", json={"auth_code": "good-42"})
    assert first.status_code == 200, first.get_json()
    call = FakeAlipay.calls[0]
    assert (call["app_id"], call["method"], call["sign_type"], call["charset"], call["version"]) == (
        "2021000000000001",
        "alipay.system.oauth.token",
        "RSA2",
        "utf-8",
        "1.0",
    )
    assert (call["grant_type"], call["code"]) == ("authorization_code", "good-42")
    stamp = datetime.strptime(call["timestamp"], "%Y-%m-%d %H:%M:%S")
    beijing_now = datetime.now(UTC).replace(tzinfo=None) + __import__("datetime").timedelta(hours=8)
    assert abs((beijing_now - stamp).total_seconds()) < 120  # Beijing time, as the gateway expects
    token = first.get_json()["access_token"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.get_json()["real_name_status"] == "unverified"
    again = client.post("/api/v1/auth/alipay", json={"auth_code": "good-42"})
    assert again.status_code == 200
    other = client.post("/api/v1/auth/alipay", json={"auth_code": "good-43"})
    assert other.status_code == 200
    assert [alipay for _, alipay in _users(app)] == ["2088000000000042", "2088000000000043"]


def test_a_forged_or_tampered_answer_is_not_trusted(client, app, fake_alipay):
    FakeAlipay.tamper = True  # someone between us and Alipay changes the user id
    resp = client.post("/api/v1/auth/alipay", json={"auth_code": "good-7"})
    assert resp.status_code == 502 and resp.get_json()["status"] == "alipay_signature_invalid"
    FakeAlipay.tamper, FakeAlipay.sign_with = False, OTHER_KEY  # signed, but not by Alipay
    resp = client.post("/api/v1/auth/alipay", json={"auth_code": "good-7"})
    assert resp.status_code == 502 and resp.get_json()["status"] == "alipay_signature_invalid"
    assert _users(app) == []  # no account from an unverified answer


def test_bad_codes_and_a_wrong_application_key(client, app, fake_alipay):
    resp = client.post("/api/v1/auth/alipay", json={"auth_code": "used-code"})
    assert resp.status_code == 401 and resp.get_json()["status"] == "alipay_code_invalid"
    assert resp.get_json()["message"] == "支付宝授权码无效或已使用，请重新登录"
    empty = client.post("/api/v1/auth/alipay", json={"auth_code": ""})
    assert empty.status_code == 422 and "auth_code" in empty.get_json()["errors"]
    # our request signed with a key Alipay does not know: Alipay refuses (signed error), we say 502
    app.extensions["alipay_client"]._private = OTHER_KEY
    resp = client.post("/api/v1/auth/alipay", json={"auth_code": "good-9"})
    assert resp.status_code == 502 and resp.get_json()["status"] == "alipay_error"
    assert _users(app) == []


def test_not_configured_or_unreachable(client, app):
    original = app.extensions["alipay_client"]
    try:
        app.extensions["alipay_client"] = HttpAlipayClient("http://127.0.0.1:9/gateway.do", None, None, None)
        resp = client.post("/api/v1/auth/alipay", json={"auth_code": "good-1"})
        assert resp.status_code == 503 and resp.get_json()["status"] == "alipay_not_configured"
        app.extensions["alipay_client"] = HttpAlipayClient(
            "http://127.0.0.1:9/gateway.do", "2021", _pem_private(APP_KEY), _pem_public(ALIPAY_KEY), timeout=1
        )
        resp = client.post("/api/v1/auth/alipay", json={"auth_code": "good-1"})
        assert resp.status_code == 502 and resp.get_json()["status"] == "alipay_unavailable"
    finally:
        app.extensions["alipay_client"] = original


def test_signing_rules():
    params = {"b": "2", "a": "1", "sign": "x", "empty": "", "c": "中文"}
    assert signing_content(params) == "a=1&b=2&c=中文"
    signature = rsa2_sign("a=1", APP_KEY)
    assert rsa2_verify("a=1", signature, APP_KEY.public_key())
    assert not rsa2_verify("a=2", signature, APP_KEY.public_key())
    assert not rsa2_verify("a=1", "not base64!", APP_KEY.public_key())
    raw = '{"x_response":{"code":"10000","user_id":"2088"} ,"sign":"s"}'
    assert signed_node(raw, "x_response") == ({"code": "10000", "user_id": "2088"}, '{"code":"10000","user_id":"2088"}')
    assert signed_node(raw, "missing") is None
