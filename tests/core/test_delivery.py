"""Messages are delivered once: the claim is committed before the gateway is called, every attempt
carries the same request id (the SMS relay de-duplicates by it), and a send a crash left open is settled
by asking the provider — or marked unknown, never sent twice blindly (WeChat cannot be asked)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core import clock
from core.database import commit, db
from core.notifications import services as outbox
from core.notifications.channels import HttpSmsGateway, SendError
from core.notifications.models import OutboxMessage
from tests.faults.topology import SmsRelay


class Gateway(SmsRelay):
    """The fault suite's loopback SMS relay (it counts what it receives and sends each request id once)."""

    @property
    def requests(self) -> list[dict]:
        return self.received

    def channel(self) -> HttpSmsGateway:
        return HttpSmsGateway(self.url, "test-key", "救助通", timeout=2)


class Killed(BaseException):
    """The worker process dies here (nothing after it runs: no except clause catches a BaseException)."""


@pytest.fixture
def gateway(monkeypatch):
    gw = Gateway()
    monkeypatch.setattr(outbox, "_channel_factory", lambda channel: gw.channel())
    yield gw
    gw.close()


def _message(app) -> int:
    with app.app_context():
        message = outbox.enqueue("sms", "13900082001", "login_code", {"code": "123456"}, redact_after_send=("code",))
        db.session.commit()  # not core.database.commit: the test delivers by hand
        db.session.info.pop("ready_tasks", None)
        return message.id


def _status(app, message_id: int) -> OutboxMessage:
    with app.app_context():
        message = db.session.get(OutboxMessage, message_id)
        db.session.expunge(message)
        db.session.remove()
        return message


def test_sms_carries_the_outbox_id_and_a_repeat_is_a_no_op(app, gateway):
    mid = _message(app)
    with app.app_context():
        assert outbox.deliver(mid) == "sent"
        commit()
        assert outbox.deliver(mid) == "sent"  # a task delivered twice (relay + request) sends once
        commit()
        db.session.remove()
    assert [r["request_id"] for r in gateway.requests] == [f"rl-outbox-{mid}"]
    stored = _status(app, mid)
    assert stored.provider_message_id == "sms-1" and stored.payload["code"] == "******"


def test_worker_killed_after_the_gateway_sent_is_settled_without_a_second_sms(app, gateway, monkeypatch):
    mid = _message(app)
    real = gateway.channel()

    class DiesAfterSending:
        deduplicates = True

        def send(self, *args, **kwargs):
            real.send(*args, **kwargs)
            raise Killed

    monkeypatch.setattr(outbox, "_channel_factory", lambda channel: DiesAfterSending())
    with app.app_context(), pytest.raises(Killed):
        outbox.deliver(mid)
    assert _status(app, mid).status == "sending"  # the claim was committed before the gateway call
    monkeypatch.setattr(outbox, "_channel_factory", lambda channel: gateway.channel())
    with app.app_context():
        db.session.rollback()
        assert outbox.deliver(mid) == "sending"  # a redelivered task does not send a claimed message
        commit()
        assert outbox.reconcile_sending(older_than_seconds=300) == {"sent": 0, "pending": 0, "unknown": 0}
        clock.set_offset(timedelta(seconds=301))
        assert outbox.reconcile_sending(older_than_seconds=300) == {"sent": 1, "pending": 0, "unknown": 0}
        commit()
        db.session.remove()
    assert len(gateway.requests) == 1
    assert _status(app, mid).status == "sent"


def test_worker_killed_before_the_gateway_heard_sends_once_after_reconciling(app, gateway, monkeypatch):
    mid = _message(app)

    class DiesBeforeSending:
        deduplicates = True

        def send(self, *args, **kwargs):
            raise Killed

    monkeypatch.setattr(outbox, "_channel_factory", lambda channel: DiesBeforeSending())
    with app.app_context(), pytest.raises(Killed):
        outbox.deliver(mid)
    monkeypatch.setattr(outbox, "_channel_factory", lambda channel: gateway.channel())
    clock.set_offset(timedelta(seconds=301))
    with app.app_context():
        db.session.rollback()
        assert outbox.reconcile_sending() == {"sent": 0, "pending": 1, "unknown": 0}
        commit()  # publishes the deliver task again (in-process here)
        db.session.remove()
    assert [r["request_id"] for r in gateway.requests] == [f"rl-outbox-{mid}"]
    assert _status(app, mid).status == "sent"


def test_wechat_that_may_have_sent_is_marked_unknown_not_resent(app, monkeypatch):
    mid = _message(app)
    calls = []

    class TimesOut:
        deduplicates = False

        def send(self, *args, **kwargs):
            calls.append(kwargs["request_id"])
            raise SendError("subscribe/send did not answer: ReadTimeout", ambiguous=True)

        def lookup(self, request_id):
            raise SendError("cannot be looked up")

    monkeypatch.setattr(outbox, "_channel_factory", lambda channel: TimesOut())
    with app.app_context():
        assert outbox.deliver(mid) == "unknown"
        commit()
        assert outbox.deliver(mid) == "unknown"
        db.session.remove()
    assert len(calls) == 1
    stored = _status(app, mid)
    assert stored.status == "unknown" and "ReadTimeout" in stored.last_error


def test_an_unreachable_gateway_is_retried_with_the_same_request_id(app, gateway, monkeypatch):
    mid = _message(app)
    down = HttpSmsGateway("http://127.0.0.1:1/sms", "k", "救助通", timeout=1)
    monkeypatch.setattr(outbox, "_channel_factory", lambda channel: down)
    with app.app_context():
        with pytest.raises(SendError):
            outbox.deliver(mid)
        commit()
        db.session.remove()
    assert _status(app, mid).status == "pending"  # connection refused: nothing went out, retry is safe
    monkeypatch.setattr(outbox, "_channel_factory", lambda channel: gateway.channel())
    with app.app_context():
        assert outbox.deliver(mid) == "sent"
        commit()
        db.session.remove()
    assert [r["request_id"] for r in gateway.requests] == [f"rl-outbox-{mid}"]
    assert _status(app, mid).attempts == 2


def test_the_console_channel_can_be_asked(app, tmp_path):
    from core.notifications.channels import ConsoleChannel

    console = ConsoleChannel(str(tmp_path))
    assert console.lookup("rl-outbox-9") is None
    console.send("13900082002", "t", {"a": 1}, request_id="rl-outbox-9")
    assert console.lookup("rl-outbox-9") == "rl-outbox-9"
