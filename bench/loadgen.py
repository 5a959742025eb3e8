"""A small closed-loop HTTP load generator (threads, keep-alive), bounded in requests and time.

Only for loopback targets. Returns throughput and latency percentiles.
"""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Step = Callable[[http.client.HTTPConnection, int], bool]  # returns True when the (compound) request succeeded


@dataclass
class Result:
    name: str
    connections: int
    duration: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.count / self.duration if self.duration else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    def line(self) -> str:
        return (
            f"{self.name:34} {self.rps:9.1f} req/s  p50 {self.pct(50):7.1f} ms  p99 {self.pct(99):7.1f} ms  "
            f"mean {statistics.fmean(self.latencies) * 1000 if self.latencies else 0:7.1f} ms  "
            f"n={self.count} errors={self.errors}"
        )


def run(
    name: str,
    host: str,
    port: int,
    step: Step,
    *,
    connections: int = 32,
    seconds: float = 10.0,
    warmup: float = 2.0,
    max_requests: int = 200_000,
) -> Result:
    assert host in ("127.0.0.1", "localhost"), "load tests target loopback only"
    result = Result(name, connections, seconds)
    lock = threading.Lock()
    start_measure = time.monotonic() + warmup
    stop = start_measure + seconds
    counter = [0]

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        n = 0
        while True:
            now = time.monotonic()
            if now >= stop:
                break
            with lock:
                if counter[0] >= max_requests:
                    break
            t0 = time.perf_counter()
            try:
                ok = step(conn, index * 1_000_000 + n)
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
            elapsed = time.perf_counter() - t0
            n += 1
            if time.monotonic() < start_measure:
                continue
            with lock:
                counter[0] += 1
                if ok:
                    result.latencies.append(elapsed)
                else:
                    result.errors += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return result


def request(
    conn: http.client.HTTPConnection, method: str, path: str, *, headers: dict | None = None, body: dict | None = None
) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    hdrs = dict(headers or {})
    if data is not None:
        hdrs["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=hdrs)
    resp = conn.getresponse()
    return resp.status, resp.read()
