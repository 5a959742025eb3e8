"""A file load queued by a request runs on the ``bulk`` queue of a real Celery worker."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from core.actor import SYSTEM
from core.database import commit, db
from core.exchange import ingest
from core.exchange.catalogue import DataLoad
from core.idnumber import make_id_number
from tests.exchange import factory
from tests.workers.test_worker import _read, _wait_for, real_worker  # noqa: F401 - the fixture

pytestmark = pytest.mark.worker


def test_a_queued_file_load_runs_on_the_bulk_queue(app, real_worker):  # noqa: F811
    number = make_id_number("360124", date(1960, 1, 1), 1)
    body = f"身份证号,死亡日期\r\n{number},2026年3月1日\n{number[:17]}Y,2026-03-01\n".encode("gbk")
    with app.app_context():
        dept = factory.department()
        load = ingest.start_file_load(
            SYSTEM,
            category="deaths",
            path=factory.temp_file(body),
            filename="d.csv",
            department_id=dept.id,
            client_id=None,
            batch_id=None,
        )
        load_id = load.id
        commit()  # the task row is published to the broker; the worker takes it from "bulk"
        db.session.remove()
    done = _wait_for(
        lambda: _read(
            app,
            lambda: db.session.scalar(
                db.select(DataLoad).where(DataLoad.id == load_id, DataLoad.status.in_(("completed", "failed")))
            ),
        ),
        timeout=60,
        what="the load finished by the worker",
    )
    assert done.status == "completed", done.message
    assert (done.rows_accepted, done.rows_rejected, done.progress) == (1, 1, 100)
    assert "exchange.run_load" in Path(real_worker).read_text(encoding="utf-8")
