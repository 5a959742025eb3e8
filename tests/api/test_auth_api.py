"""Log-in by SMS and WeChat, refresh rotation, real-name binding."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select

from core import clock, crypto
from core.accounts.models import SmsCode, User, WechatSession
from core.database import db
from core.notifications.models import OutboxMessage
from tests.helpers import bearer, citizen_headers, id_number, login_citizen


def test_sms_login_creates_user_and_me(client, app):
    tokens = login_citizen(client, "13900000001")
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 900
    me = client.get("/api/v1/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    body = me.get_json()
    assert body["phone_masked"] == "139****0001"
    assert body["real_name_status"] == "unverified" and body["roles"] == []
    with app.app_context():
        message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.recipient == "13900000001"))
        # sent in-process (eager), and the one-time code is not kept once sent
        assert message.status == "sent"
        assert message.payload["code"] == "******"


def test_sms_wrong_code_counts_attempts_then_locks(client):
    client.post("/api/v1/auth/sms/send", json={"phone": "13900000002"})
    for left in (4, 3, 2, 1):
        resp = client.post("/api/v1/auth/sms/verify", json={"phone": "13900000002", "code": "000000"})
        assert resp.status_code == 401
        assert resp.get_json()["message"] == f"验证码错误，还可尝试{left}次"
    resp = client.post("/api/v1/auth/sms/verify", json={"phone": "13900000002", "code": "000000"})
    assert resp.get_json()["message"] == "验证码错误次数过多，请重新获取"
    resp = client.post("/api/v1/auth/sms/verify", json={"phone": "13900000002", "code": "000000"})
    assert resp.get_json()["status"] == "sms_code_locked"


def test_sms_code_expires(client, app):
    code = client.post("/api/v1/auth/sms/send", json={"phone": "13900000003"}).get_json()["dev_code"]
    clock.set_offset(timedelta(minutes=6))
    resp = client.post("/api/v1/auth/sms/verify", json={"phone": "13900000003", "code": code})
    assert resp.status_code == 401 and resp.get_json()["status"] == "sms_code_expired"


def test_sms_code_single_use(client):
    code = client.post("/api/v1/auth/sms/send", json={"phone": "13900000004"}).get_json()["dev_code"]
    assert client.post("/api/v1/auth/sms/verify", json={"phone": "13900000004", "code": code}).status_code == 200
    assert client.post("/api/v1/auth/sms/verify", json={"phone": "13900000004", "code": code}).status_code == 401


def test_sms_resend_too_soon_and_daily_cap(client, app):
    assert client.post("/api/v1/auth/sms/send", json={"phone": "13900000005"}).status_code == 200
    resp = client.post("/api/v1/auth/sms/send", json={"phone": "13900000005"})
    assert resp.status_code == 429
    assert resp.get_json()["message"].startswith("验证码已发送，请")
    assert int(resp.headers["Retry-After"]) > 0
    for i in range(1, app.config["SMS_DAILY_LIMIT_PER_PHONE"]):
        clock.set_offset(timedelta(minutes=2 * i))
        assert client.post("/api/v1/auth/sms/send", json={"phone": "13900000005"}).status_code == 200
    clock.set_offset(timedelta(minutes=60))
    resp = client.post("/api/v1/auth/sms/send", json={"phone": "13900000005"})
    assert resp.status_code == 429 and resp.get_json()["status"] == "sms_daily_limit"
    with app.app_context():
        assert db.session.query(SmsCode).filter_by(phone="13900000005").count() == 10


def test_sms_send_rate_limited_per_ip(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_SEND_IP_LIMIT", "3 per hour")
    for n in range(3):
        assert client.post("/api/v1/auth/sms/send", json={"phone": f"1370000000{n}"}).status_code == 200
    resp = client.post("/api/v1/auth/sms/send", json={"phone": "13700000009"})
    assert resp.status_code == 429
    assert resp.get_json() == {"code": 429, "status": "too_many_requests", "message": "操作过于频繁，请稍后再试"}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"phone": "1390000000"}, "phone", "请输入正确的11位手机号码"),
        ({}, "phone", "此项为必填项"),
        ({"phone": "13900000000", "admin": True}, "admin", "不允许的字段"),
        ({"phone": 13900000000}, "phone", "应为文本"),
    ],
)
def test_sms_send_validation(client, body, field, message):
    resp = client.post("/api/v1/auth/sms/send", json=body)
    assert resp.status_code == 422
    payload = resp.get_json()
    assert payload["status"] == "validation_failed"
    assert payload["errors"][field] == [message]


def test_non_json_body_is_400_in_chinese(client):
    resp = client.post("/api/v1/auth/sms/send", data="phone=1", content_type="text/plain")
    assert resp.status_code in (400, 415, 422)
    assert resp.is_json and "Traceback" not in resp.get_data(as_text=True)


def test_refresh_rotates_and_reuse_revokes_session(client):
    first = login_citizen(client, "13900000006")
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    second = second.get_json()
    assert client.get("/api/v1/me", headers=bearer(second["access_token"])).status_code == 200
    # The spent token used again: theft is assumed and the whole session ends.
    reuse = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401 and reuse.get_json()["status"] == "refresh_reused"
    assert client.get("/api/v1/me", headers=bearer(second["access_token"])).status_code == 401
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}).status_code == 401


def test_refresh_expired(client):
    tokens = login_citizen(client, "13900000007")
    clock.set_offset(timedelta(days=31))
    resp = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert resp.status_code == 401 and resp.get_json()["status"] == "refresh_expired"


def test_logout_revokes_access_and_refresh(client):
    tokens = login_citizen(client, "13900000008")
    headers = bearer(tokens["access_token"])
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401


# --- real name -------------------------------------------------------------------------------


def test_bind_real_name(client, app):
    """Stating a name and number is a claim; the verification binds it; another number needs a reason."""
    headers = citizen_headers(client, "13900000010")
    number = id_number(seq=11)
    resp = client.post("/api/v1/me/real-name", headers=headers, json={"name": "王小明", "id_number": number})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["real_name_status"] == "claimed" and body["id_number_masked"] is None
    assert body["claim"]["id_number_masked"] == number[:4] + "*" * 10 + number[-4:]
    verified = client.post("/api/v1/me/real-name/verify", headers=headers, json={"method": "id_service"})
    assert verified.get_json()["status"] == "passed"
    body = client.get("/api/v1/me", headers=headers).get_json()
    assert body["real_name_status"] == "verified" and body["verification_method"] == "id_service"
    assert body["id_number_masked"] == number[:4] + "*" * 10 + number[-4:]
    assert number not in resp.get_data(as_text=True)
    other = id_number(seq=12)
    again = client.post("/api/v1/me/real-name", headers=headers, json={"name": "王小明", "id_number": other})
    assert again.status_code == 422 and "rebind_reason" in again.get_json()["errors"]


@pytest.mark.parametrize(
    ("name", "number", "field", "message"),
    [
        ("王小明", "360124198001010010", "id_number", "身份证号码校验位不正确，请核对后重新输入"),
        ("王小明", "36012419800101001", "id_number", "身份证号码应为18位"),
        ("王小明", "360124198002300018", "id_number", "身份证号码中的出生日期不正确"),
        ("王", None, "name", "请输入与身份证一致的真实姓名"),
        ("123", None, "name", "请输入与身份证一致的真实姓名"),
    ],
)
def test_bind_real_name_field_errors(client, name, number, field, message):
    headers = citizen_headers(client, "13900000011")
    resp = client.post(
        "/api/v1/me/real-name", headers=headers, json={"name": name, "id_number": number or id_number(seq=13)}
    )
    assert resp.status_code == 422
    errors = resp.get_json()["errors"]
    assert errors[field] == [message] or (field == "name" and "name" in errors)


def test_bind_real_name_future_birth_date(client):
    headers = citizen_headers(client, "13900000012")
    future = id_number(born=clock.local_today() + timedelta(days=30), seq=1)
    resp = client.post("/api/v1/me/real-name", headers=headers, json={"name": "李四", "id_number": future})
    assert resp.status_code == 422
    assert resp.get_json()["errors"]["id_number"] == ["身份证号码中的出生日期晚于今天"]


# --- WeChat ------------------------------------------------------------------------------------


class _FakeWechat(BaseHTTPRequestHandler):
    """A local stand-in for api.weixin.qq.com/sns/jscode2session."""

    calls: ClassVar[list[dict]] = []

    def do_GET(self):
        query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
        type(self).calls.append(query)
        if urlparse(self.path).path != "/sns/jscode2session":
            self.send_response(404)
            self.end_headers()
            return
        if query.get("appid") != "wx-test-app" or query.get("secret") != "wx-test-secret":
            body = {"errcode": 40125, "errmsg": "invalid appsecret"}
        elif query.get("js_code") == "good-code":
            body = {"openid": "oOPENID123", "session_key": "SESSIONKEY==", "unionid": "uUNION"}
        else:
            body = {"errcode": 40029, "errmsg": "invalid code"}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_wechat(app):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeWechat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    from core.accounts.wechat import HttpWechatClient

    original = app.extensions["wechat_client"]
    app.extensions["wechat_client"] = HttpWechatClient(
        f"http://127.0.0.1:{server.server_port}", "wx-test-app", "wx-test-secret", timeout=2
    )
    _FakeWechat.calls = []
    yield server
    app.extensions["wechat_client"] = original
    server.shutdown()


def test_wechat_login(client, app, fake_wechat):
    resp = client.post("/api/v1/auth/wechat", json={"code": "good-code"})
    assert resp.status_code == 200, resp.get_json()
    assert "SESSIONKEY" not in resp.get_data(as_text=True)
    me = client.get("/api/v1/me", headers=bearer(resp.get_json()["access_token"])).get_json()
    assert me["wechat_bound"] is True
    assert _FakeWechat.calls[-1]["grant_type"] == "authorization_code"
    with app.app_context():
        user = db.session.scalar(select(User).where(User.wechat_openid == "oOPENID123"))
        stored = db.session.get(WechatSession, user.id)
        assert "SESSIONKEY" not in stored.session_key_encrypted
        assert crypto.decrypt(stored.session_key_encrypted) == "SESSIONKEY=="
    # the same WeChat user logs in again: same account
    again = client.post("/api/v1/auth/wechat", json={"code": "good-code"})
    assert client.get("/api/v1/me", headers=bearer(again.get_json()["access_token"])).get_json()["id"] == me["id"]


def test_wechat_bad_code(client, fake_wechat):
    resp = client.post("/api/v1/auth/wechat", json={"code": "used-code"})
    assert resp.status_code == 401
    assert resp.get_json()["message"] == "微信登录凭证无效或已使用，请重新登录"


def test_wechat_unreachable(client, app):
    from core.accounts.wechat import HttpWechatClient

    original = app.extensions["wechat_client"]
    app.extensions["wechat_client"] = HttpWechatClient("http://127.0.0.1:9", "a", "b", timeout=1)
    try:
        resp = client.post("/api/v1/auth/wechat", json={"code": "x"})
    finally:
        app.extensions["wechat_client"] = original
    assert resp.status_code == 502
    assert resp.get_json()["message"] == "微信登录服务暂时不可用，请稍后再试"
