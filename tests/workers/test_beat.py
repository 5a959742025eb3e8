"""Two `celery -A workers.celery_app beat` processes (the README's command) on Redis: one sends, the other
waits quietly, and takes over when the first stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from tests.conftest import REDIS_URL, ROOT, unavailable

pytestmark = pytest.mark.worker


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_second_beat_is_a_quiet_standby_and_takes_over(app, tmp_path):
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError:
        unavailable(f"Redis not reachable at {REDIS_URL}")
    redis.Redis.from_url(REDIS_URL).flushdb()
    env = {
        **os.environ,
        "APP_ENV": "testing",
        "DATABASE_URL": app.config["DATABASE_URL"],
        "CELERY_BROKER_URL": REDIS_URL,
        "STORAGE_DIR": app.config["STORAGE_DIR"],
        "TASK_RELAY_AFTER_SECONDS": "1",  # the relay is due every second: plenty to send
    }
    celery = str(Path(sys.executable).parent / "celery")
    logs = [tmp_path / "beat-a.log", tmp_path / "beat-b.log"]
    procs = []
    for n, log in enumerate(logs):
        with log.open("w") as out:
            procs.append(
                subprocess.Popen(
                    [celery, "-A", "workers.celery_app", "beat", "-s", str(tmp_path / f"schedule-{n}"), "-l", "INFO"],
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    text = lambda i: logs[i].read_text()  # noqa: E731
    try:
        _wait(lambda: all("leader" in text(i) or "standby" in text(i) for i in (0, 1)), 90, "both beats")
        leader = 0 if "leader" in text(0) else 1
        standby = 1 - leader
        assert "standby, another beat holds the lease" in text(standby)
        _wait(lambda: text(leader).count("Sending due task") >= 3, 30, "the leader to send")
        assert "Sending due task" not in text(standby)
        assert "ERROR" not in text(standby) and "Traceback" not in text(standby)
        procs[leader].send_signal(signal.SIGTERM)  # a clean stop hands the lease over
        procs[leader].wait(timeout=30)
        _wait(lambda: "Sending due task" in text(standby), 30, "the standby to take over")
        assert "leader, sending scheduled tasks" in text(standby)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
