"""`flask --app wsgi backup create|restore` run as an operator would (docs/operations.md): real data made
through the API and the portal (a household, uploaded materials, window authorizations with sealed evidence),
a backup, a restore into a fresh database and storage directory, then counts, files and evidence compared;
a damaged backup and a non-empty target are refused. PostgreSQL (pg_dump/pg_restore) and SQLite."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, inspect, select, table
from sqlalchemy.pool import NullPool

from core.database import db
from tests.conftest import (
    ROOT,
    drop_postgres_database,
    postgres_reachable,
    postgres_server_url,
    scratch_database_url,
    unavailable,
)
from tests.helpers import (
    bound_citizen,
    csrf_token,
    draft_body,
    id_number,
    jpeg_bytes,
    make_officer,
    pdf_bytes,
    png_bytes,
    portal_login,
    upload,
)

ZHANG = ("张建国", id_number(date(1962, 4, 18), 11))
LI = ("李秀英", id_number(date(1965, 9, 2), 22))
WANG = ("王小红", id_number(date(1990, 1, 5), 33))
CHILD = ("张小宝", id_number(date(2015, 6, 1), 44))
FLASK = Path(sys.executable).parent / "flask"


def flask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """`flask --app wsgi …` in its own process, the way docs/operations.md writes it."""
    command = [str(FLASK)] if FLASK.exists() else [sys.executable, "-m", "flask"]
    return subprocess.run(
        [*command, "--app", "wsgi", *args],
        cwd=ROOT,
        env={**os.environ, "APP_ENV": "testing", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def counts(url: str) -> dict[str, int]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            names = [n for n in inspect(conn).get_table_names() if not n.startswith("sqlite_")]
            return {n: conn.execute(select(func.count()).select_from(table(n))).scalar_one() for n in names}
    finally:
        engine.dispose()


def files(storage: Path) -> dict[str, bytes]:
    return {str(p.relative_to(storage)): p.read_bytes() for p in sorted(storage.rglob("*")) if p.is_file()}


def populate(application) -> int:
    """A 低保 application of a four-person household with materials, submitted, every adult authorized
    at the window by a township officer (sealed evidence); returns its id."""
    client = application.test_client()
    headers = bound_citizen(client, "13900070000", *ZHANG)
    members = [
        {"name": LI[0], "id_number": LI[1], "relation": "spouse", "health": "healthy", "employment": "farming"},
        {"name": WANG[0], "id_number": WANG[1], "relation": "child", "health": "healthy", "employment": "employed"},
        {"name": CHILD[0], "id_number": CHILD[1], "relation": "grandchild", "health": "healthy"}
        | {"employment": "student"},
    ]
    created = client.post("/api/v1/applications", headers=headers, json=draft_body(*ZHANG, extra_members=members))
    assert created.status_code == 201, created.get_json()
    app_id = created.get_json()["id"]
    for material, data, name in (
        ("id_card", jpeg_bytes(), "id.jpg"),
        ("hukou", png_bytes(), "hukou.png"),
        ("hukou", pdf_bytes(), "hukou.pdf"),
    ):
        assert upload(client, headers, app_id, material, data, name).status_code == 201
    assert client.post(f"/api/v1/applications/{app_id}/submit", headers=headers).status_code == 200
    requests = client.get(f"/api/v1/applications/{app_id}/authorizations", headers=headers).get_json()
    assert len(requests) == 3  # the adults
    secret = make_officer(application, "backup_window", "township_officer", "360124100")
    officer = application.test_client()
    portal_login(officer, "backup_window", secret)
    page = officer.get(f"/portal/applications/{app_id}").get_data(as_text=True)
    for request in requests:
        resp = officer.post(
            f"/portal/applications/{app_id}/authorizations/{request['id']}/window",
            data={"csrf_token": csrf_token(page), "scan": (io.BytesIO(png_bytes()), "letter.png")},
            content_type="multipart/form-data",
        )
        assert resp.status_code == 302
    return app_id


def make_source(app, url: str, storage: Path):
    """An app of its own on ``url`` (migrated, demo regions) holding the data to back up."""
    from core.regions import services as region_services
    from tests.core.test_migrations import migrate_database
    from wsgi import activate, create_app

    migrate_database(url, "upgrade")
    source = create_app("testing", DATABASE_URL=url, STORAGE_DIR=str(storage))
    try:
        with source.app_context():
            region_services.load_demo_regions()
            db.session.commit()
        app_id = populate(source)
        with source.app_context():
            db.engine.dispose()
    finally:
        activate(app)  # the suite's app again (tasks, keys, storage)
    return app_id


def backed_up(app, tmp: Path, url: str) -> dict:
    storage = tmp / "storage"
    app_id = make_source(app, url, storage)
    env = {"DATABASE_URL": url, "STORAGE_DIR": str(storage)}
    out = tmp / "backup"
    done = flask(env, "backup", "create", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "backup written to" in done.stdout and "the keys are not in it" in done.stdout
    print(done.stdout)  # the figures of docs/operations.md ("Measured"): run with -s
    return {"url": url, "storage": storage, "app_id": app_id, "out": out, "env": env, "output": done.stdout}


def check_backup(source: dict) -> dict:
    manifest = json.loads((source["out"] / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["row_counts"] == counts(source["url"])
    assert manifest["row_counts"]["household_members"] >= 4 and manifest["row_counts"]["authorization_evidence"] == 3
    assert manifest["database"]["alembic_revision"]
    assert manifest["storage"]["files"] == len(files(source["storage"])) >= 6  # 3 materials + 3 scans
    assert manifest["keys"]["data_key_source"] == "derived from SECRET_KEY"
    for key in ("dev-only-secret-key-change-me", "dev-only-jwt-key-change-me-0123456789abcdef"):
        assert key not in (source["out"] / "manifest.json").read_text(encoding="utf-8")
    for name, meta in manifest["files"].items():
        assert (source["out"] / name).stat().st_size == meta["bytes"]
    return manifest


def check_restore(source: dict, target_url: str, target_storage: Path) -> None:
    env = {"DATABASE_URL": target_url, "STORAGE_DIR": str(target_storage)}
    done = flask(env, "backup", "restore", str(source["out"]))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "restore verified" in done.stdout and "1 evidence chains" in done.stdout, done.stdout
    assert "MISMATCH" not in done.stdout
    print(done.stdout)
    assert counts(target_url) == counts(source["url"])
    assert files(target_storage) == files(source["storage"])
    verify = flask(env, "authorizations", "verify", str(source["app_id"]))
    assert verify.returncode == 0 and "evidence intact" in verify.stdout, verify.stdout + verify.stderr

    # the same backup again into the now full target: refused, nothing touched
    again = flask(env, "backup", "restore", str(source["out"]))
    assert again.returncode != 0 and "target database is not empty" in again.stderr
    assert counts(target_url) == counts(source["url"])


def check_tampered(source: dict, tmp: Path, target_url: str, fresh_url: bool) -> None:
    for name in ("storage.tar", json.loads((source["out"] / "manifest.json").read_text())["database"]["file"]):
        copy = tmp / f"tampered-{name}"
        shutil.copytree(source["out"], copy)
        data = bytearray((copy / name).read_bytes())
        data[len(data) // 2] ^= 0x01  # one bit of one byte
        (copy / name).write_bytes(bytes(data))
        storage = tmp / f"storage-{name}"
        done = flask({"DATABASE_URL": target_url, "STORAGE_DIR": str(storage)}, "backup", "restore", str(copy))
        assert done.returncode != 0
        assert f"{name} does not match its sha256" in done.stderr, done.stderr
        assert not storage.exists() or not any(storage.iterdir())
        if fresh_url:
            assert counts(target_url) == {}  # nothing restored
    # the altered file with a manifest edited to match: the manifest's seal (the data key) gives it away
    copy = tmp / "tampered-manifest"
    shutil.copytree(tmp / "tampered-storage.tar", copy)
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"]["storage.tar"]["sha256"] = hashlib.sha256((copy / "storage.tar").read_bytes()).hexdigest()
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    done = flask({"DATABASE_URL": target_url, "STORAGE_DIR": str(tmp / "storage-m")}, "backup", "restore", str(copy))
    assert done.returncode != 0 and "manifest.json was altered" in done.stderr, done.stderr


def check_wrong_key(source: dict, target_url: str, tmp: Path) -> None:
    from cryptography.fernet import Fernet

    env = {"DATABASE_URL": target_url, "STORAGE_DIR": str(tmp / "wrong-key")}
    env["DATA_ENCRYPTION_KEY"] = Fernet.generate_key().decode()
    done = flask(env, "backup", "restore", str(source["out"]))
    assert done.returncode != 0 and "this backup's data key is derived from SECRET_KEY" in done.stderr, done.stderr
    # the right kind of key, but another one
    env = {"DATABASE_URL": target_url, "STORAGE_DIR": str(tmp / "wrong-key"), "SECRET_KEY": "another-" + "k" * 40}
    done = flask(env, "backup", "restore", str(source["out"]))
    assert done.returncode != 0 and "configured SECRET_KEY is not the one" in done.stderr, done.stderr
    assert not (tmp / "wrong-key").exists() or not any((tmp / "wrong-key").iterdir())


def test_sqlite_backup_and_restore(app, tmp_path):
    source = backed_up(app, tmp_path, f"sqlite:///{tmp_path / 'source.db'}")
    manifest = check_backup(source)
    assert manifest["database"] == {**manifest["database"], "dialect": "sqlite", "file": "database.sqlite"}
    assert not list(source["out"].glob("*-wal"))  # the copy is one self-contained file
    target = f"sqlite:///{tmp_path / 'restored.db'}"
    check_tampered(source, tmp_path, target, fresh_url=False)
    check_wrong_key(source, target, tmp_path)
    check_restore(source, target, tmp_path / "restored-storage")

    # a non-empty storage directory is refused too (fresh database)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "left-over.txt").write_text("x")
    done = flask(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}", "STORAGE_DIR": str(busy)},
        "backup",
        "restore",
        str(source["out"]),
    )
    assert done.returncode != 0 and "is not empty" in done.stderr

    # --force empties the target first, then verifies like any restore
    forced = flask(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}", "STORAGE_DIR": str(busy)},
        "backup",
        "restore",
        "--force",
        str(source["out"]),
    )
    assert forced.returncode == 0 and "restore verified" in forced.stdout, forced.stdout + forced.stderr
    assert files(busy) == files(source["storage"])


@pytest.mark.postgres
def test_postgres_backup_and_restore(app, tmp_path):
    server = postgres_server_url()
    if not postgres_reachable(server):
        unavailable(f"PostgreSQL not reachable at {server}")
    if not shutil.which("pg_dump") and not list(Path("/usr/lib/postgresql").glob("*/bin/pg_dump")):
        unavailable("pg_dump/pg_restore (postgresql-client) are not installed")
    source_url = scratch_database_url(server, "relieflink_backup_src")
    target_url = scratch_database_url(server, "relieflink_backup_dst")
    try:
        source = backed_up(app, tmp_path, source_url)
        manifest = check_backup(source)
        assert manifest["database"]["dialect"] == "postgresql" and manifest["database"]["file"] == "database.dump"
        assert (source["out"] / "database.dump").read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
        check_tampered(source, tmp_path, target_url, fresh_url=True)
        check_wrong_key(source, target_url, tmp_path)
        check_restore(source, target_url, tmp_path / "restored-storage")

        # the restored database is a working one: the members' ID numbers decrypt with the kept key
        from core.households.models import HouseholdMember
        from wsgi import activate, create_app

        restored = create_app("testing", DATABASE_URL=target_url, STORAGE_DIR=str(tmp_path / "restored-storage"))
        try:
            with restored.app_context():
                numbers = {m.name: m.id_number for m in db.session.scalars(select(HouseholdMember))}
                assert numbers == dict([ZHANG, LI, WANG, CHILD])
                db.session.remove()
                db.engine.dispose()
        finally:
            activate(app)
    finally:
        drop_postgres_database(source_url)
        drop_postgres_database(target_url)
