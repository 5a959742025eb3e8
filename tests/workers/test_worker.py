"""A real Celery worker process on Redis runs the tasks that requests commit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery
from sqlalchemy import select

from core.casework.models import Case
from core.database import db, set_task_dispatcher
from core.notifications.models import OutboxMessage
from tests.conftest import REDIS_URL, ROOT, unavailable
from tests.helpers import citizen_headers

pytestmark = pytest.mark.worker


def _wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def real_worker(app) -> Iterator[str]:
    """Starts ``celery worker`` on Redis against the test database; yields its log file path."""
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
    }
    log_path = os.path.join(app.config["STORAGE_DIR"], "worker.log")
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "celery"),  # the venv's script, as the README runs it
            "-A",
            "workers.celery_app",
            "worker",
            "--pool=solo",
            "-Q",
            "default,notify,face,bulk",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "INFO",
            "-n",
            f"test-{os.getpid()}@localhost",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    sender = Celery(broker=REDIS_URL)
    sender.conf.task_serializer = "json"
    set_task_dispatcher(lambda name, args, queue: sender.send_task(name, args=args, queue=queue))
    try:
        _wait_for(lambda: "ready." in _text(log_path) or proc.poll() is not None, 60, "worker start")
        assert proc.poll() is None, _text(log_path)[-3000:]
        yield log_path
    finally:
        set_task_dispatcher(app.extensions["task_dispatcher"])
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _text(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


def _read(app, fn):
    with app.app_context():
        try:
            return fn()
        finally:
            db.session.remove()


def test_tasks_committed_by_requests_run_in_a_real_worker(client, app, real_worker):
    # 1. log-in code: the request commits an outbox row; the worker sends it and marks it sent
    sent = client.post("/api/v1/auth/sms/send", json={"phone": "13900004000"})
    assert sent.status_code == 200
    message = _wait_for(
        lambda: _read(
            app,
            lambda: db.session.scalar(
                select(OutboxMessage).where(OutboxMessage.recipient == "13900004000", OutboxMessage.status == "sent")
            ),
        ),
        what="outbox message sent by the worker",
    )
    assert message.payload["code"] == "******" and message.attempts == 1
    # 2. a case opened by a request is stamped as routed by the worker
    code = sent.get_json()["dev_code"]
    token = client.post("/api/v1/auth/sms/verify", json={"phone": "13900004000", "code": code}).get_json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    case = client.post("/api/v1/demo/cases", headers=headers, json={"township_code": "360124100", "title": "worker"})
    assert case.status_code == 201
    routed = _wait_for(
        lambda: _read(app, lambda: db.session.get(Case, case.get_json()["id"]).routed_at),
        what="case routed by the worker",
    )
    assert routed is not None


def test_a_task_delivered_twice_has_one_effect(client, app, real_worker):
    headers = citizen_headers(client, "13900004001")  # its log-in SMS goes through the worker
    message_id = _wait_for(
        lambda: _read(
            app,
            lambda: db.session.scalar(
                select(OutboxMessage.id).where(OutboxMessage.recipient == "13900004001", OutboxMessage.status == "sent")
            ),
        ),
        what="first delivery",
    )
    outbox_file = os.path.join(app.config["STORAGE_DIR"], "outbox.jsonl")
    lines_before = _text(outbox_file).count("13900004001")
    # the broker delivers the same task again (as after a worker was killed before acking)
    again = Celery(broker=REDIS_URL).send_task("notify.deliver", args=[message_id], queue="notify")
    line = _wait_for(
        lambda: next((ln for ln in _text(real_worker).splitlines() if again.id in ln and "succeeded" in ln), None),
        what="the duplicate task to finish",
    )
    assert line.endswith("'sent'")  # it found the message already sent ...
    assert _text(outbox_file).count("13900004001") == lines_before == 1  # ... and sent nothing
    assert client.get("/api/v1/me", headers=headers).status_code == 200


def test_a_face_task_runs_in_a_real_worker(client, app, real_worker, tmp_path):
    """The face check goes through Redis to the worker's `face` queue and back into the database."""
    import shutil
    from datetime import date

    from core.authorizations.models import FaceVerification
    from tests.conftest import SHARED
    from tests.helpers import (
        LIVE_OBAMA,
        auth_headers,
        bound_citizen,
        draft_body,
        face_challenge,
        face_upload,
        id_number,
    )

    faces = SHARED / "data" / "faces"
    if not faces.exists():
        unavailable(f"{faces} is absent")
    person = ("张建国", id_number(date(1962, 4, 18), 11))
    shutil.copy(faces / "obama.jpg", tmp_path / "a.jpg")
    (tmp_path / "m.csv").write_text(f"id_number,file\n{person[1]},a.jpg\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(
        args=["identity", "import-portraits", str(tmp_path), "--manifest", str(tmp_path / "m.csv")]
    )
    assert result.exit_code == 0, result.output
    headers = bound_citizen(client, "13900004002", *person)
    app_id = client.post("/api/v1/applications", headers=headers, json=draft_body(*person)).get_json()["id"]
    request_id = client.get(f"/api/v1/applications/{app_id}/authorizations", headers=headers).get_json()[0]["id"]
    token = client.post(
        f"/api/v1/applications/{app_id}/authorizations/{request_id}/handover", headers=headers
    ).get_json()["token"]
    client.post("/api/v1/authorizations/identity", headers=auth_headers(headers, token), json={"id_number": person[1]})
    challenge = face_challenge(client, headers, token)
    queued = face_upload(client, headers, token, challenge["challenge_id"], LIVE_OBAMA[tuple(challenge["actions"])])
    assert queued.status_code == 202 and queued.get_json()["status"] == "queued"
    verification_id = queued.get_json()["id"]
    status = _wait_for(
        lambda: _read(
            app,
            lambda: (
                db.session.get(FaceVerification, verification_id).status
                if db.session.get(FaceVerification, verification_id).status != "queued"
                else None
            ),
        ),
        timeout=120,
        what="the face check in the worker",
    )
    assert status == "passed"
    polled = client.get(
        f"/api/v1/authorizations/face/{verification_id}", headers=auth_headers(headers, token)
    ).get_json()
    assert polled["message"] == "核验通过，请签名"
