"""gunicorn settings for production (`gunicorn -c gunicorn.conf.py 'wsgi:create_app()'`), behind nginx
(deploy/nginx/relieflink.conf), which buffers slow clients and request bodies so a worker thread is
never held by a slow phone network. Every value can be set from the environment."""

import os
from typing import Any

bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
# threads: a request waiting on the database or a gateway does not stop the others in its process
worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
# the app is built once in the master, then forked: workers answer at once instead of each importing for
# seconds (and a broken configuration stops the start instead of looping workers)
preload_app = True
# a request past this is a bug or a dependency hang: the database statement_timeout (30 s) answers 503 first
timeout = int(os.environ.get("WEB_TIMEOUT", "40"))
graceful_timeout = int(os.environ.get("WEB_GRACEFUL_TIMEOUT", "20"))  # SIGTERM / HUP: finish in-flight requests
keepalive = 5
max_requests = 5000  # recycle workers now and then (memory), staggered
max_requests_jitter = 500
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("WEB_LOG_LEVEL", "info")
# nginx on the same host sets X-Forwarded-For / -Proto (PROXY_FIX_X_FOR=1 makes the app trust one hop)
forwarded_allow_ips = os.environ.get("WEB_FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_fork(server: Any, worker: Any) -> None:
    """Connections made in the master (preload) are not shared with the forked workers."""
    from core.database import db

    app = getattr(server.app, "callable", None)
    if app is not None:
        with app.app_context():
            db.engine.dispose(close=False)
