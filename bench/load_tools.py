"""gunicorn servers that are really ready, CPU time of their workers from /proc, and the native load
generators (`wrk`, `hey`; Debian packages, see scripts/ensure-system.sh) with their output parsed."""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / TICK


def start_gunicorn(target: str, port: int, env: dict, *, workers: int = 2, probe: str = "/livez") -> subprocess.Popen:
    """Start gunicorn and return once every worker has answered ``probe`` with HTTP 200 (each worker's CPU
    time moved while probes on fresh connections were answered), not when the port accepts TCP."""
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"),
         # the app's production file (its post_fork hook re-opens database connections after the fork);
         # the baselines have no database handles to re-open. Same settings for all, from the command line
         "-c", "gunicorn.conf.py" if target.startswith("wsgi:") else "/dev/null",
         "-w", str(workers), "-k", "gthread", "--threads", "4", "--preload", "--keep-alive", "5",
         "--max-requests", "0", "--access-logfile", "/dev/null", "--error-logfile", "-",
         "-b", f"127.0.0.1:{port}", "--log-level", "warning", target],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 90
    served: set[int] = set()
    while time.monotonic() < deadline:
        pids = worker_pids(proc.pid)
        if len(pids) == workers:
            before = {pid: cpu_seconds([pid]) for pid in pids}
            ok = 0
            for _ in range(20):
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    conn.request("GET", probe)
                    ok += conn.getresponse().status == 200
                    conn.close()
                except OSError:
                    pass
            if ok == 20:
                served |= {pid for pid in pids if cpu_seconds([pid]) > before[pid]}
                if served >= set(pids):
                    return proc
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"gunicorn {target} not ready: {proc.stderr.read().decode()[-2000:]}")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


@dataclass
class Run:
    requests: int
    rps: float
    p50: float  # ms
    p99: float
    errors: int
    cpu_ms_per_request: float = 0.0


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    url: str, *, tokens: list[str] | None, seconds: float, connections: int, master: int, cookie: str | None = None
) -> Run:
    """Closed loop: ``connections`` keep-alive connections on 2 threads, rotating over ``tokens`` (bearer), or
    with one ``cookie`` (the portal)."""
    script = "local tokens = {" + ",".join(f'"{t}"' for t in tokens or []) + "}\nlocal i = 0\n"
    if cookie:
        script += f"wrk.headers['Cookie'] = '{cookie}'\n"
    script += (
        "request = function()\n  i = i + 1\n  if #tokens == 0 then return wrk.format('GET') end\n"
        "  return wrk.format('GET', nil, {Authorization = 'Bearer ' .. tokens[i % #tokens + 1]})\nend\n"
        "done = function(summary, latency, requests)\n"
        "  io.write(string.format('REQ %d ERR %d\\n', summary.requests,"
        " summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write"
        " + summary.errors.timeout))\nend\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    pids = worker_pids(master)
    cpu0 = cpu_seconds(pids)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds:.0f}s", "--latency", "-s", f.name, url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    cpu = cpu_seconds(pids) - cpu0
    os.unlink(f.name)
    requests, errors = map(int, re.search(r"REQ (\d+) ERR (\d+)", out).groups())
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors += int(non2xx.group(1)) if non2xx else 0
    return Run(
        requests,
        float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        _ms(re.search(r"\s50%\s+(\S+)", out).group(1)),
        _ms(re.search(r"\s99%\s+(\S+)", out).group(1)),
        errors,
        cpu * 1000 / requests if requests else 0.0,
    )


def hey(url: str, *, token: str, rate: int, seconds: float) -> Run:
    """A fixed rate: ``rate`` req/s over rate/4 workers (each rate-limited to 4 req/s, so a worker waits for
    a slow answer for at most 250 ms before the schedule slips)."""
    workers = max(1, rate // 4)
    out = subprocess.run(
        ["hey", "-z", f"{seconds:.0f}s", "-c", str(workers), "-q", f"{rate / workers:.3f}",
         "-H", f"Authorization: Bearer {token}", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    p50 = re.search(r"50%+ in ([\d.]+) secs", out)
    p99 = re.search(r"99%+ in ([\d.]+) secs", out)
    codes = dict((int(c), int(n)) for c, n in re.findall(r"\[(\d+)\]\s+(\d+) responses", out))
    total = sum(codes.values())
    return Run(
        total,
        float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        float(p50.group(1)) * 1000 if p50 else float("nan"),
        float(p99.group(1)) * 1000 if p99 else float("nan"),
        total - codes.get(200, 0),
    )
