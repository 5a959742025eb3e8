"""The retry policy of every task: transient failures (the database, the broker, a gateway) are retried
with exponential back-off and jitter; what still fails is recorded as a dead task for the administrators."""

from __future__ import annotations

import kombu.exceptions
import redis.exceptions
from sqlalchemy import exc as sa_exc

TRANSIENT = (
    sa_exc.OperationalError,  # connection lost, statement or lock time-out, deadlock
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # the connection pool was exhausted
    kombu.exceptions.OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)

RETRY = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": 5,  # 5 s, 10 s, 20 s … (jittered)
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 8,
}
