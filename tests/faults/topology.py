"""The production topology on one machine, for the fault suite: nginx (deploy/nginx/relieflink.conf) →
gunicorn (gunicorn.conf.py) → PostgreSQL; a Celery worker and beat on a private Redis (which the tests
stop and start); a loopback SMS relay that counts what it is asked to send. `APP_ENV=production` with
generated secrets. Every process is started with the commands the README documents."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from cryptography.fernet import Fernet

from tests.conftest import ROOT, unavailable

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception:  # noqa: BLE001 - not up yet
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class SmsRelay:
    """A loopback SMS relay with the contract of core.notifications.channels.HttpSmsGateway: it sends a
    request id once, answers look-ups, and can be told to hold the answer for some phones (a slow network)."""

    def __init__(self) -> None:
        self.received: list[dict] = []  # every POST, duplicates included
        self.sent: dict[str, str] = {}  # request id → message id
        self.hold: dict[str, float] = {}  # phone → seconds to wait before answering
        self.lock = threading.Lock()
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with relay.lock:
                    relay.received.append(body)
                    rid = body.get("request_id") or f"none-{len(relay.received)}"
                    relay.sent.setdefault(rid, f"sms-{len(relay.sent) + 1}")
                    answer = relay.sent[rid]
                time.sleep(relay.hold.get(body.get("phone"), 0))
                with contextlib.suppress(BrokenPipeError):  # the worker was killed while we held the answer
                    self._answer(200, {"ok": True, "message_id": answer})

            def do_GET(self):
                rid = self.path.rsplit("/", 1)[-1]
                with relay.lock:
                    found = relay.sent.get(rid)
                self._answer(200, {"message_id": found}) if found else self._answer(404, {"error": "unknown"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def codes_for(self, phone: str) -> list[str]:
        with self.lock:
            return [r["params"]["code"] for r in self.received if r["phone"] == phone and "code" in r["params"]]

    def count(self, request_id: str) -> int:
        with self.lock:
            return sum(1 for r in self.received if r.get("request_id") == request_id)

    def close(self) -> None:
        self.server.shutdown()


class Topology:
    def __init__(self, tmp: Path, database_url: str) -> None:
        for tool in ("nginx", "redis-server"):
            if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
                unavailable(f"{tool} is not installed (scripts/ensure-system.sh)")
        self.tmp = tmp
        self.database_url = database_url
        self.relay = SmsRelay()
        self.redis_port, self.web_port, self.nginx_port = free_port(), free_port(), free_port()
        self.procs: dict[str, subprocess.Popen] = {}
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("RELIEFLINK_TEST", "DATABASE_URL"))},
            "APP_ENV": "production",
            "SECRET_KEY": os.urandom(24).hex(),
            "JWT_SECRET_KEY": os.urandom(24).hex(),
            "DATA_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{self.redis_port}/1",
            "SMS_GATEWAY_URL": self.relay.url,
            "SMS_GATEWAY_API_KEY": "fault-suite",
            "SMS_SEND_IP_LIMIT": "100000 per hour",
            "STORAGE_DIR": str(tmp / "storage"),
            "PROXY_FIX_X_FOR": "1",
            "TASK_RELAY_AFTER_SECONDS": "2",
            "NOTIFY_RECONCILE_AFTER_SECONDS": "4",
            "FACE_ENGINE_CHECK_ON_WORKER_START": "false",
            "DB_LOCK_TIMEOUT_MS": "1000",
            "WEB_BIND": f"127.0.0.1:{self.web_port}",
            "WEB_WORKERS": "2",
            "WEB_LOG_LEVEL": "warning",
        }

    # --- processes ------------------------------------------------------------------------------------
    def _start(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = (self.tmp / f"{name}.log").open("a")
        proc = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def migrate(self) -> None:
        done = subprocess.run(
            [str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]

    def start_redis(self) -> None:
        self._start(
            "redis",
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port), "--save", "", "--appendonly", "no",
             "--dir", str(self.tmp)],
        )  # fmt: skip
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.redis_port, socket_connect_timeout=1)
        wait_for(client.ping, 20, "redis")

    def stop_redis(self) -> None:
        self.kill("redis", signal.SIGKILL)

    def start_web(self) -> None:
        self._start("gunicorn", [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:create_app()"])

    def start_worker(self) -> None:
        self._start(
            "worker",
            [str(BIN / "celery"), "-A", "workers.celery_app", "worker", "-Q", "default,face,notify,bulk",
             "--pool=solo", "--without-gossip", "--without-mingle", "-l", "INFO"],
        )  # fmt: skip
        wait_for(lambda: "ready." in self.log("worker"), 90, "the worker")

    def start_beat(self) -> None:
        self._start(
            "beat",
            [str(BIN / "celery"), "-A", "workers.celery_app", "beat", "-s", str(self.tmp / "beat-schedule"),
             "-l", "INFO"],
        )  # fmt: skip

    def start_nginx(self) -> None:
        site = (ROOT / "deploy" / "nginx" / "relieflink.conf").read_text()
        site = site.replace("server 127.0.0.1:8000", f"server 127.0.0.1:{self.web_port}")
        site = site.replace("listen 80;", f"listen 127.0.0.1:{self.nginx_port};")
        (self.tmp / "site.conf").write_text(site)
        for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.tmp / "nginx" / d).mkdir(parents=True, exist_ok=True)
        t = self.tmp / "nginx"
        (self.tmp / "nginx.conf").write_text(
            f"""user root;
worker_processes 1;
error_log {self.tmp}/nginx-error.log warn;
pid {self.tmp}/nginx.pid;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {t}/body; proxy_temp_path {t}/proxy; fastcgi_temp_path {t}/fastcgi;
    uwsgi_temp_path {t}/uwsgi; scgi_temp_path {t}/scgi;
    include {self.tmp}/site.conf;
}}
"""
        )
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self._start("nginx", [nginx, "-p", str(self.tmp), "-c", str(self.tmp / "nginx.conf"), "-g", "daemon off;"])

    def kill(self, name: str, sig: int = signal.SIGTERM) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None and proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def close(self) -> None:
        for name in list(self.procs):
            self.kill(name, signal.SIGKILL if name in ("worker", "beat") else signal.SIGTERM)
        self.relay.close()

    # --- HTTP through nginx ---------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.nginx_port}{path}"

    def wait_ready(self) -> None:
        """Until nginx answers and every gunicorn worker has served (preloaded: they fork ready)."""
        wait_for(lambda: requests.get(self.url("/livez"), timeout=2).status_code == 200, 90, "nginx → gunicorn")
        wait_for(lambda: requests.get(self.url("/readyz"), timeout=5).json()["status"] == "ok", 60, "ready")

    def login(self, phone: str) -> dict[str, str]:
        sent = requests.post(self.url("/api/v1/auth/sms/send"), json={"phone": phone}, timeout=10)
        assert sent.status_code == 200, sent.text
        code = wait_for(lambda: self.relay.codes_for(phone), 30, "the log-in code")[-1]
        verified = requests.post(self.url("/api/v1/auth/sms/verify"), json={"phone": phone, "code": code}, timeout=10)
        assert verified.status_code == 200, verified.text
        return {"Authorization": f"Bearer {verified.json()['access_token']}"}


class PrivatePostgres:
    """A PostgreSQL instance of the fault suite's own (initdb in a temporary directory, a free loopback port,
    run as the `postgres` system user): the tests restart it; the machine's shared server is never touched."""

    def __init__(self) -> None:
        bindir = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        if not bindir or not shutil.which("runuser"):
            unavailable("PostgreSQL server binaries (/usr/lib/postgresql/*/bin) or runuser are missing")
        self.bin = bindir[-1]
        self.port = free_port()
        # under /tmp itself: the postgres user cannot reach into pytest's root-only temporary directories
        self.root = Path(tempfile.mkdtemp(prefix="rl-faults-pg-"))
        self.data = self.root / "data"
        self.data.mkdir()
        self.log = self.root / "postgres.log"
        self.log.touch()
        for path in (self.root, self.data, self.log):
            shutil.chown(path, "postgres", "postgres")
        self._as_postgres(self.bin / "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                          "--locale=C.UTF-8")  # fmt: skip
        self.start()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/relieflink"
        self._as_postgres(
            self.bin / "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "relieflink"
        )

    def _as_postgres(self, *argv) -> None:
        done = subprocess.run(
            ["runuser", "-u", "postgres", "--", *map(str, argv)], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def _ctl(self, *args: str) -> None:
        self._as_postgres(
            self.bin / "pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60",
            "-o", f"-p {self.port} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off", *args,
        )  # fmt: skip

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast")

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")

    def close(self) -> None:
        with contextlib.suppress(AssertionError):
            self._ctl("stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)
