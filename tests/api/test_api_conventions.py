"""API conventions: OpenAPI contract, error shape, body limit, idempotency keys, health."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from core.casework.models import Case
from core.database import db
from core.idempotency import services as idem
from tests.helpers import citizen_headers


def test_openapi_document_is_complete(client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for path in (
        "/api/v1/regions",
        "/api/v1/regions/{code}",
        "/api/v1/auth/sms/send",
        "/api/v1/auth/sms/verify",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/auth/wechat",
        "/api/v1/me",
        "/api/v1/me/real-name",
        "/healthz",
        "/livez",
        "/readyz",
    ):
        assert path in paths, path
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert paths["/api/v1/regions"]["get"]["security"] == []  # public
    assert "security" not in paths["/api/v1/me"]["get"]  # inherits the global bearer requirement
    error_schema = spec["components"]["schemas"]["ApiError"]["properties"]
    assert set(error_schema) == {"code", "status", "message", "errors"}
    post = paths["/api/v1/demo/cases"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in post["parameters"])
    assert "422" in post["responses"] and "409" in post["responses"]
    assert "X-Pagination" in str(paths["/api/v1/demo/cases"]["get"]["responses"]["200"])


def test_swagger_ui_served_locally(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/docs/static/swagger-ui-bundle.js" in html
    assert client.get("/api/docs/static/swagger-ui-bundle.js").status_code == 200


def test_unknown_api_path_is_json_404(client):
    resp = client.get("/api/v1/nothing-here")
    assert resp.status_code == 404
    assert resp.get_json() == {"code": 404, "status": "not_found", "message": "未找到该资源"}


def test_wrong_method_is_405(client):
    resp = client.delete("/api/v1/regions")
    assert resp.status_code == 405 and resp.get_json()["message"] == "不支持该请求方法"


def test_giant_body_is_413(client, app):
    headers = citizen_headers(client, "13900002000")
    app.config["MAX_CONTENT_LENGTH"] = 1024
    try:
        resp = client.post(
            "/api/v1/demo/cases", headers=headers, json={"township_code": "360124100", "title": "x" * 5000}
        )
    finally:
        app.config["MAX_CONTENT_LENGTH"] = 16 * 1024 * 1024
    assert resp.status_code == 413
    assert resp.get_json()["message"] == "提交的内容过大"


def test_unexpected_error_is_500_without_internals(client, monkeypatch, caplog):
    from core.regions import services as regions

    def broken(parent_code):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(regions, "list_children", broken)
    resp = client.get("/api/v1/regions?parent=36")
    assert resp.status_code == 500
    assert resp.get_json() == {"code": 500, "status": "internal_error", "message": "系统繁忙，请稍后再试"}
    assert "secret internal detail" not in resp.get_data(as_text=True)
    assert any("unhandled error" in r.message for r in caplog.records)  # logged for operators


def test_health(client):
    for path in ("/healthz", "/readyz"):
        resp = client.get(path)
        assert resp.status_code == 200
        body = {"status": "ok", "database": "ok", "broker": "eager (in-process)", "pending_tasks": 0}
        assert resp.get_json() == body
    assert client.get("/livez").get_json() == {"status": "ok"}


def test_readiness_survives_a_broker_outage_and_reports_the_backlog(app):
    """A broker that is down: ready (200, degraded) with the waiting tasks counted; a database that is
    down: 503 (the load balancer stops sending, the orchestrator does not restart a healthy process)."""
    from core.database import TaskOutbox
    from wsgi import create_app

    down = create_app(
        "testing", DATABASE_URL=app.config["DATABASE_URL"], CELERY_BROKER_URL="redis://127.0.0.1:1/0",
        REDIS_SOCKET_TIMEOUT_SECONDS=0.5,
    )  # fmt: skip
    try:
        with down.app_context():
            db.session.add(TaskOutbox(name="notify.deliver", args=[1], queue="notify", status="pending"))
            db.session.commit()
            db.session.remove()
        resp = down.test_client().get("/readyz")
        assert resp.status_code == 200
        assert resp.get_json() == {"status": "degraded", "database": "ok", "broker": "unreachable", "pending_tasks": 1}
        assert down.test_client().get("/livez").status_code == 200
        gone = create_app(
            "testing", DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none", DB_CONNECT_TIMEOUT_SECONDS=1
        )
        resp = gone.test_client().get("/readyz")
        assert resp.status_code == 503 and resp.get_json()["database"] == "unreachable"
        assert gone.test_client().get("/livez").status_code == 200
    finally:
        from core.database import set_task_dispatcher

        set_task_dispatcher(app.extensions["task_dispatcher"])
        app.extensions["celery"].set_default()


# --- idempotency -----------------------------------------------------------------------------


def _count_cases(app) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(Case))
        db.session.remove()
        return n


def test_same_key_same_body_replays(client, app):
    headers = {**citizen_headers(client, "13900002002"), "Idempotency-Key": str(uuid.uuid4())}
    body = {"township_code": "360124100", "title": "重试"}
    first = client.post("/api/v1/demo/cases", headers=headers, json=body)
    second = client.post("/api/v1/demo/cases", headers=headers, json=body)
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert second.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert _count_cases(app) == 1


def test_same_key_other_body_is_422(client, app):
    headers = {**citizen_headers(client, "13900002003"), "Idempotency-Key": str(uuid.uuid4())}
    client.post("/api/v1/demo/cases", headers=headers, json={"township_code": "360124100", "title": "一"})
    resp = client.post("/api/v1/demo/cases", headers=headers, json={"township_code": "360124100", "title": "二"})
    assert resp.status_code == 422
    assert resp.get_json()["status"] == "idempotency_key_reused"
    assert _count_cases(app) == 1


def test_keys_are_per_user(client, app):
    key = str(uuid.uuid4())
    body = {"township_code": "360124100", "title": "同一个键"}
    a = client.post(
        "/api/v1/demo/cases", headers={**citizen_headers(client, "13900002004"), "Idempotency-Key": key}, json=body
    )
    b = client.post(
        "/api/v1/demo/cases", headers={**citizen_headers(client, "13900002005"), "Idempotency-Key": key}, json=body
    )
    assert a.status_code == b.status_code == 201
    assert a.get_json()["id"] != b.get_json()["id"]
    assert "Idempotent-Replayed" not in b.headers


def test_concurrent_duplicate_is_409(client, app):
    headers = citizen_headers(client, "13900002006")
    key = str(uuid.uuid4())
    body = b'{"township_code": "360124100", "title": "\\u5e76\\u53d1"}'
    with app.app_context():
        from core.accounts.models import User

        user = db.session.scalar(select(User).where(User.phone == "13900002006"))
        # the first request is still running: its marker is committed, not completed
        idem.claim(
            f"citizen:{user.id}",
            key,
            "demo_cases.DemoCaseList",
            idem.fingerprint("POST", "/api/v1/demo/cases", body),
            ttl_hours=24,
            stale_seconds=120,
        )
        db.session.remove()
    resp = client.post(
        "/api/v1/demo/cases", headers={**headers, "Idempotency-Key": key, "Content-Type": "application/json"}, data=body
    )
    assert resp.status_code == 409
    assert resp.get_json()["status"] == "idempotency_in_progress"
    assert _count_cases(app) == 0


def test_failed_request_releases_the_key(client, app):
    headers = {**citizen_headers(client, "13900002007"), "Idempotency-Key": str(uuid.uuid4())}
    bad = client.post("/api/v1/demo/cases", headers=headers, json={"township_code": "999999999", "title": "x"})
    assert bad.status_code == 422
    again = client.post("/api/v1/demo/cases", headers=headers, json={"township_code": "999999999", "title": "x"})
    assert again.status_code == 422 and "Idempotent-Replayed" not in again.headers


def test_bad_key_format(client):
    headers = {**citizen_headers(client, "13900002008"), "Idempotency-Key": "short"}
    resp = client.post("/api/v1/demo/cases", headers=headers, json={"township_code": "360124100", "title": "x"})
    assert resp.status_code == 422
    assert "Idempotency-Key" in resp.get_json()["errors"]


def test_a_connection_lost_during_commit_is_a_503_and_keeps_the_idempotency_marker(client, app, monkeypatch):
    """The database restarts while the request commits (CI saw a 500 here): the outcome is unknown, so the
    answer is a retryable 503; the Idempotency-Key marker stays, so a retry is told "in progress" (or, had
    the commit landed, gets the stored answer) instead of running the write a second time."""
    from sqlalchemy.exc import OperationalError

    import web.hooks

    headers = {**citizen_headers(client, "13900002007"), "Idempotency-Key": str(uuid.uuid4())}
    body = {"township_code": "360124100", "title": "提交时断开"}
    real_commit = web.hooks.commit

    def lost(*args, **kwargs):
        raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(web.hooks, "commit", lost)
    resp = client.post("/api/v1/demo/cases", headers=headers, json=body)
    monkeypatch.setattr(web.hooks, "commit", real_commit)
    assert resp.status_code == 503, resp.get_data(as_text=True)
    assert resp.get_json()["status"] == "service_unavailable" and resp.headers["Retry-After"] == "5"
    assert _count_cases(app) == 0  # rolled back
    retry = client.post("/api/v1/demo/cases", headers=headers, json=body)
    assert retry.status_code == 409 and retry.get_json()["status"] == "idempotency_in_progress"
    assert _count_cases(app) == 0
    # the portal answers its own 503 page for the same failure
    monkeypatch.setattr(web.hooks, "commit", lost)
    page = client.get("/portal/login")
    assert page.status_code == 503 and "text/html" in page.headers["Content-Type"]
    assert page.headers["Retry-After"] == "5"


def test_a_constraint_failing_at_commit_is_a_409_not_a_500(client, app, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    import web.hooks

    headers = citizen_headers(client, "13900002008")

    def conflict(*args, **kwargs):
        raise IntegrityError("COMMIT", {}, Exception("duplicate key value violates unique constraint"))

    monkeypatch.setattr(web.hooks, "commit", conflict)
    resp = client.post("/api/v1/demo/cases", headers=headers, json={"township_code": "360124100", "title": "冲突"})
    assert resp.status_code == 409 and resp.get_json()["status"] == "conflict"
    assert _count_cases(app) == 0


def test_a_connection_lost_during_commit_on_a_rate_limited_route_says_retry_in_5_seconds(client, app, monkeypatch):
    """Flask-Limiter writes its window's reset (hours) as Retry-After on every answer of a limited route;
    the commit's 503 must say what its message says (5 s), like every other outage answer."""
    from datetime import date

    from sqlalchemy.exc import OperationalError

    import web.hooks
    from tests.helpers import bound_citizen, id_number

    headers = {
        **bound_citizen(client, "13900002009", "孙某", id_number(date(1990, 2, 2), 43)),
        "Idempotency-Key": str(uuid.uuid4()),
    }

    def lost(*args, **kwargs):
        raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(web.hooks, "commit", lost)
    resp = client.post("/api/v1/reports", headers=headers, json={"category": "other", "township_code": "360124100"})
    assert resp.status_code == 503, resp.get_data(as_text=True)
    assert resp.headers["Retry-After"] == "5"


def test_a_portal_session_that_cannot_be_saved_in_an_outage_is_a_503_not_a_500(client, app, monkeypatch):
    """The portal's session row is written after the request's commit; the database gone by then is an
    outage like any other: the retryable 503 page, not an exception (a 500)."""
    from sqlalchemy.exc import OperationalError

    import portal.sessions

    def lost(*args, **kwargs):
        raise OperationalError("INSERT INTO portal_sessions", {}, Exception("server closed the connection"))

    monkeypatch.setattr(portal.sessions.portal_sessions, "create", lost)
    page = client.get("/portal/login")  # the form's CSRF token is kept in a new session
    assert page.status_code == 503 and "text/html" in page.headers["Content-Type"]
    assert page.headers["Retry-After"] == "5"
    assert "Set-Cookie" not in page.headers


def test_a_commit_that_landed_before_the_connection_was_lost_keeps_its_uploaded_file(client, app, monkeypatch):
    """COMMIT reached the database but its answer was lost: the outcome is unknown, and the retry replays
    the stored 201. The uploaded file must still be there for the row that did commit — the undo of a
    rollback (delete the file written in advance) is not for an unknown outcome; an unreferenced file is
    the orphan sweep's."""
    import io

    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    import web.hooks
    from core.applications.models import Attachment
    from core.files import storage
    from tests.helpers import bound_citizen, draft_body, id_number, jpeg_bytes

    number = id_number(seq=47)
    headers = bound_citizen(client, "13900002010", "李四", number)
    app_id = client.post("/api/v1/applications", headers=headers, json=draft_body("李四", number)).get_json()["id"]
    real_commit = web.hooks.commit

    def landed_then_lost(conn):
        conn.connection.dbapi_connection.commit()  # the database has it
        raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    def commit_losing_the_answer():
        with app.app_context():
            engine = db.engine
        event.listen(engine, "commit", landed_then_lost)
        try:
            real_commit()
        finally:
            event.remove(engine, "commit", landed_then_lost)

    key_headers = {**headers, "Idempotency-Key": str(uuid.uuid4())}

    def send():
        return client.post(
            f"/api/v1/applications/{app_id}/attachments",
            headers=key_headers,
            data={"material": "id_card", "file": (io.BytesIO(jpeg_bytes()), "photo.jpg")},
            content_type="multipart/form-data",
        )

    monkeypatch.setattr(web.hooks, "commit", commit_losing_the_answer)
    resp = send()
    monkeypatch.setattr(web.hooks, "commit", real_commit)
    assert resp.status_code == 503, resp.get_data(as_text=True)
    with app.app_context():
        attachment = db.session.scalar(select(Attachment).where(Attachment.application_id == app_id))
        assert attachment is not None  # it did commit
        assert (storage.root() / attachment.storage_key).exists()
        attachment_id = attachment.id
        db.session.remove()
    retry = send()
    assert retry.status_code == 201 and retry.headers.get("Idempotent-Replayed") == "true"
    assert retry.get_json()["id"] == attachment_id
