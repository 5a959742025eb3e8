"""Batches and files through the signed API: a JSON-lines batch is checked at once and a retry is
harmless; a GBK file is streamed, its digest checked, loaded on the bulk queue (eager here) and polled;
the error report is the client's own; another client's load is 404; wrong scope stores nothing."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

from sqlalchemy import func, select

from core.database import db
from core.exchange.catalogue import DataLoad
from core.idnumber import make_id_number
from tests.exchange.exchange_helpers import get, make_client, signed

BATCHES = "/api/v1/exchange/batches"
FILES = "/api/v1/exchange/files"


def _ids(n: int) -> list[str]:
    return [make_id_number("360124", date(1950, 1, 1), i) for i in range(1, n + 1)]


def _post(client, url: str, body: bytes, *, key_id: str, content_type: str, **kw):
    headers = {"Content-Type": content_type, **signed("POST", url, body, key_id=key_id, **kw)}
    return client.post(url, data=body, headers=headers)


def _ndjson(rows: list[dict]) -> bytes:
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()


def test_a_batch_is_checked_stored_and_a_retry_is_harmless(app, client):
    with app.app_context():
        _, key_id = make_client(categories=("deaths",))
    good = _ids(2)
    rows = [
        {"身份证号": good[0], "姓名": "张三", "死亡日期": "2026/3/2"},
        {"id_number": good[1][:17] + ("0" if good[1][17] != "0" else "1"), "name": "李四", "death_date": "20260303"},
    ]
    url = f"{BATCHES}?category=deaths&batch_id=mz-20261203-01"
    first = _post(client, url, _ndjson(rows), key_id=key_id, content_type="application/x-ndjson")
    assert first.status_code == 200, first.json
    assert (first.json["status"], first.json["rows_accepted"], first.json["rows_rejected"]) == ("completed", 1, 1)
    again = _post(client, url, _ndjson(rows), key_id=key_id, content_type="application/x-ndjson")
    assert again.status_code == 200 and again.json["id"] == first.json["id"]
    other = _post(client, url, _ndjson(rows[:1]), key_id=key_id, content_type="application/x-ndjson")
    assert other.status_code == 409
    report = get(client, f"/api/v1/exchange/loads/{first.json['id']}/errors?format=csv", key_id=key_id)
    assert report.status_code == 200
    lines = list(csv.reader(io.StringIO(report.data.decode("utf-8-sig"))))
    assert lines[0] == ["行号", "列", "原因", "原始内容"] and len(lines) == 2 and lines[1][0] == "2"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(DataLoad)) == 1


def test_bad_lines_and_wrong_scope_store_nothing(app, client):
    with app.app_context():
        _, key_id = make_client(categories=("deaths",))
    bad = _post(
        client,
        f"{BATCHES}?category=deaths&batch_id=b1",
        b'{"id_number": "1"}\nnot json\n' + b"[" * 5000 + b"\n",
        key_id=key_id,
        content_type="application/x-ndjson",
    )
    assert bad.status_code == 422 and "rows.2" in bad.json["errors"] and "rows.3" in bad.json["errors"]
    scope = _post(
        client,
        f"{BATCHES}?category=pensions&batch_id=b2",
        _ndjson([{"id_number": _ids(1)[0]}]),
        key_id=key_id,
        content_type="application/x-ndjson",
    )
    assert scope.status_code == 403 and scope.json["status"] == "category_not_allowed"
    missing = _post(client, BATCHES + "?category=deaths", b"{}", key_id=key_id, content_type="application/x-ndjson")
    assert missing.status_code == 422 and "batch_id" in missing.json["errors"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(DataLoad)) == 0


def test_a_gbk_file_is_streamed_loaded_and_polled(app, client):
    with app.app_context():
        _, key_id = make_client(categories=("deaths", "cremations"))
        _, other_key = make_client(code="gongan-other", categories=("deaths",))
    good = _ids(3)
    text = "身份证号,姓名,死亡日期\r\n" + "\n".join(
        [f"{good[0]},张三,2026-03-01", f"{good[1]},李四,2026年3月2日", f"{good[2]},王五,=cmd|' /C calc'!A0"]
    )
    body = text.encode("gbk")
    url = f"{FILES}?category=deaths&filename=deaths-202603.csv&batch_id=f1"
    response = _post(client, url, body, key_id=key_id, content_type="text/csv")
    assert response.status_code == 202, response.json
    load_id = response.json["id"]
    polled = get(client, f"/api/v1/exchange/loads/{load_id}", key_id=key_id)
    assert polled.status_code == 200
    assert (polled.json["status"], polled.json["rows_accepted"], polled.json["rows_rejected"]) == ("completed", 2, 1)
    assert get(client, f"/api/v1/exchange/loads/{load_id}", key_id=other_key).status_code == 404
    assert get(client, f"/api/v1/exchange/loads/{load_id}/errors", key_id=other_key).status_code == 404
    report = get(client, f"/api/v1/exchange/loads/{load_id}/errors?format=csv", key_id=key_id)
    cells = [row for row in csv.reader(io.StringIO(report.data.decode("utf-8-sig")))]
    assert any(c.startswith("'=cmd") for row in cells for c in row)  # written as text, never a formula


def test_a_file_whose_body_differs_from_its_digest_is_refused_and_not_kept(app, client, tmp_path):
    with app.app_context():
        _, key_id = make_client(categories=("deaths",))
    body = "身份证号,姓名,死亡日期\n".encode("gbk")
    url = f"{FILES}?category=deaths&filename=a.csv"
    headers = {"Content-Type": "text/csv", **signed("POST", url, body, key_id=key_id)}
    response = client.post(url, data=body + b"tampered", headers=headers)
    assert response.status_code == 401 and response.json["status"] == "digest_mismatch"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(DataLoad)) == 0
        from core.exchange import store

        assert list((store.work_dir("incoming-api")).iterdir()) == []


def test_utf8_with_bom_and_parquet_files_through_the_api(app, client, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    with app.app_context():
        _, key_id = make_client(categories=("deaths",))
    good = _ids(2)
    csv_body = ("\ufeff身份证号,姓名,死亡日期\r\n" + f"{good[0]},张三,20260301\r\n").encode("utf-8")
    first = _post(client, f"{FILES}?category=deaths&filename=d.csv", csv_body, key_id=key_id, content_type="text/csv")
    assert first.status_code == 202, first.json
    path = tmp_path / "deaths.parquet"
    pq.write_table(pa.table({"身份证号": [good[1]], "姓名": ["李四"], "死亡日期": ["2026-03-02"]}), path)
    second = _post(
        client,
        f"{FILES}?category=deaths&filename=deaths.parquet",
        path.read_bytes(),
        key_id=key_id,
        content_type="application/octet-stream",
    )
    assert second.status_code == 202, second.json
    for load_id in (first.json["id"], second.json["id"]):
        polled = get(client, f"/api/v1/exchange/loads/{load_id}", key_id=key_id).json
        assert (polled["status"], polled["rows_accepted"], polled["rows_rejected"]) == ("completed", 1, 0), polled


def test_a_large_upload_streams_with_bounded_memory(app, client, tmp_path):
    """128 MB through the signed file endpoint: held on disk, not in memory (peak Python allocations while
    the request runs stay far below the body). The body is not a table, so its load fails with a reason."""
    import base64
    import hashlib
    import tracemalloc

    from core.exchange import signing

    with app.app_context():
        _, key_id = make_client(categories=("deaths",))
    path = tmp_path / "big.bin"
    chunk = b"\x00\x01binary-not-a-table" * (1024 * 1024 // 20)
    digest = hashlib.sha256()
    with open(path, "wb") as fh:
        for _ in range(128):
            fh.write(chunk)
            digest.update(chunk)
    size = path.stat().st_size
    url = f"{FILES}?category=deaths&filename=big.bin"
    params = signing.params_string(int(__import__("time").time()), "n" * 20, key_id, "hmac-sha256")
    content_digest = f"sha-256=:{base64.b64encode(digest.digest()).decode()}:"
    from tests.exchange.exchange_helpers import SECRET

    signature = signing.mac(
        "hmac-sha256", SECRET, signing.signature_base("POST", FILES, url.split("?", 1)[1], content_digest, params)
    )
    headers = {
        "Content-Type": "application/octet-stream",
        "Content-Length": str(size),
        "Content-Digest": content_digest,
        "Signature-Input": f"sig1={params}",
        "Signature": f"sig1=:{base64.b64encode(signature).decode()}:",
    }
    tracemalloc.start()
    with open(path, "rb") as body:
        response = client.post(url, input_stream=body, headers=headers)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert response.status_code == 202, response.json
    assert peak < 40 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB for a {size / 1e6:.0f} MB body"
    polled = get(client, f"/api/v1/exchange/loads/{response.json['id']}", key_id=key_id).json
    assert polled["status"] == "failed" and "CSV" in polled["message"], polled
    with app.app_context():
        from core.exchange import store

        assert list(store.work_dir("incoming-api").iterdir()) == []
