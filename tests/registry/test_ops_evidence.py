"""The evidence chain's head is stored on the application: a chain cut short (rows deleted) or extended
no longer verifies as intact; the head moves with every record, under the application's row lock."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import select, text

from core.applications.models import Application
from core.authorizations.models import AuthorizationRequest, Evidence
from core.database import db
from tests.helpers import (
    bound_citizen,
    csrf_token,
    draft_body,
    id_number,
    make_officer,
    png_bytes,
    portal_login,
    submitted_application,
)

ZHANG = ("张建国", id_number(date(1962, 4, 18), 11))
SPOUSE = ("李秀英", id_number(date(1964, 2, 9), 12))
SON = ("张小军", id_number(date(1990, 7, 1), 13))


def _authorized_household(client, app) -> int:
    """An application of three adults, each authorized at the township window: a chain of 3 records."""
    import io

    headers = bound_citizen(client, "13900070001", *ZHANG)
    extra = [
        {"name": n, "id_number": i, "relation": r, "health": "healthy", "employment": "farming"}
        for (n, i), r in ((SPOUSE, "spouse"), (SON, "child"))
    ]
    app_id = submitted_application(client, headers, draft_body(*ZHANG, extra_members=extra))["id"]
    secret = make_officer(app, "ev_officer", "township_officer", "360124100")
    officer = app.test_client()
    assert portal_login(officer, "ev_officer", secret).status_code == 302
    page = officer.get(f"/portal/applications/{app_id}").get_data(as_text=True)
    with app.app_context():
        ids = db.session.scalars(
            select(AuthorizationRequest.id)
            .where(AuthorizationRequest.application_id == app_id)
            .order_by(AuthorizationRequest.id)
        ).all()
        db.session.remove()
    assert len(ids) == 3
    for request_id in ids:
        resp = officer.post(
            f"/portal/applications/{app_id}/authorizations/{request_id}/window",
            data={"csrf_token": csrf_token(page), "scan": (io.BytesIO(png_bytes()), "letter.png")},
            content_type="multipart/form-data",
        )
        assert resp.status_code == 302, resp.get_data(as_text=True)
    return app_id


def _verify(app, app_id):
    return app.test_cli_runner().invoke(args=["authorizations", "verify", str(app_id)])


def _sql(app, statement: str, **params) -> None:
    with app.app_context():
        db.session.execute(text(statement), params)
        db.session.commit()
        db.session.remove()


def test_the_head_follows_the_chain_and_an_intact_chain_verifies(client, app):
    app_id = _authorized_household(client, app)
    with app.app_context():
        application = db.session.get(Application, app_id)
        last = db.session.scalar(
            select(Evidence).where(Evidence.application_id == app_id).order_by(Evidence.sequence.desc())
        )
        assert (application.evidence_length, application.evidence_head) == (3, last.record_hash)
        assert last.sequence == 3
        db.session.remove()
    ok = _verify(app, app_id)
    assert ok.exit_code == 0 and "evidence intact" in ok.output and "证据链完整" in ok.output


def test_deleting_the_last_record_is_a_truncated_chain(client, app):
    app_id = _authorized_household(client, app)
    _sql(app, "DELETE FROM authorization_evidence WHERE application_id = :a AND sequence = 3", a=app_id)
    result = _verify(app, app_id)
    assert result.exit_code == 1
    assert "证据链被截断：应有 3 条记录，现有 2 条，缺少第 3 条" in result.output
    assert "chain truncated" in result.output and "missing sequence 3" in result.output


def test_deleting_every_record_is_a_truncated_chain(client, app):
    app_id = _authorized_household(client, app)
    _sql(app, "DELETE FROM authorization_evidence WHERE application_id = :a", a=app_id)
    result = _verify(app, app_id)
    assert result.exit_code == 1
    assert "应有 3 条记录，现有 0 条，缺少第 1-3 条" in result.output and "missing sequence 1-3" in result.output


def test_a_record_deleted_in_the_middle_is_named(client, app):
    app_id = _authorized_household(client, app)
    _sql(app, "DELETE FROM authorization_evidence WHERE application_id = :a AND sequence = 2", a=app_id)
    result = _verify(app, app_id)
    assert (
        result.exit_code == 1
        and "缺少第 2 条" in result.output
        and "link to the previous record broken" in (result.output)
    )


def test_a_rewound_head_reports_the_records_beyond_it(client, app):
    """A chain longer than its head (records added behind the application's back, or the head rewound)."""
    app_id = _authorized_household(client, app)
    _sql(app, "UPDATE applications SET evidence_length = 2 WHERE id = :a", a=app_id)
    result = _verify(app, app_id)
    assert result.exit_code == 1
    assert "证据链被追加：第 3 条记录" in result.output and "chain extended: sequence 3" in result.output
    assert "不符" in result.output  # record 2 is not the record the stored head hash names


def test_an_unknown_application_does_not_verify(app):
    result = _verify(app, 999999)
    assert result.exit_code == 1 and "application 999999 not found" in result.output


def test_the_migration_fills_the_head_from_existing_chains(client, app):
    """The data step of b1c2d3e4f5a6, run again on a head wiped to what the columns held before it."""
    import importlib.util
    from pathlib import Path

    app_id = _authorized_household(client, app)
    with app.app_context():
        expected = db.session.execute(
            select(Application.evidence_length, Application.evidence_head).where(Application.id == app_id)
        ).one()
        db.session.remove()
    _sql(app, "UPDATE applications SET evidence_length = 0, evidence_head = NULL")
    path = next(Path(__file__).parents[2].glob("migrations/versions/*_b1c2d3e4f5a6_evidence_chain_head.py"))
    spec = importlib.util.spec_from_file_location("evidence_head_migration", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    _sql(app, migration.FILL_HEADS)
    with app.app_context():
        row = db.session.execute(
            select(Application.evidence_length, Application.evidence_head).where(Application.id == app_id)
        ).one()
        db.session.remove()
    assert tuple(row) == tuple(expected) and row.evidence_length == 3
    assert _verify(app, app_id).exit_code == 0


@pytest.mark.postgres
def test_two_appends_at_once_never_read_the_same_head(client, app):
    """Two members' records written at the same moment on PostgreSQL: the second waits on the row lock and
    links to the first, the head counts both, and the chain verifies."""
    if not app.config["DATABASE_URL"].startswith("postgresql"):
        pytest.skip("row locks: PostgreSQL only")
    from core.authorizations.evidence import append_evidence

    headers = bound_citizen(client, "13900070002", *ZHANG)
    extra = [
        {"name": SPOUSE[0], "id_number": SPOUSE[1], "relation": "spouse", "health": "healthy", "employment": "farming"}
    ]
    app_id = submitted_application(client, headers, draft_body(*ZHANG, extra_members=extra))["id"]
    with app.app_context():
        request_ids = db.session.scalars(
            select(AuthorizationRequest.id).where(AuthorizationRequest.application_id == app_id)
        ).all()
        db.session.remove()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def append(request_id: int) -> None:
        try:
            with app.app_context():
                application = db.session.get(Application, app_id)
                request = db.session.get(AuthorizationRequest, request_id)
                barrier.wait(timeout=10)
                append_evidence(application, request, {"member": request_id})
                db.session.execute(text("SELECT pg_sleep(0.3)"))  # hold the lock: the other one must wait
                db.session.commit()
                db.session.remove()
        except BaseException as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=append, args=(r,)) for r in request_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    with app.app_context():
        rows = db.session.scalars(
            select(Evidence).where(Evidence.application_id == app_id).order_by(Evidence.sequence)
        ).all()
        head = db.session.get(Application, app_id)
        assert [r.sequence for r in rows] == [1, 2] and rows[1].previous_hash == rows[0].record_hash
        assert (head.evidence_length, head.evidence_head) == (2, rows[1].record_hash)
        db.session.remove()
    assert _verify(app, app_id).exit_code == 0


@pytest.mark.postgres
def test_migration_up_fills_heads_and_down_drops_them_on_postgresql():
    """f7a8b9c0d1e2 → b1c2d3e4f5a6 on a database holding chains (one of 2 records, one empty), and back."""
    from sqlalchemy import create_engine, inspect

    from tests.conftest import (
        drop_postgres_database,
        postgres_reachable,
        postgres_server_url,
        scratch_database_url,
        unavailable,
    )
    from tests.core.test_migrations import migrate_database

    server = postgres_server_url()
    if not postgres_reachable(server):
        unavailable(f"PostgreSQL not reachable at {server}")
    url = scratch_database_url(server, "relieflink_evidence_head")
    engine = create_engine(url)
    try:
        migrate_database(url, "upgrade", "f7a8b9c0d1e2")
        with engine.begin() as conn:
            for app_id in (1, 2):
                conn.execute(
                    text(
                        "INSERT INTO applications (id, reference, program, status, is_proxy, principal_confirmed,"
                        " created_at, updated_at, version) VALUES (:i, :r, 'dibao', 'submitted', false, true,"
                        " now(), now(), 1)"
                    ),
                    {"i": app_id, "r": f"REF{app_id}"},
                )
            conn.execute(
                text(
                    "INSERT INTO authorization_requests (id, application_id, member_name, member_id_number_enc,"
                    " member_id_number_bidx, member_id_number_l4, letter_version, status, created_at, version)"
                    " VALUES (1, 1, '张建国', 'enc', 'bidx', 'l4', 'v1', 'authorized', now(), 1)"
                )
            )
            for seq, record_hash in ((1, "a" * 64), (2, "b" * 64)):
                conn.execute(
                    text(
                        "INSERT INTO authorization_evidence (application_id, request_id, sequence, payload,"
                        " previous_hash, record_hash, seal, created_at) VALUES (1, 1, :s, '{}', :p, :h, 'x', now())"
                    ),
                    {"s": seq, "p": "0" * 64 if seq == 1 else "a" * 64, "h": record_hash},
                )
        migrate_database(url, "upgrade", "b1c2d3e4f5a6")
        with engine.connect() as conn:
            heads = conn.execute(text("SELECT id, evidence_length, evidence_head FROM applications ORDER BY id")).all()
        assert [tuple(h) for h in heads] == [(1, 2, "b" * 64), (2, 0, None)]
        migrate_database(url, "downgrade", "f7a8b9c0d1e2")
        engine.dispose()
        columns = {c["name"] for c in inspect(engine).get_columns("applications")}
        assert "evidence_length" not in columns and "evidence_head" not in columns
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM authorization_evidence")).scalar() == 2
    finally:
        engine.dispose()
        drop_postgres_database(url)
