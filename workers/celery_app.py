"""Celery built from the Flask app.

Run a worker with ``celery -A workers.celery_app worker -Q default,face,notify,bulk``.
With no ``CELERY_BROKER_URL`` tasks run eagerly in-process (the embedded default).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from pathlib import Path
from typing import Any

from celery import Celery, Task
from celery.schedules import crontab
from celery.signals import task_failure, worker_init
from flask import Flask
from kombu import Queue

from core.database import record_dead_task, set_task_dispatcher

log = logging.getLogger(__name__)

QUEUES = ("default", "face", "notify", "bulk")
TASK_MODULES = [
    "workers.tasks.notify",
    "workers.tasks.casework",
    "workers.tasks.maintenance",
    "workers.tasks.reports",
    "workers.tasks.deadlines",
    "workers.tasks.faces",
    "workers.tasks.rolls",
    "workers.tasks.registry",
    "workers.tasks.exchange",
    "workers.tasks.bulk",
    "workers.tasks.monitoring",
]


def roll_draft_day(app: Flask) -> int:
    """ROLL_DRAFT_DAY, a day every month has (1-28)."""
    day = int(app.config["ROLL_DRAFT_DAY"])
    if not 1 <= day <= 28:
        raise RuntimeError(f"ROLL_DRAFT_DAY must be a day between 1 and 28, not {day}")
    return day


def init_celery(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    broker = app.config.get("CELERY_BROKER_URL")
    celery = Celery(app.import_name, task_cls=FlaskTask)
    celery.conf.update(
        broker_url=broker or "memory://",
        result_backend=app.config.get("CELERY_RESULT_BACKEND"),
        task_always_eager=not broker,
        task_eager_propagates=False,  # eager failures are logged, like a worker's; retries run in-process
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=app.config["CELERY_TASK_TIME_LIMIT"],
        task_soft_time_limit=app.config["CELERY_TASK_SOFT_TIME_LIMIT"],
        task_default_queue="default",
        task_routes={
            "faces.*": {"queue": "face"},
            "notify.*": {"queue": "notify"},
            "exchange.*": {"queue": "bulk"},
            "bulk.*": {"queue": "bulk"},
            "monitoring.*": {"queue": "bulk"},
        },
        task_queues=[Queue(q) for q in QUEUES],
        task_ignore_result=not app.config.get("CELERY_RESULT_BACKEND"),
        broker_connection_retry_on_startup=True,
        # a broker that is down fails a publish within seconds (the task row stays pending for the relay)
        # instead of hanging the request; redelivery of an unacked task after a worker crash comes after
        # visibility_timeout, which must exceed the longest task (its hard time limit)
        broker_transport_options={
            "socket_connect_timeout": app.config["REDIS_SOCKET_TIMEOUT_SECONDS"],
            "socket_timeout": app.config["REDIS_SOCKET_TIMEOUT_SECONDS"],
            "visibility_timeout": max(app.config["CELERY_TASK_TIME_LIMIT"] * 2, 600),
        },
        task_publish_retry=True,
        task_publish_retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5},
        timezone="Asia/Shanghai",
        beat_scheduler="workers.beat:SingletonScheduler",  # a second beat is a quiet standby
        enable_utc=True,
        beat_schedule={
            "check-deadlines": {
                "task": "casework.check_deadlines",
                "schedule": crontab(minute=0, hour="7,13"),  # Asia/Shanghai
                "options": {"queue": "default"},
            },
            "escalate-overdue-reports": {
                "task": "reports.escalate_overdue",
                "schedule": 1800.0,
                "options": {"queue": "default"},
            },
            "purge-idempotency-records": {
                "task": "maintenance.purge_idempotency_records",
                "schedule": 3600.0,
                "options": {"queue": "default"},
            },
            "reconcile-sending-messages": {
                "task": "notify.reconcile_sending",
                "schedule": max(5.0, app.config["NOTIFY_RECONCILE_AFTER_SECONDS"] / 2),
                "options": {"queue": "notify"},
            },
            "requeue-unnotified-events": {  # timeline events whose notify task was lost after publishing
                "task": "notify.requeue_unnotified_events",
                "schedule": max(30.0, app.config["NOTIFY_EVENTS_SWEEP_AFTER_SECONDS"] / 2),
                "options": {"queue": "notify"},
            },
            "relay-pending-tasks": {
                "task": "maintenance.relay_pending_tasks",
                "schedule": float(app.config["TASK_RELAY_AFTER_SECONDS"]),
                "options": {"queue": "default"},
            },
            "draft-next-payment-rolls": {  # registry: rolls — next month's 发放名册 on ROLL_DRAFT_DAY
                "task": "registry.draft_next_rolls",
                "schedule": crontab(minute=30, hour=1, day_of_month=roll_draft_day(app)),  # Asia/Shanghai
                "options": {"queue": "default"},
            },
            "purge-portal-sessions": {
                "task": "maintenance.purge_portal_sessions",
                "schedule": 900.0,
                "options": {"queue": "default"},
            },
            "purge-expired-department-data": {  # exchange: retention per category (PIPL)
                "task": "exchange.purge_expired",
                "schedule": crontab(minute=10, hour=2),  # Asia/Shanghai, daily
                "options": {"queue": "bulk"},
            },
            "anti-fraud-cross-check": {  # bulk: every recipient against every current category, nightly
                "task": "bulk.antifraud_scheduled",
                "schedule": crontab(minute=30, hour=2),  # Asia/Shanghai, daily, after the purge
                "options": {"queue": "bulk"},
            },
            "anti-fraud-after-load": {  # bulk: a run once a department load has completed
                "task": "bulk.antifraud_after_load",
                "schedule": 300.0,
                "options": {"queue": "bulk"},
            },
            "monitoring-after-loads": {  # monitoring: evaluate each completed department load once
                "task": "monitoring.evaluate_new_loads",
                "schedule": 300.0,
                "options": {"queue": "bulk"},
            },
            "monitoring-nightly": {  # monitoring: roster rebuilt, everyone against every rule
                "task": "monitoring.nightly",
                "schedule": crontab(minute=10, hour=3),  # Asia/Shanghai, daily, after the anti-fraud run
                "options": {"queue": "bulk"},
            },
            "sweep-orphan-files": {
                "task": "maintenance.sweep_orphan_files",
                "schedule": crontab(minute=40, hour=3),  # Asia/Shanghai, daily
                "options": {"queue": "default"},
            },
            "sweep-exchange-nonces": {
                "task": "maintenance.sweep_exchange_nonces",
                "schedule": 600.0,
                "options": {"queue": "default"},
            },
        },
    )
    celery.set_default()
    app.extensions["celery"] = celery
    celery.autodiscover_tasks(lambda: [], force=True)
    for module in TASK_MODULES:
        __import__(module)

    def dispatch(name: str, args: list, queue: str) -> None:
        if celery.conf.task_always_eager:
            result = celery.tasks[name].apply(args=args, throw=False)  # retries run at once, in-process
            if result.failed():  # the request's own work is committed; report, don't fail it
                log.error("eager task %s%s failed: %r", name, tuple(args), result.result)
        else:
            celery.send_task(name, args=args, queue=queue)

    @worker_init.connect(weak=False)
    def _check_face_engine(**_: Any) -> None:
        """A worker refuses to start, loudly, when face_recognition or its models did not load."""
        if app.config["FACE_ENGINE_CHECK_ON_WORKER_START"]:
            from core.faces.engine import load_engine

            load_engine()
            log.info("face_recognition loaded")

    @task_failure.connect(weak=False)
    def _dead_letter(sender: Any = None, args: Any = None, exception: BaseException | None = None, **_: Any) -> None:
        """A task that failed after its retries (or for a reason not worth retrying) is kept for the admins."""
        if sender is None or sender.app is not celery:
            return
        queue = (sender.request.delivery_info or {}).get("routing_key") or "default"
        with app.app_context():
            record_dead_task(sender.name, list(args or []), queue, f"{type(exception).__name__}: {exception}")

    app.extensions["task_dispatcher"] = dispatch
    set_task_dispatcher(dispatch)
    return celery


# The app factory is injected by name (the composition root, wsgi.py, by default): this package never
# imports it, and ``celery -A workers.celery_app`` works from the project directory with the venv's celery
# script (which, unlike ``python -m celery``, does not keep the current directory on sys.path).
APP_FACTORY = os.environ.get("RELIEFLINK_APP_FACTORY", "wsgi:create_app")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
_built: dict[str, Celery] = {}


def build_from_factory(factory: str = APP_FACTORY) -> Celery:
    """Build the Flask app with the injected factory and return its Celery (cached per process)."""
    if factory not in _built:
        if str(PROJECT_ROOT) not in sys.path:
            sys.path.insert(0, str(PROJECT_ROOT))
        module_name, _, attribute = factory.partition(":")
        create_app = getattr(importlib.import_module(module_name), attribute or "create_app")
        _built[factory] = create_app().extensions["celery"]
    return _built[factory]


def __getattr__(name: str) -> Any:
    """``celery -A workers.celery_app`` finds ``celery`` (or ``app``) here."""
    if name in ("celery", "app"):
        return build_from_factory()
    raise AttributeError(name)
