"""The hand-written baseline of bench/api_load.py: GET /api/v1/applications on Flask + psycopg, the same
queries (the session/user check, one page of the list) and the same response body and X-Pagination header,
no ORM, no schemas, no service layer. Served by the same gunicorn settings as the app.

Needs BENCH_DSN (a libpq URL) and the app's JWT_SECRET_KEY / JWT_ISSUER / JWT_AUDIENCE defaults."""

from __future__ import annotations

import json
import os
import threading

import jwt
import psycopg
from flask import Flask, Response, request

from config import BaseConfig

app = Flask(__name__)
_local = threading.local()  # one connection per gunicorn thread, opened after the fork
LABELS = {"dibao": "最低生活保障", "tekun": "特困人员供养", "linshi": "临时救助"}
STATUS = {"draft": "草稿", "submitted": "已提交"}


def connection() -> psycopg.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(os.environ["BENCH_DSN"], autocommit=True)
    return conn


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


@app.get("/api/v1/applications")
def applications() -> Response:
    token = request.headers.get("Authorization", "").partition(" ")[2]
    try:
        claims = jwt.decode(
            token,
            os.environ.get("JWT_SECRET_KEY", BaseConfig.JWT_SECRET_KEY),
            algorithms=["HS256"],
            audience=BaseConfig.JWT_AUDIENCE,
            issuer=BaseConfig.JWT_ISSUER,
        )
    except jwt.PyJWTError:
        return Response('{"code":401}', 401, mimetype="application/json")
    page_size = min(int(request.args.get("page_size", 10)), 100)
    conn = connection()
    row = conn.execute(
        "SELECT s.user_id, s.revoked_at, u.is_active, u.identity_id, u.id_number_bidx FROM auth_sessions s "
        "JOIN users u ON u.id = s.user_id WHERE s.id = %s",
        (claims["sid"],),
    ).fetchone()
    if row is None or row[1] is not None or not row[2] or str(row[0]) != claims["sub"]:
        return Response('{"code":401}', 401, mimetype="application/json")
    user_id, identity_id, bidx = row[0], row[3], row[4]
    rows = conn.execute(
        "SELECT id, reference, program, status, is_proxy, principal_confirmed, applicant_name, submitted_at, "
        "created_at, updated_at FROM applications WHERE created_by_identity_id = %s "
        "OR (created_by_identity_id IS NULL AND created_by_user_id = %s) "
        "OR (applicant_id_number_bidx = %s AND status <> 'draft') "
        "ORDER BY created_at DESC, id DESC LIMIT %s",
        (identity_id, user_id, bidx, page_size),
    ).fetchall()
    items = [
        {
            "id": r[0],
            "reference": r[1],
            "program": r[2],
            "program_label": LABELS.get(r[2], r[2]),
            "status": r[3],
            "status_label": STATUS.get(r[3], r[3]),
            "is_proxy": r[4],
            "principal_confirmed": r[5],
            "applicant_name": r[6],
            "submitted_at": _iso(r[7]),
            "created_at": _iso(r[8]),
            "updated_at": _iso(r[9]),
        }
        for r in rows
    ]
    total = len(items)
    pagination = {"total": total, "total_pages": 1, "first_page": 1, "last_page": 1, "page": 1}
    return Response(
        json.dumps(items, ensure_ascii=False),
        200,
        mimetype="application/json",
        headers={"X-Pagination": json.dumps(pagination)},
    )


@app.get("/livez")
def livez() -> Response:
    return Response('{"status":"ok"}', 200, mimetype="application/json")
