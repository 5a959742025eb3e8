"""Backups and restores (docs/operations.md): the database, the storage directory and a manifest.

A backup is a directory:

- ``database.dump`` — ``pg_dump --format=custom`` (PostgreSQL) or ``database.sqlite`` (SQLite, the online
  backup API): one consistent snapshot;
- ``storage.tar`` — every file under ``STORAGE_DIR`` (uploads, signatures, scans), archived *after* the
  database snapshot, so every file a row of the snapshot refers to is in it (files are written after commit);
- ``manifest.json`` — when, which migration, which app version, the row count of every table in the snapshot,
  the sha256 of every file, and fingerprints (hashes, never the keys) of the keys the data need; sealed
  (an HMAC with the data key) and written last, so a directory without it is an unfinished backup.

The keys are never in a backup: without the same ``DATA_ENCRYPTION_KEY`` (or ``SECRET_KEY`` when it is unset)
the ID numbers cannot be read and the evidence seals do not verify. Keep them separately.

Restore goes into an empty database and an empty storage directory (``force`` empties them first), checks
every sha256 before touching anything, and then verifies row counts, the migration revision, the stored
files and every application's evidence chain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, inspect, select, table, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import NullPool, StaticPool

from core import clock, crypto
from core.authorizations import services as authorizations
from core.database import db
from core.db_roles import grant_app_role

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PG_DUMP = "database.dump"
SQLITE_COPY = "database.sqlite"
STORAGE_TAR = "storage.tar"
PROGRESS_EVERY_FILES = 1000
_CHUNK = 1024 * 1024
_ROOT = Path(__file__).resolve().parent.parent

Progress = Callable[[str], None]


class BackupError(RuntimeError):
    """A backup or restore that cannot go on; the message says why (never a secret)."""


@dataclass
class RestoreReport:
    manifest: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    tables: int = 0
    rows: int = 0
    files: int = 0
    chains_verified: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


def _quiet(_: str) -> None:
    return None


# --- keys ------------------------------------------------------------------------------------------------


def key_fingerprint(value: str | None) -> str | None:
    """A short one-way fingerprint of a key: tells two keys apart, reveals nothing of either."""
    if not value:
        return None
    return hashlib.sha256(b"relieflink-key-fingerprint:" + value.encode()).hexdigest()[:16]


def key_fingerprints(config: Any) -> dict[str, Any]:
    """The keys the data need, by fingerprint. ``DATA_ENCRYPTION_KEY`` unset means the data key is derived
    from ``SECRET_KEY`` (development): then SECRET_KEY is what must be kept."""
    data_key = config.get("DATA_ENCRYPTION_KEY")
    return {
        "DATA_ENCRYPTION_KEY": key_fingerprint(data_key),
        "data_key_source": "DATA_ENCRYPTION_KEY" if data_key else "derived from SECRET_KEY",
        "SECRET_KEY": key_fingerprint(config.get("SECRET_KEY")),
        "JWT_SECRET_KEY": key_fingerprint(config.get("JWT_SECRET_KEY")),
    }


def _check_keys(manifest: dict[str, Any], config: Any, report: RestoreReport) -> None:
    wanted = manifest.get("keys", {})
    have = key_fingerprints(config)
    data_source = wanted.get("data_key_source")
    data_name = "DATA_ENCRYPTION_KEY" if data_source == "DATA_ENCRYPTION_KEY" else "SECRET_KEY"
    if data_source != have["data_key_source"]:
        raise BackupError(
            f"refused: this backup's data key is {data_source} (fingerprint {wanted.get(data_name)}), the "
            f"configuration's is {have['data_key_source']}; without the same key the ID numbers cannot be read "
            "and the evidence seals do not verify. Set the key kept with the backup and run again."
        )
    if wanted.get(data_name) != have[data_name]:
        raise BackupError(
            f"refused: the configured {data_name} is not the one this backup was made with "
            f"(fingerprint {wanted.get(data_name)}, configured {have[data_name]}); without it the ID numbers "
            "cannot be read and the evidence seals do not verify. Set the key kept with the backup and run again."
        )
    for name in ("SECRET_KEY", "JWT_SECRET_KEY"):
        if name != data_name and wanted.get(name) != have[name]:
            report.warnings.append(f"{name} differs from the backup's: sessions and tokens issued before are invalid")


# --- small helpers ---------------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def app_version() -> dict[str, str | None]:
    """The version in pyproject.toml and the git commit (``APP_COMMIT`` when the deployment sets it)."""
    version = None
    pyproject = _ROOT / "pyproject.toml"
    if pyproject.exists():
        match = re.search(r'^version\s*=\s*"([^"]+)"', pyproject.read_text(encoding="utf-8"), re.M)
        version = match.group(1) if match else None
    commit = os.environ.get("APP_COMMIT")
    git = shutil.which("git")
    if not commit and git and (_ROOT / ".git").exists():
        try:
            done = subprocess.run(  # noqa: S603 - fixed arguments
                [git, "-C", str(_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
            )
            commit = done.stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            commit = None
    return {"version": version, "commit": commit}


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _user_tables(conn: Connection) -> list[str]:
    names = inspect(conn).get_table_names()
    return sorted(n for n in names if not n.startswith("sqlite_"))


def _row_counts(conn: Connection) -> dict[str, int]:
    return {t: int(conn.execute(select(func.count()).select_from(table(t))).scalar_one()) for t in _user_tables(conn)}


def _alembic_revision(conn: Connection) -> str | None:
    if "alembic_version" not in _user_tables(conn):
        return None
    revisions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return ",".join(sorted(revisions)) or None


def _sqlite_counts(raw: sqlite3.Connection) -> tuple[dict[str, int], str | None]:
    """Row counts and revision of the SQLite copy, read through the open DB-API connection (a new engine
    connection would switch the file to WAL)."""
    engine = create_engine("sqlite://", creator=lambda: raw, poolclass=StaticPool)
    with engine.connect() as conn:
        return _row_counts(conn), _alembic_revision(conn)


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(url.database)


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string for pg_dump/pg_restore, with the password in the environment only."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _engine(url: URL) -> Engine:
    return create_engine(url, poolclass=NullPool, hide_parameters=True)


def pg_tool(name: str, server_major: int, bin_dir: str | None = None) -> str:
    """``pg_dump``/``pg_restore`` of the server's major version (or newer): ``bin_dir``, then
    /usr/lib/postgresql/<major>/bin, then PATH."""
    candidates = []
    if bin_dir:
        candidates.append(Path(bin_dir) / name)
    candidates.append(Path(f"/usr/lib/postgresql/{server_major}/bin") / name)
    on_path = shutil.which(name)
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if not candidate.exists():
            continue
        out = subprocess.run(  # noqa: S603 - a client tool we located
            [str(candidate), "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
        match = re.search(r"(\d+)(?:\.\d+)?", out)
        if match and int(match.group(1)) >= server_major:
            return str(candidate)
    raise BackupError(
        f"no {name} of PostgreSQL {server_major} or newer found (install postgresql-client-{server_major} "
        "or pass --pg-bin-dir)"
    )


def _server_major(conn: Connection) -> int:
    return int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        # pg_* messages name objects, never row data; the password is in the environment, not the arguments
        raise BackupError(f"{what} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")


# --- create ----------------------------------------------------------------------------------------------


def _storage_files(storage: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(storage):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                yield path


def _archive_storage(storage: Path, out: Path, progress: Progress) -> tuple[int, int]:
    count = size = 0
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in _storage_files(storage):
            try:
                info = tar.gettarinfo(path, arcname=str(path.relative_to(storage)))
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
            except FileNotFoundError:  # removed while we walked (an orphan swept): not part of the snapshot
                continue
            count += 1
            size += info.size
            if count % PROGRESS_EVERY_FILES == 0:
                progress(f"  storage: {count} files, {size / 1e6:.1f} MB")
    return count, size


def _canonical(manifest: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in manifest.items() if k != "seal"}, sort_keys=True, ensure_ascii=False)


def seal_manifest(manifest: dict[str, Any]) -> str:
    """An HMAC of the manifest with the data key (as the evidence seals): an edited manifest — new sha256s
    for altered files — does not verify, and only the holder of the key can make a valid one."""
    return crypto.seal("backup-manifest:" + _canonical(manifest))


@contextmanager
def _pg_snapshot(url: URL) -> Iterator[tuple[Connection, str]]:
    """A REPEATABLE READ transaction whose snapshot pg_dump imports: the counts and the dump see the same rows."""
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                for setting in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"):
                    conn.execute(text(f"SET LOCAL {setting} = 0"))
                snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                yield conn, snapshot
    finally:
        engine.dispose()


def create_backup(
    out_dir: Path, config: Any, *, progress: Progress = _quiet, pg_bin_dir: str | None = None
) -> dict[str, Any]:
    """Write a backup of the configured database and storage directory to ``out_dir`` (new or empty)."""
    started = time.monotonic()
    out_dir = Path(out_dir).resolve()
    storage = Path(config["STORAGE_DIR"]).resolve()
    if out_dir == storage or storage in out_dir.parents:
        raise BackupError("the backup directory must not be inside STORAGE_DIR")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise BackupError(f"{out_dir} is not empty: choose a new directory for each backup")
    out_dir.mkdir(parents=True, exist_ok=True)
    url = make_url(config.get("MIGRATION_DATABASE_URL") or config["DATABASE_URL"])
    manifest: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "created_at": clock.utcnow().isoformat(),
        "app": app_version(),
        "keys": key_fingerprints(config),
        "keys_note": "The keys are not in this backup. Restore needs the same DATA_ENCRYPTION_KEY "
        "(or SECRET_KEY when it is unset): keep them separately (docs/operations.md).",
    }

    if url.get_backend_name() == "postgresql":
        dump = out_dir / PG_DUMP
        with _pg_snapshot(url) as (conn, snapshot):
            major = _server_major(conn)
            tool = pg_tool("pg_dump", major, pg_bin_dir)
            progress("counting rows in the snapshot…")
            counts = _row_counts(conn)
            revision = _alembic_revision(conn)
            progress(f"pg_dump (PostgreSQL {major}, {sum(counts.values())} rows in {len(counts)} tables)…")
            dsn, env = _libpq(url)
            _run(
                [tool, "--format=custom", f"--snapshot={snapshot}", f"--file={dump}", f"--dbname={dsn}"],
                env,
                "pg_dump",
            )
        manifest["database"] = {"dialect": "postgresql", "server_major": major, "file": PG_DUMP}
    elif url.get_backend_name() == "sqlite":
        source = _sqlite_path(url)
        if not source.exists():
            raise BackupError(f"the SQLite database {source} does not exist")
        copy = out_dir / SQLITE_COPY
        progress("copying the SQLite database (online backup API)…")

        def pages(_status: int, remaining: int, total: int) -> None:
            if total > 4096:
                progress(f"  sqlite: {total - remaining}/{total} pages")

        src = sqlite3.connect(source)
        dst = sqlite3.connect(copy)
        try:
            src.backup(dst, pages=4096, progress=pages)
            counts, revision = _sqlite_counts(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file (no -wal beside it)
        finally:
            dst.close()
            src.close()
        manifest["database"] = {"dialect": "sqlite", "file": SQLITE_COPY}
    else:
        raise BackupError(f"backups of {url.get_backend_name()} databases are not supported")
    manifest["database"]["alembic_revision"] = revision
    manifest["row_counts"] = counts

    progress(f"archiving {storage}…")
    file_count, file_bytes = _archive_storage(storage, out_dir / STORAGE_TAR, progress)
    manifest["storage"] = {"file": STORAGE_TAR, "files": file_count, "bytes": file_bytes}

    progress("checksumming…")
    manifest["files"] = {
        name: {"sha256": sha256_file(out_dir / name), "bytes": (out_dir / name).stat().st_size}
        for name in (manifest["database"]["file"], STORAGE_TAR)
    }
    manifest["seconds"] = round(time.monotonic() - started, 2)
    manifest["seal"] = seal_manifest(manifest)
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


# --- restore ---------------------------------------------------------------------------------------------


def read_manifest(backup_dir: Path) -> dict[str, Any]:
    path = Path(backup_dir) / MANIFEST
    if not path.exists():
        raise BackupError(f"{path} not found: not a backup directory")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupError(f"{path} is not valid JSON") from exc
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"unsupported backup format {manifest.get('format_version')!r}")
    return manifest


def check_files(backup_dir: Path, manifest: dict[str, Any], progress: Progress = _quiet) -> None:
    """Every file the manifest lists is there with its sha256; nothing is restored otherwise."""
    expected = {manifest["database"]["file"], STORAGE_TAR}
    listed = manifest.get("files", {})
    if set(listed) != expected:
        raise BackupError("refused: the manifest does not list the database and storage files")
    for name, meta in sorted(listed.items()):
        path = Path(backup_dir) / name
        if not path.is_file():
            raise BackupError(f"refused: {name} is missing from the backup")
        progress(f"checking {name} ({meta['bytes'] / 1e6:.1f} MB)…")
        if path.stat().st_size != meta["bytes"] or sha256_file(path) != meta["sha256"]:
            raise BackupError(f"refused: {name} does not match its sha256 in the manifest (damaged or altered)")


def _database_has_tables(url: URL) -> bool:
    if url.get_backend_name() == "sqlite":
        path = _sqlite_path(url)
        if not path.exists():
            return False
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            return bool(_user_tables(conn))
    finally:
        engine.dispose()


def _storage_has_files(storage: Path) -> bool:
    return storage.exists() and any(storage.iterdir())


def _empty_pg(url: URL, progress: Progress) -> None:
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            tables = _user_tables(conn)
            progress(f"--force: dropping {len(tables)} tables…")
            if tables:
                conn.execute(text("DROP TABLE " + ", ".join(_quote(conn, t) for t in tables) + " CASCADE"))
    finally:
        engine.dispose()


def _empty_storage(storage: Path) -> None:
    for child in storage.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _restore_pg(backup_dir: Path, url: URL, force: bool, progress: Progress, pg_bin_dir: str | None) -> None:
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            major = _server_major(conn)
    finally:
        engine.dispose()
    tool = pg_tool("pg_restore", major, pg_bin_dir)
    dsn, env = _libpq(url)
    args = [tool, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", f"--dbname={dsn}"]
    if force:
        args[1:1] = ["--clean", "--if-exists"]
    progress(f"pg_restore (PostgreSQL {major})…")
    _run([*args, str(Path(backup_dir) / PG_DUMP)], env, "pg_restore")


def _regrant_app_role(config: Any, owner_url: URL, progress: Progress) -> None:
    """``--no-privileges`` restores no grants: give the app's role (DATABASE_URL) its row access again."""
    app_url = make_url(config["DATABASE_URL"])
    if not config.get("MIGRATION_DATABASE_URL") or app_url.username == owner_url.username or not app_url.username:
        return
    progress(f"granting row access to {app_url.username} (as `flask db grant-app-role`)…")
    engine = _engine(owner_url)
    try:
        with engine.begin() as conn:
            grant_app_role(conn, app_url.username)
    finally:
        engine.dispose()


def _restore_sqlite(backup_dir: Path, url: URL, progress: Progress) -> None:
    target = _sqlite_path(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    progress("copying the SQLite database into place (online backup API)…")
    src = sqlite3.connect(Path(backup_dir) / SQLITE_COPY)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _extract_storage(backup_dir: Path, storage: Path, progress: Progress) -> int:
    storage.mkdir(parents=True, exist_ok=True)
    count = 0
    with tarfile.open(Path(backup_dir) / STORAGE_TAR, "r") as tar:
        for member in tar:
            tar.extract(member, storage, filter="data")  # no absolute paths, no "..", no devices
            if member.isfile():
                count += 1
                if count % PROGRESS_EVERY_FILES == 0:
                    progress(f"  storage: {count} files")
    return count


def verify_restored(manifest: dict[str, Any], config: Any, report: RestoreReport, progress: Progress) -> None:
    """Row counts, the migration revision, the files and every evidence chain against the manifest."""
    url = make_url(config.get("MIGRATION_DATABASE_URL") or config["DATABASE_URL"])
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            counts = _row_counts(conn)
            revision = _alembic_revision(conn)
    finally:
        engine.dispose()
    wanted = manifest["row_counts"]
    for name in sorted(set(wanted) | set(counts)):
        if wanted.get(name) != counts.get(name):
            report.problems.append(f"table {name}: {counts.get(name)} rows, the backup had {wanted.get(name)}")
    report.tables, report.rows = len(counts), sum(counts.values())
    if revision != manifest["database"]["alembic_revision"]:
        report.problems.append(
            f"alembic revision {revision}, the backup was at {manifest['database']['alembic_revision']}"
        )

    storage = Path(config["STORAGE_DIR"])
    files = list(_storage_files(storage))
    report.files = len(files)
    size = sum(p.stat().st_size for p in files)
    if (len(files), size) != (manifest["storage"]["files"], manifest["storage"]["bytes"]):
        report.problems.append(
            f"storage: {len(files)} files ({size} bytes), the backup had "
            f"{manifest['storage']['files']} ({manifest['storage']['bytes']} bytes)"
        )

    if "authorization_evidence" in counts:
        db.engine.dispose()  # the app's pool may hold connections from before the restore
        db.session.remove()
        app_ids = (
            db.session.execute(
                text("SELECT DISTINCT application_id FROM authorization_evidence ORDER BY application_id")
            )
            .scalars()
            .all()
        )
        progress(f"verifying the evidence chains of {len(app_ids)} applications…")
        for app_id in app_ids:
            for problem in authorizations.verify_chain(app_id):
                report.problems.append(f"application {app_id}: evidence {problem}")
            report.chains_verified += 1
        db.session.remove()


def restore_backup(
    backup_dir: Path,
    config: Any,
    *,
    force: bool = False,
    progress: Progress = _quiet,
    pg_bin_dir: str | None = None,
) -> RestoreReport:
    """Restore ``backup_dir`` into the configured database and STORAGE_DIR, then verify it.

    Refuses (BackupError, nothing changed) a damaged backup, a wrong data key, or a target that already
    holds tables or files unless ``force`` (which empties them first)."""
    started = time.monotonic()
    backup_dir = Path(backup_dir)
    manifest = read_manifest(backup_dir)
    report = RestoreReport(manifest)
    url = make_url(config.get("MIGRATION_DATABASE_URL") or config["DATABASE_URL"])
    dialect = manifest["database"]["dialect"]
    if url.get_backend_name() != dialect:
        raise BackupError(f"refused: this is a {dialect} backup and the target database is {url.get_backend_name()}")
    _check_keys(manifest, config, report)
    if not hmac.compare_digest(str(manifest.get("seal", "")), seal_manifest(manifest)):
        raise BackupError("refused: manifest.json was altered (its seal does not verify with the data key)")
    check_files(backup_dir, manifest, progress)
    storage = Path(config["STORAGE_DIR"]).resolve()
    if not force:
        if _database_has_tables(url):
            raise BackupError("refused: the target database is not empty (restore into a new database, or --force)")
        if _storage_has_files(storage):
            raise BackupError(f"refused: {storage} is not empty (restore into a new directory, or --force)")

    db.session.remove()
    db.engine.dispose()
    if dialect == "postgresql":
        if force:
            _empty_pg(url, progress)
        _restore_pg(backup_dir, url, force, progress, pg_bin_dir)
        _regrant_app_role(config, url, progress)
    else:
        _restore_sqlite(backup_dir, url, progress)
    if force and storage.exists():
        progress(f"--force: emptying {storage}…")
        _empty_storage(storage)
    progress(f"extracting files into {storage}…")
    _extract_storage(backup_dir, storage, progress)
    progress("verifying…")
    verify_restored(manifest, config, report, progress)
    report.seconds = round(time.monotonic() - started, 2)
    return report
