"""Side effects happen only for changes that land: files a rolled-back change wrote are removed, files a
change unlinks are deleted only after it commits, and reads never write."""

from __future__ import annotations

from sqlalchemy import event

from core.database import commit, db, rollback
from core.files import storage
from tests.helpers import bound_citizen, draft_body, id_number, jpeg_bytes, upload


def test_a_file_written_for_a_change_that_rolls_back_is_removed(app):
    with app.app_context():
        stored = storage.store_upload(jpeg_bytes(), "a.jpg", max_bytes=1 << 20, area="t")
        assert storage.open_path(stored.storage_key).exists()
        rollback()
        assert not storage.open_path(stored.storage_key).exists()
        kept = storage.store_upload(jpeg_bytes(), "b.jpg", max_bytes=1 << 20, area="t")
        commit()
        assert storage.open_path(kept.storage_key).exists()
        db.session.remove()


def test_a_file_is_deleted_only_after_the_change_commits(app):
    with app.app_context():
        stored = storage.store_upload(jpeg_bytes(), "a.jpg", max_bytes=1 << 20, area="t")
        commit()
        storage.delete(stored.storage_key)
        assert storage.open_path(stored.storage_key).exists()  # not before the commit
        rollback()
        assert storage.open_path(stored.storage_key).exists()  # the change never landed
        storage.delete(stored.storage_key)
        commit()
        assert not storage.open_path(stored.storage_key).exists()
        db.session.remove()


def test_reading_an_applications_authorizations_writes_nothing(client, app):
    person = ("周敏", id_number(seq=97))
    headers = bound_citizen(client, "13900095001", *person)
    member = {"name": "周小军", "id_number": id_number(seq=98), "relation": "child", "health": "healthy"}
    body = draft_body(*person, extra_members=[{**member, "employment": "employed"}])
    app_id = client.post("/api/v1/applications", headers=headers, json=body).get_json()["id"]
    assert upload(client, headers, app_id, "id_card", jpeg_bytes()).status_code == 201
    writes: list[str] = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            writes.append(statement.split()[0:3].__str__())

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        listed = client.get(f"/api/v1/applications/{app_id}/authorizations", headers=headers)
        detail = client.get(f"/api/v1/applications/{app_id}", headers=headers)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert listed.status_code == 200 and detail.status_code == 200
    assert [r["member_name"] for r in listed.get_json()] == ["周敏", "周小军"]
    assert writes == [], writes
