"""Status notifications through the outbox: WeChat subscription messages (real adapter against a
loopback fake of the WeChat API), SMS, retries without duplicates."""

from __future__ import annotations

import json
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select

from core.accounts.models import User
from core.database import db
from core.notifications import services as outbox
from core.notifications.channels import ConsoleChannel, WechatSubscribeChannel
from core.notifications.models import OutboxMessage
from tests.helpers import bound_citizen, draft_body, id_number, submitted_application

ZHANG = ("张建国", id_number(date(1962, 4, 18), 11))


class FakeWechatApi(BaseHTTPRequestHandler):
    sent: ClassVar[list[dict]] = []
    tokens_issued: ClassVar[int] = 0
    fail_next: ClassVar[list[int]] = []  # errcodes to answer before succeeding

    def _json(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/cgi-bin/token":
            type(self).tokens_issued += 1
            self._json({"access_token": f"TOKEN{type(self).tokens_issued}", "expires_in": 7200})
        else:
            self._json({"errcode": 404})

    def do_POST(self):
        url = urlparse(self.path)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        token = parse_qs(url.query).get("access_token", [""])[0]
        if not token.startswith("TOKEN"):
            self._json({"errcode": 40001})
        elif type(self).fail_next:
            self._json({"errcode": type(self).fail_next.pop(0), "errmsg": "fake failure"})
        else:
            type(self).sent.append(body)
            self._json({"errcode": 0, "msgid": 1000 + len(type(self).sent)})

    def log_message(self, *args):
        pass


@pytest.fixture
def wechat_api(app):
    FakeWechatApi.sent, FakeWechatApi.fail_next, FakeWechatApi.tokens_issued = [], [], 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeWechatApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    channel = WechatSubscribeChannel(
        f"http://127.0.0.1:{server.server_port}",
        "wx-app",
        "wx-secret",
        {"application_status": "TPL-STATUS-1"},
        timeout=2,
    )
    console = ConsoleChannel(app.config["STORAGE_DIR"])
    outbox.set_channel_factory(lambda name: channel if name == "wechat" else console)
    yield FakeWechatApi
    from wsgi import activate

    activate(app)
    server.shutdown()


def _wechat_user(app, phone: str) -> None:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.phone == phone))
        user.wechat_openid = f"openid-{phone}"
        db.session.commit()
        db.session.remove()


def test_status_change_sends_a_subscription_message(client, app, wechat_api):
    headers = bound_citizen(client, "13900030000", *ZHANG)
    _wechat_user(app, "13900030000")
    submitted_application(client, headers, draft_body(*ZHANG))
    assert len(wechat_api.sent) == 1
    message = wechat_api.sent[0]
    assert message["touser"] == "openid-13900030000" and message["template_id"] == "TPL-STATUS-1"
    assert message["page"].startswith("pages/applications/detail?id=")
    data = message["data"]
    assert data["thing1"]["value"] == "最低生活保障申请" and data["phrase2"]["value"] == "已提交"
    assert all(len(v["value"]) <= 20 for k, v in data.items() if k.startswith("thing"))
    assert len(data["phrase2"]["value"]) <= 5
    assert data["time4"]["value"].startswith("20") and "年" in data["time4"]["value"]
    with app.app_context():
        row = db.session.scalar(select(OutboxMessage).where(OutboxMessage.channel == "wechat"))
        assert row.status == "sent" and row.provider_message_id == "1001"


def test_transient_failures_are_retried_without_duplicates(client, app, wechat_api):
    headers = bound_citizen(client, "13900030001", *ZHANG)
    _wechat_user(app, "13900030001")
    wechat_api.fail_next = [-1, -1]  # "system busy" twice, then it works
    submitted_application(client, headers, draft_body(*ZHANG))
    assert len(wechat_api.sent) == 1
    with app.app_context():
        row = db.session.scalar(select(OutboxMessage).where(OutboxMessage.channel == "wechat"))
        assert row.status == "sent" and row.attempts == 3
        # running the task again sends nothing more
        assert outbox.deliver(row.id) == "sent"
    assert len(wechat_api.sent) == 1


def test_refused_subscription_is_not_retried(client, app, wechat_api):
    headers = bound_citizen(client, "13900030002", *ZHANG)
    _wechat_user(app, "13900030002")
    wechat_api.fail_next = [43101]  # the user did not subscribe
    submitted_application(client, headers, draft_body(*ZHANG))
    with app.app_context():
        row = db.session.scalar(select(OutboxMessage).where(OutboxMessage.channel == "wechat"))
        assert row.status == "failed" and row.attempts == 1 and "43101" in row.last_error
    assert wechat_api.sent == []


def test_expired_token_is_fetched_again(app, wechat_api):
    wechat_api.fail_next = [40001]
    with app.app_context():
        message = outbox.enqueue(
            "wechat", "openid-x", "application_status", {"page": "p", "data": {"thing1": {"value": "x"}}}
        )
        db.session.commit()
        assert outbox.deliver(message.id) == "sent"
        db.session.commit()
    assert wechat_api.tokens_issued == 2 and len(wechat_api.sent) == 1


def test_without_wechat_the_citizen_gets_an_sms(client, app):
    headers = bound_citizen(client, "13900030003", *ZHANG)
    submitted_application(client, headers, draft_body(*ZHANG))
    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "application_status")).all()
        assert [(r.channel, r.recipient, r.status) for r in rows] == [("sms", "13900030003", "sent")]
