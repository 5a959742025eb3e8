"""The department exchange API (/api/v1/exchange): signed calls from department systems, not the
mini-program. Every call is authenticated by its HMAC signature (core/exchange/signing.py) instead of a
bearer token and audited, accepted or not."""

from __future__ import annotations

import json
import logging
import time

from flask import after_this_request, current_app, g, request, send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from core.actor import Actor
from core.audit import services as audit
from core.database import commit, rollback
from core.errors import AuthenticationFailed, SignatureFailed, ValidationFailed
from core.exchange import catalogue, clients, events, ingest, reports, signing, store
from core.exchange.clients import Caller
from miniprogram_api.exchange.schemas import (
    BatchArgs,
    ClientOut,
    ErrorReportArgs,
    EventsIn,
    EventsOut,
    FileArgs,
    LoadOut,
)
from miniprogram_api.openapi import errors

log = logging.getLogger(__name__)
SECURITY = [{"departmentSignature": []}]
# the signature's headers are checked first; the body is digested while it streams to disk
STREAMED_ENDPOINTS = frozenset({"exchange.Files"})
blp = Blueprint(
    "exchange",
    __name__,
    url_prefix="/api/v1/exchange",
    description="部门数据交换 Department data exchange (signed calls from department systems)",
)
EVENTS_EXAMPLE = {
    "events": [
        {
            "event_id": "HH-20261203-000123",
            "type": "cremation",
            "id_number": "140105195003120018",
            "date": "2026-12-01",
            "name": "王建国",
            "place": "太原市殡仪馆",
        }
    ]
}


def caller() -> Caller:
    found = g.get("exchange_caller")
    if found is None:
        raise AuthenticationFailed("请求未签名", code="signature_missing")
    return found


def _query() -> str:
    return request.query_string.decode("latin-1")


@blp.before_request
def _verify_signature() -> None:
    """Every call is signed. Bodies up to MAX_CONTENT_LENGTH are read and their digest compared here; a
    streamed upload (``streams_body``) compares it while streaming, after the headers are verified."""
    g.exchange_started = time.perf_counter()
    streams = request.endpoint in STREAMED_ENDPOINTS
    signing.parse_input(request.headers.get("Signature-Input"))  # an unsigned call: signature_missing first
    digest = None
    if not streams:
        algorithm, _ = signing.parse_content_digest(request.headers.get("Content-Digest"))
        digest = signing.body_digest(algorithm, request.get_data(cache=True))
    g.exchange_caller = clients.authenticate(
        method=request.method,
        path=request.path,
        query=_query(),
        headers=request.headers,
        content_digest=digest,
        ip=request.remote_addr,
    )


@blp.after_request
def _audit_call(response):  # noqa: ANN001 - Flask's hook signature
    """One audit entry per call, accepted or refused (a refused call's own changes are rolled back first)."""
    found: Caller | None = g.get("exchange_caller")
    actor = found.actor if found else Actor(kind="department", id=None, roles=("department",), ip=request.remote_addr)
    key_id = None
    if found is None:
        header = request.headers.get("Signature-Input", "")
        start = header.find('keyid="')
        key_id = header[start + 7 : header.find('"', start + 7)][:40] if start >= 0 else None
    detail = {
        "method": request.method,
        "path": request.path,
        "query": _query()[:300],
        "status": response.status_code,
        "key_id": found.client.key_id if found else key_id,
        "ms": round((time.perf_counter() - g.get("exchange_started", time.perf_counter())) * 1000, 1),
    }
    region = found.department.region_code if found else None
    try:
        if response.status_code >= 400:
            rollback()
            audit.record(actor, "exchange.call", ("exchange_clients", str(actor.id or "")), region=region, **detail)
            commit()
        else:
            audit.record(actor, "exchange.call", ("exchange_clients", str(actor.id or "")), region=region, **detail)
    except Exception:  # auditing a refused call must never turn it into a 500
        log.exception("could not audit an exchange call")
        rollback()
    return response


@blp.route("/client")
class ClientInfo(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(
        200,
        ClientOut,
        example={
            "key_id": "gongan-taiyuan-3f9a1c2b7d4e",
            "name": "公安人口信息系统",
            "algorithm": "hmac-sha256",
            "department_code": "gongan-taiyuan",
            "department_name": "太原市公安局",
            "region_code": "1401",
            "categories": ["deaths"],
            "server_time": 1764770000,
        },
    )
    def get(self):
        """接入系统信息（联调）

        Who the signature says the caller is: the key id, its department, the data categories it may send
        and the server's clock. Use it to test signing before the first push."""
        found = caller()
        return {
            "key_id": found.client.key_id,
            "name": found.client.name,
            "algorithm": found.client.algorithm,
            "department_code": found.department.code,
            "department_name": found.department.name,
            "region_code": found.department.region_code,
            "categories": list(found.client.categories or []),
            "server_time": int(time.time()),
        }


@blp.route("/events")
class Events(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(EventsIn, example=EVENTS_EXAMPLE)
    @blp.response(
        200,
        EventsOut,
        example={"results": [{"event_id": "HH-20261203-000123", "status": "received", "matched_enrollments": 1}]},
    )
    @errors("category_not_allowed")
    def post(self, data: dict):
        """推送死亡、火化事件

        Deaths (公安, 卫健) and cremations (殡葬) as they happen, 1-1000 per call, all or none. Each is stored
        once per `event_id` (a retry answers `duplicate` and does nothing again) and checked against the
        registry at once: the death of a person in an active enrollment becomes a red warning in the
        township's queue (核查 within 3 working days). Needs the `deaths` / `cremations` category."""
        results = events.receive(caller(), data["events"])
        return {"results": [r.__dict__ for r in results]}


LOAD_EXAMPLE = {
    "id": 42,
    "category": "pensions",
    "batch_id": "rs-20261203-0001",
    "status": "completed",
    "status_label": "已完成",
    "stage": None,
    "progress": 100,
    "rows_total": 10000,
    "rows_accepted": 9996,
    "rows_rejected": 4,
    "rejected_by_reason": {"id_check_digit": 3, "date_format": 1},
    "min_effective_date": "2026-11-01",
    "max_effective_date": "2026-11-30",
    "sha256": "9f2c4e0b7a1d3c5e8f6a2b4d0c9e7f1a3b5d7c9e0f2a4b6c8d0e2f4a6b8c0d2e",
    "message": None,
    "created_at": "2026-12-03T06:30:00+00:00",
    "finished_at": "2026-12-03T06:30:02+00:00",
}
NDJSON = "application/x-ndjson"


def _load_out(load) -> dict:  # noqa: ANN001 - a DataLoad
    out = catalogue.load_summary(load)
    out["id"] = out.pop("load_id")
    return out


def _ndjson_rows(body: bytes) -> list:
    rows, errors = [], {}
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        if len(rows) >= ingest.MAX_PUSH_ROWS:
            raise ValidationFailed(errors={"rows": [f"每批最多{ingest.MAX_PUSH_ROWS:,}行，请分批报送"]})
        try:
            rows.append(json.loads(line))
        except (ValueError, RecursionError):
            errors[f"rows.{number}"] = [f"第{number}行不是有效的 JSON 对象"]
            if len(errors) >= 20:
                break
    if errors:
        raise ValidationFailed(errors=errors)
    return rows


@blp.route("/batches")
class Batches(MethodView):
    @blp.doc(
        security=SECURITY,
        requestBody={
            "required": True,
            "description": "JSON lines: one object per line (a row, keys are the category's column names, "
            "Chinese headers accepted), at most 10,000 lines",
            "content": {
                NDJSON: {
                    "schema": {"type": "string"},
                    "example": '{"身份证号": "…", "发放月份": "2026-11", "金额": "1850.00"}\n',
                }
            },
        },
    )
    @blp.arguments(BatchArgs, location="query")
    @blp.response(200, LoadOut, example=LOAD_EXAMPLE)
    @errors("category_not_allowed")
    def post(self, args: dict):
        """推送一批数据（JSON Lines）

        Up to 10,000 rows of one category, checked at once: rows with a bad ID number, date or code are
        kept out and counted (`rows_rejected`, the error report lists them); the rest are stored. The
        `batch_id` makes a retry harmless. Needs the category in the key's scope."""
        found = caller()
        clients.require_category(found, args["category"])
        rows = _ndjson_rows(request.get_data(cache=True))
        load = ingest.ingest_rows(
            found.actor,
            category=args["category"],
            rows=rows,
            batch_id=args["batch_id"],
            department_id=found.department.id,
            client_id=found.client.id,
        )
        return _load_out(load)


@blp.route("/files")
class Files(MethodView):
    @blp.doc(
        security=SECURITY,
        requestBody={
            "required": True,
            "description": "The file itself as the body (not multipart): CSV in UTF-8 or GBK/GB18030, XLSX or "
            "Parquet, up to EXCHANGE_MAX_UPLOAD_BYTES (4 GB). It is streamed to disk, never held in memory.",
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        },
    )
    @blp.arguments(FileArgs, location="query")
    @blp.response(202, LoadOut, example={**LOAD_EXAMPLE, "status": "pending", "stage": "queued", "progress": 0})
    @errors("category_not_allowed")
    def post(self, args: dict):
        """上传数据文件

        A whole file of one category; it is checked and stored on the bulk queue: poll
        `GET /exchange/loads/{id}` for progress and counts, then download the error report. The body's
        digest must match `Content-Digest` (checked while streaming)."""
        found = caller()
        clients.require_category(found, args["category"])
        limit = current_app.config["EXCHANGE_MAX_UPLOAD_BYTES"]
        declared_alg, declared = signing.parse_content_digest(request.headers.get("Content-Digest"))
        if request.content_length is not None and request.content_length > limit:
            raise ValidationFailed(errors={"file": [f"文件不能超过{limit // (1024 * 1024):,}MB"]})
        request.max_content_length = limit
        digest = signing.StreamingDigest(declared_alg)
        path, _ = store.save_stream(request.stream, folder="incoming-api", max_bytes=limit, on_chunk=digest.update)
        try:
            if digest.digest() != declared:
                raise SignatureFailed("请求体与 Content-Digest 不一致", code="digest_mismatch")
            load = ingest.start_file_load(
                found.actor,
                category=args["category"],
                path=path,
                filename=args["filename"],
                department_id=found.department.id,
                client_id=found.client.id,
                batch_id=args["batch_id"],
                max_bytes=limit,
            )
        finally:
            store.remove_file(path)  # already moved when the load took it over; else the refused upload
        return _load_out(load), 202


@blp.route("/loads/<int:load_id>")
class Load(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, LoadOut, example=LOAD_EXAMPLE)
    @errors("load_not_found")
    def get(self, load_id: int):
        """查询批次处理结果

        Status, progress and counts of a load this key delivered (another key's is 404)."""
        return _load_out(clients.own_load(caller(), load_id))


@blp.route("/loads/<int:load_id>/errors")
class LoadErrors(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(ErrorReportArgs, location="query")
    @blp.response(200, description="The rejected rows: row, column, reason (Chinese), value", content_type="text/csv")
    @errors("load_not_found")
    def get(self, args: dict, load_id: int):
        """下载错误报告

        The rows kept out of a load with the reason for each (行号, 列, 原因, 原始内容), CSV or XLSX;
        cells that a spreadsheet would run as formulas are written as text."""
        load = clients.own_load(caller(), load_id)
        path, name, mimetype = reports.write_report_of(caller().actor, load, args["format"])

        @after_this_request
        def _remove(response):  # noqa: ANN001 - Flask's hook signature
            store.remove_file(path)
            return response

        return send_file(path, mimetype=mimetype, as_attachment=True, download_name=name)
