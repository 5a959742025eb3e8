"""Celery beat that is safe to run twice: only the holder of a Redis lease sends scheduled tasks.

A second beat (a deploy that overlaps, an operator starting one by hand) waits as standby and logs that
once, instead of sending every job a second time; when the leader stops renewing its lease (it crashed,
it was stopped) the standby takes over within the lease time. Brokers other than Redis have no lease:
the beat runs as a plain PersistentScheduler (run one).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from typing import Any

from celery.beat import PersistentScheduler

log = logging.getLogger(__name__)

LEASE_KEY = "relieflink:beat:leader"
LEASE_SECONDS = 30
# renew only when the lease is still ours (compare-and-expire in one step)
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) end return 0"


class SingletonScheduler(PersistentScheduler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.node = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.leader: bool | None = None  # unknown until the first tick
        self.redis = None
        url = self.app.conf.broker_url or ""
        if url.startswith(("redis://", "rediss://")):
            import redis

            timeout = (self.app.conf.broker_transport_options or {}).get("socket_timeout", 3)
            self.redis = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        else:
            log.warning("beat: broker %s has no lease; run a single beat", url.split("://", 1)[0] or "none")

    def _holds_lease(self) -> bool:
        if self.redis is None:
            return True
        import redis

        try:
            if self.redis.set(LEASE_KEY, self.node, nx=True, ex=LEASE_SECONDS):
                return True
            return bool(self.redis.eval(_RENEW, 1, LEASE_KEY, self.node, LEASE_SECONDS))
        except redis.RedisError as exc:  # the broker is down: nothing could be sent anyway
            log.warning("beat: lease check failed (%s); not sending", type(exc).__name__)
            return False

    def tick(self, *args: Any, **kwargs: Any) -> float:
        leader = self._holds_lease()
        if leader != self.leader:
            if leader:
                log.info("beat %s: leader, sending scheduled tasks", self.node)
            else:
                log.info("beat %s: standby, another beat holds the lease", self.node)
            self.leader = leader
        if not leader:
            return LEASE_SECONDS / 3
        return min(super().tick(*args, **kwargs), LEASE_SECONDS / 3)  # renew well inside the lease

    def close(self) -> None:
        if self.redis is not None and self.leader:
            try:  # hand over at once on a clean stop
                self.redis.eval(
                    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0",
                    1,
                    LEASE_KEY,
                    self.node,
                )
            except Exception:
                log.debug("beat: could not release the lease", exc_info=True)
        super().close()
