"""Orphan files: stored files no row names (a process died between the write and the commit) are swept
once older than the threshold; referenced files, young files and anything outside the areas are kept."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from sqlalchemy import JSON, select

from core.authorizations.models import Signature
from core.database import db
from core.files import storage
from tests.registry.test_ops_evidence import _authorized_household

ROOT = Path(__file__).parents[2]
OLD = time.time() - 48 * 3600


def _put(app, key: str, *, mtime: float | None = OLD, data: bytes = b"orphan") -> Path:
    path = Path(app.config["STORAGE_DIR"]) / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def _signatures(app) -> list[Path]:
    with app.app_context():
        keys = db.session.scalars(select(Signature.storage_key)).all()
        db.session.remove()
    paths = [Path(app.config["STORAGE_DIR"]) / k for k in keys]
    for path in paths:  # referenced, and as old as any orphan
        os.utime(path, (OLD, OLD))
    return paths


def _layout(client, app) -> dict[str, Path]:
    _authorized_household(client, app)
    referenced = _signatures(app)
    assert len(referenced) == 3 and all(p.exists() for p in referenced)
    return {
        "referenced": referenced[0],
        "old_orphan": _put(app, "signatures/2026/01/0123456789abcdef0123456789abcdef.png"),
        "old_part": _put(app, "attachments/2026/01/feedfacefeedfacefeedfacefeedface.part"),
        "old_frame": _put(app, "faces-tmp/2026/01/aaaabbbbccccddddaaaabbbbccccdddd.jpg"),
        "young_orphan": _put(app, "transfers/2026/12/00000000000000000000000000000000.jpg", mtime=None),
        "outside_areas": _put(app, "backup-notes/old.txt"),
    }


def test_old_orphans_go_referenced_young_and_foreign_files_stay(client, app):
    files = _layout(client, app)
    with app.app_context():
        result = storage.sweep_orphans(24)
        db.session.remove()
    gone = {name for name, path in files.items() if not path.exists()}
    assert gone == {"old_orphan", "old_part", "old_frame"}
    assert {f"signatures/2026/01/{files['old_orphan'].name}", f"faces-tmp/2026/01/{files['old_frame'].name}"} <= set(
        result.orphans
    )
    assert result.referenced >= 3 and result.young >= 1 and result.bytes >= 3 * len(b"orphan")


def test_a_dry_run_lists_and_removes_nothing(client, app):
    files = _layout(client, app)
    with app.app_context():
        result = storage.sweep_orphans(24, dry_run=True)
        db.session.remove()
    assert all(path.exists() for path in files.values())
    assert f"signatures/2026/01/{files['old_orphan'].name}" in result.orphans
    assert f"transfers/2026/12/{files['young_orphan'].name}" not in result.orphans


def test_frames_awaiting_their_check_are_referenced(client, app):
    from core.identity.models import IdentityVerification

    files = _layout(client, app)
    key = f"faces-tmp/2026/01/{files['old_frame'].name}"
    with app.app_context():
        from core.accounts.models import User

        user = db.session.scalars(select(User)).first()
        db.session.add(
            IdentityVerification(user_id=user.id, claimed_name="张建国", claimed_id_number="360124196204180011")
        )
        db.session.flush()
        verification = db.session.scalars(select(IdentityVerification)).first()
        verification.frame_keys = [key]
        db.session.commit()
        storage.sweep_orphans(24)
        db.session.remove()
    assert files["old_frame"].exists() and not files["old_orphan"].exists()


def test_the_threshold_is_honoured_and_never_below_an_hour(client, app):
    files = _layout(client, app)
    three_hours_old = _put(app, "reports/2026/12/33333333333333333333333333333333.jpg", mtime=time.time() - 3 * 3600)
    with app.app_context():
        storage.sweep_orphans(72)  # the 48-hour-old orphans are too young for this threshold
        assert files["old_orphan"].exists() and three_hours_old.exists()
        storage.sweep_orphans(2)
        assert not three_hours_old.exists() and files["young_orphan"].exists() and files["referenced"].exists()
        try:
            storage.sweep_orphans(0)
        except ValueError as err:
            assert "at least 1" in str(err)
        else:
            raise AssertionError("a threshold under an hour was accepted")
        db.session.remove()


def test_the_command_dry_run_then_sweep(client, app):
    files = _layout(client, app)
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["files", "sweep-orphans", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"would remove signatures/2026/01/{files['old_orphan'].name}" in dry.output
    assert files["old_orphan"].exists()
    refused = runner.invoke(args=["files", "sweep-orphans", "--older-than-hours", "0"])
    assert refused.exit_code == 2 and files["old_orphan"].exists()
    swept = runner.invoke(args=["files", "sweep-orphans", "--older-than-hours", "24"])
    assert swept.exit_code == 0 and f"removed signatures/2026/01/{files['old_orphan'].name}" in swept.output
    assert not files["old_orphan"].exists() and files["referenced"].exists() and files["young_orphan"].exists()


def test_the_daily_task(client, app):
    from workers.tasks import maintenance

    files = _layout(client, app)
    # the task as this app's worker runs it (in this app's context, with its retry policy)
    outcome = app.extensions["celery"].tasks["maintenance.sweep_orphan_files"].apply().get()
    assert outcome["removed"] >= 3 and not files["old_orphan"].exists() and files["referenced"].exists()
    from workers.retry import TRANSIENT

    assert maintenance.sweep_orphan_files.autoretry_for == TRANSIENT  # the common retry policy
    entry = app.extensions["celery"].conf.beat_schedule["sweep-orphan-files"]
    assert entry["task"] == "maintenance.sweep_orphan_files"
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({3}, {40})  # daily, 03:40 Asia/Shanghai


def test_every_column_and_area_naming_files_is_declared(app):
    """A new column holding storage keys, or a new upload area, must be declared in core.setup (else its
    files would be taken for orphans, or never swept)."""
    declared = storage.swept_areas()
    columns = {c for cols in declared.values() for c in cols}
    key_columns = {
        f"{table.name}.{column.name}"
        for table in db.metadata.sorted_tables
        for column in table.columns
        if column.name.endswith("storage_key") or (column.name.endswith("_keys") and isinstance(column.type, JSON))
    }
    assert key_columns == columns
    areas = {
        m
        for path in (ROOT / "core").rglob("*.py")
        for m in re.findall(r'area="([a-z_\-]+)"', path.read_text(encoding="utf-8"))
    }
    assert areas == set(declared)


def test_a_database_that_names_no_file_is_refused(client, app):
    """Pointed at the wrong or an empty database every file looks orphaned: nothing is removed."""
    from sqlalchemy import text

    files = _layout(client, app)
    with app.app_context():
        for table in ("authorization_signatures", "attachments"):  # every row naming a file
            db.session.execute(text(f"DELETE FROM {table}"))
        db.session.commit()
        result = storage.sweep_orphans(24)
        db.session.remove()
    assert result.refused and result.dry_run and len(result.orphans) >= 6
    assert all(path.exists() for path in files.values())
    refused = app.test_cli_runner().invoke(args=["files", "sweep-orphans"])
    assert refused.exit_code == 1 and "names no stored file" in refused.output and files["referenced"].exists()
    task = app.extensions["celery"].tasks["maintenance.sweep_orphan_files"].apply()
    assert task.failed() and "refused" in str(task.result) and files["referenced"].exists()
    forced = app.test_cli_runner().invoke(args=["files", "sweep-orphans", "--allow-empty-database"])
    assert forced.exit_code == 0 and not files["referenced"].exists() and files["young_orphan"].exists()
