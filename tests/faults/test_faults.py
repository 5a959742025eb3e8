"""The production topology under faults (issue: nothing lost, nothing doubled, no single hang). Each
scenario is bounded to seconds and prints its figures: requests sent, 2xx/4xx/5xx, messages lost and
doubled, recovery time."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from collections import Counter

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.faults.topology import PrivatePostgres, Topology, wait_for

pytestmark = pytest.mark.faults

FIGURES: dict[str, dict] = {}


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    database = PrivatePostgres()  # restarted by a scenario: never the machine's shared server
    top = Topology(tmp_path_factory.mktemp("topology"), database.url)
    top.database = database
    try:
        top.migrate()
        top.start_redis()
        top.start_web()
        top.start_worker()
        top.start_beat()
        top.start_nginx()
        top.wait_ready()
        yield top
    finally:
        top.close()
        database.close()
        print("\nfault figures:", json.dumps(FIGURES, ensure_ascii=False, indent=1))


def _statuses(responses) -> dict[str, int]:
    counts = Counter(f"{r.status_code // 100}xx" for r in responses)
    return {k: counts.get(k, 0) for k in ("2xx", "4xx", "5xx")}


def test_through_nginx_with_every_part_up(topology):
    body = requests.get(topology.url("/readyz"), timeout=5).json()
    assert body == {"status": "ok", "database": "ok", "broker": "ok", "pending_tasks": 0}
    assert requests.get(topology.url("/api/v1/regions"), timeout=5).status_code == 200


def test_broker_stopped_during_writes_nothing_lost_nothing_doubled(topology):
    relay = topology.relay
    before = len(relay.received)
    topology.stop_redis()
    phones = [f"1390009{n:04d}" for n in range(20)]
    responses = [requests.post(topology.url("/api/v1/auth/sms/send"), json={"phone": p}, timeout=20) for p in phones]
    ready = requests.get(topology.url("/readyz"), timeout=10)
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200]
    assert ready.status_code == 200 and ready.json()["broker"] == "unreachable"
    assert ready.json()["pending_tasks"] >= len(phones)
    back = time.monotonic()
    topology.start_redis()
    wait_for(lambda: all(relay.codes_for(p) for p in phones), 60, "every log-in code after the broker returned")
    recovery = time.monotonic() - back
    time.sleep(3)  # a relay or a redelivery that would double a message has had its chance
    per_phone = {p: len(relay.codes_for(p)) for p in phones}
    FIGURES["broker_outage"] = {
        "requests": len(phones), **_statuses(responses), "messages_lost": sum(1 for n in per_phone.values() if n == 0),
        "messages_doubled": sum(1 for n in per_phone.values() if n > 1), "recovery_seconds": round(recovery, 1),
        "gateway_requests": len(relay.received) - before,
    }  # fmt: skip
    assert set(per_phone.values()) == {1}, per_phone
    wait_for(lambda: requests.get(topology.url("/readyz"), timeout=5).json()["pending_tasks"] == 0, 30, "backlog")


def test_worker_killed_mid_delivery_sends_once(topology):
    relay = topology.relay
    phone = "13900098001"
    relay.hold[phone] = 6.0  # the relay takes the message, then holds its answer: the worker is killed meanwhile
    sent = requests.post(topology.url("/api/v1/auth/sms/send"), json={"phone": phone}, timeout=10)
    assert sent.status_code == 200
    wait_for(lambda: relay.codes_for(phone), 30, "the relay to receive the message")
    killed = time.monotonic()
    topology.kill("worker", signal.SIGKILL)
    relay.hold.pop(phone)
    topology.start_worker()
    engine = create_engine(topology.database_url)

    def settled():
        with engine.connect() as conn:
            return (
                conn.execute(text("SELECT status FROM outbox_messages WHERE recipient = :p"), {"p": phone}).scalar_one()
                == "sent"
            )

    wait_for(settled, 60, "the reconciliation to settle the claimed message")
    recovery = time.monotonic() - killed
    engine.dispose()
    FIGURES["worker_sigkill_mid_delivery"] = {
        "requests": 1, "gateway_requests": len(relay.codes_for(phone)), "messages_lost": 0,
        "messages_doubled": max(0, len(relay.codes_for(phone)) - 1), "recovery_seconds": round(recovery, 1),
    }  # fmt: skip
    assert len(relay.codes_for(phone)) == 1  # exactly once: asked about, not sent again


def test_a_locked_table_fails_fast_with_503_and_health_stays_up(topology):
    headers = topology.login("13900098002")
    engine = create_engine(topology.database_url)
    responses, started = [], time.monotonic()
    with engine.connect() as conn:
        conn.execute(text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
        for _ in range(3):
            responses.append(requests.get(topology.url("/api/v1/me"), headers=headers, timeout=15))
        live = requests.get(topology.url("/livez"), timeout=5)
        elapsed = time.monotonic() - started
        conn.rollback()
    after = requests.get(topology.url("/api/v1/me"), headers=headers, timeout=10)
    engine.dispose()
    FIGURES["locked_table"] = {"requests": 3, **_statuses(responses), "seconds_for_three": round(elapsed, 1)}
    assert [r.status_code for r in responses] == [503, 503, 503]
    assert all(r.headers.get("Retry-After") == "5" and r.json()["status"] == "service_unavailable" for r in responses)
    assert live.status_code == 200 and after.status_code == 200


def test_slow_clients_do_not_stop_the_api(topology):
    """Forty clients that send half a request and wait, and ten that trickle a body: nginx holds them,
    gunicorn's threads stay free for everyone else."""
    held: list[socket.socket] = []
    stop = threading.Event()
    for _ in range(40):
        s = socket.create_connection(("127.0.0.1", topology.nginx_port), timeout=5)
        s.sendall(b"GET /api/v1/regions HTTP/1.1\r\nHost: x\r\n")  # headers never finished
        held.append(s)

    def trickle() -> None:
        s = socket.create_connection(("127.0.0.1", topology.nginx_port), timeout=30)
        held.append(s)
        s.sendall(b"POST /api/v1/auth/sms/send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100000\r\n\r\n")  # fmt: skip
        while not stop.is_set():
            try:
                s.sendall(b" ")
            except OSError:
                return
            time.sleep(0.5)

    threads = [threading.Thread(target=trickle, daemon=True) for _ in range(10)]
    for t in threads:
        t.start()
    time.sleep(1)
    try:
        answers = [requests.get(topology.url("/api/v1/regions"), timeout=5) for _ in range(20)]
        ready = requests.get(topology.url("/readyz"), timeout=5)
    finally:
        stop.set()
        for s in held:
            s.close()
    FIGURES["slow_clients"] = {"held_connections": 50, "requests": 20, **_statuses(answers)}
    assert all(a.status_code == 200 for a in answers) and ready.status_code == 200


def test_two_beats_are_quiet(topology):
    topology._start(
        "beat2",
        [str(topology.procs["beat"].args[0]), "-A", "workers.celery_app", "beat", "-s",
         str(topology.tmp / "beat2-schedule"), "-l", "INFO"],
    )  # fmt: skip
    wait_for(lambda: "standby" in topology.log("beat2") or "leader" in topology.log("beat2"), 60, "the second beat")
    time.sleep(3)
    log = topology.log("beat2")
    topology.kill("beat2")
    assert "standby, another beat holds the lease" in log and "Sending due task" not in log
    assert "ERROR" not in log


def test_postgres_restarted_mid_burst_503s_then_recovers_without_half_rows(topology):
    """Writes keep coming while PostgreSQL restarts: each answers 2xx (committed) or 503 (nothing written),
    never 500; afterwards gunicorn serves again without a restart, and every 2xx has its rows."""
    phones = iter(f"1390007{n:04d}" for n in range(10000))
    results: list[tuple[str, int]] = []
    stop = threading.Event()

    def burst() -> None:
        while not stop.is_set():
            phone = next(phones)
            try:
                r = requests.post(topology.url("/api/v1/auth/sms/send"), json={"phone": phone}, timeout=20)
                results.append((phone, r.status_code))
            except requests.RequestException:
                results.append((phone, 0))
            time.sleep(0.02)

    threads = [threading.Thread(target=burst, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    topology.database.restart()
    restarted = time.monotonic()
    time.sleep(1.5)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    recovered = wait_for(
        lambda: (
            requests.post(topology.url("/api/v1/auth/sms/send"), json={"phone": next(phones)}, timeout=10).status_code
            == 200
        ),
        30,
        "writes to succeed again",
    )
    recovery = time.monotonic() - restarted
    codes = Counter(code for _, code in results)
    engine = create_engine(topology.database_url)
    with engine.connect() as conn:
        stored = {
            row[0] for row in conn.execute(text("SELECT recipient FROM outbox_messages WHERE template = 'login_code'"))
        }
    engine.dispose()
    ok = [phone for phone, code in results if code == 200]
    FIGURES["postgres_restart"] = {
        "requests": len(results), "2xx": codes.get(200, 0), "503": codes.get(503, 0),
        "other_5xx": sum(n for c, n in codes.items() if c >= 500 and c != 503), "transport_errors": codes.get(0, 0),
        "committed_without_rows": sum(1 for p in ok if p not in stored), "recovery_seconds": round(recovery, 1),
    }  # fmt: skip
    assert recovered
    assert codes.get(503, 0) > 0, codes  # the restart was felt
    assert set(codes) <= {200, 503}, codes  # never a 500, never a dropped connection
    assert all(p in stored for p in ok)  # a 2xx always has its message row
