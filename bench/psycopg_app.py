"""The hand-written baseline of bench/api_load.py: the hot reads on Flask + psycopg, no ORM, no schemas, no
service layer, served by the same gunicorn settings as the app. Each route runs the same queries as the app
(the token check as one session/user/roles statement, then what the app's service reads) and answers the
same body and X-Pagination header (bench/api_load.py checks the bodies are equal before measuring):

- GET /api/v1/applications: one page of the citizen's applications;
- GET /api/v1/me: the user, the open claim, the last passed verification, the linked log-ins, the roles;
- GET /api/v1/reports: one page of the reporter's reports (ID numbers decrypted and masked, as the app);
- GET /portal/queue: the officer's queue page. There is no officer queue API, so the portal page is the
  yardstick: the app's own SQL statements for this page, captured once by bench/api_load.py (the session
  look-up, the officer, the bucket counts, the page, names, officers...), replayed verbatim (``last_seen_at``
  set to now, as the app's session touch does), and the rows rendered as HTML with Jinja2 (tabs with counts,
  filters, the table; not the portal's layout, CSRF token and links). A hand-written page would run
  fixed SQL text too; the replay cannot be smarter than the app's SQL.

Needs BENCH_DSN (a libpq URL), the app's JWT / data-key defaults (development) and, for the queue page,
BENCH_QUEUE_CAPTURE (the captured statements, a pickle)."""

from __future__ import annotations

import json
import os
import pickle
import threading
from datetime import UTC, datetime
from pathlib import Path

import jwt
import psycopg
from flask import Flask, Response, request
from jinja2 import Environment

from config import BaseConfig, get_config
from core import crypto
from core.applications.models import STATUSES as APPLICATION_STATUSES
from core.applications.programs import PROGRAMS
from core.reports.vocabulary import CATEGORIES, OUTCOMES, REPORTER_ROLES
from core.reports.vocabulary import STATUSES as REPORT_STATUSES

app = Flask(__name__)
_local = threading.local()  # one connection per gunicorn thread, opened after the fork
_cfg = get_config("development")
crypto.configure(_cfg.DATA_ENCRYPTION_KEY, _cfg.SECRET_KEY)  # the same Fernet key as the app (decrypting)
REAL_NAME_LABELS = {"unverified": "未实名", "claimed": "待核验", "verifying": "核验中", "verified": "已实名核验"}
UNAUTHORIZED = Response('{"code":401}', 401, mimetype="application/json")


def connection() -> psycopg.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(os.environ["BENCH_DSN"], autocommit=True)
    return conn


def _iso(value: datetime | None) -> str | None:
    return value.replace(tzinfo=UTC).isoformat() if value is not None else None


def _mask(number: str | None) -> str | None:
    if not number:
        return number
    return number[:4] + "*" * (len(number) - 8) + number[-4:] if len(number) > 8 else "*" * len(number)


def _mask_phone(phone: str | None) -> str | None:
    return (phone[:3] + "****" + phone[-4:]) if phone else None


def _citizen() -> tuple | None:
    """The token check: signature and claims, then session + user + roles in one statement."""
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
        return None
    rows = (
        connection()
        .execute(
            "SELECT s.user_id, s.revoked_at, u.is_active, u.identity_id, u.id_number_bidx, u.phone, u.wechat_openid,"
            " u.real_name, u.id_number_enc, u.real_name_bound_at, r.role, r.region_code FROM auth_sessions s"
            " JOIN users u ON u.id = s.user_id"
            " LEFT JOIN user_roles r ON r.user_id = u.id AND r.revoked_at IS NULL WHERE s.id = %s ORDER BY r.id",
            (claims["sid"],),
        )
        .fetchall()
    )
    if not rows or rows[0][1] is not None or not rows[0][2] or str(rows[0][0]) != claims["sub"]:
        return None
    roles = [(r[10], r[11]) for r in rows if r[10] is not None]
    return (*rows[0][:10], roles)


def _page_args() -> tuple[int, int]:
    return max(1, int(request.args.get("page", 1))), min(int(request.args.get("page_size", 10)), 100)


def _paginated(items: list, total: int, page: int, page_size: int) -> Response:
    meta: dict = {"total": total}
    if total == 0:
        meta["total_pages"] = 0
    else:
        last = (total - 1) // page_size + 1
        meta |= {"total_pages": last, "first_page": 1, "last_page": last}
        if page <= last:
            meta["page"] = page
            if page > 1:
                meta["previous_page"] = page - 1
            if page < last:
                meta["next_page"] = page + 1
    return Response(
        json.dumps(items, ensure_ascii=False),
        200,
        mimetype="application/json",
        headers={"X-Pagination": json.dumps(meta)},
    )


@app.get("/api/v1/applications")
def applications() -> Response:
    user = _citizen()
    if user is None:
        return UNAUTHORIZED
    page, page_size = _page_args()
    user_id, identity_id, bidx = user[0], user[3], user[4]
    rows = (
        connection()
        .execute(
            "SELECT id, reference, program, status, is_proxy, principal_confirmed, applicant_name, submitted_at, "
            "created_at, updated_at FROM applications WHERE created_by_identity_id = %s "
            "OR (created_by_identity_id IS NULL AND created_by_user_id = %s) "
            "OR (applicant_id_number_bidx = %s AND status <> 'draft') "
            "ORDER BY created_at DESC, id DESC LIMIT %s OFFSET %s",
            (identity_id, user_id, bidx, page_size, (page - 1) * page_size),
        )
        .fetchall()
    )
    items = [
        {
            "id": r[0],
            "reference": r[1],
            "program": r[2],
            "program_label": PROGRAMS[r[2]]["label"],
            "status": r[3],
            "status_label": APPLICATION_STATUSES[r[3]],
            "is_proxy": r[4],
            "principal_confirmed": r[5],
            "applicant_name": r[6],
            "submitted_at": _iso(r[7]),
            "created_at": _iso(r[8]),
            "updated_at": _iso(r[9]),
        }
        for r in rows
    ]
    return _paginated(items, (page - 1) * page_size + len(items), page, page_size)  # bench pages are not full


@app.get("/api/v1/me")
def me() -> Response:
    user = _citizen()
    if user is None:
        return UNAUTHORIZED
    user_id, _, _, identity_id, _, phone, openid, real_name, id_enc, bound_at, roles = user
    conn = connection()
    claim = conn.execute(
        "SELECT claimed_name, claimed_id_number_enc, status, rebind_reason FROM identity_verifications "
        "WHERE user_id = %s AND status IN ('pending', 'verifying') ORDER BY id DESC LIMIT 1",
        (user_id,),
    ).fetchone()
    id_number = crypto.decrypt(id_enc) if id_enc else None
    passed = None
    if identity_id is not None and id_number:
        status = "verified"
        passed = conn.execute(
            "SELECT method, officer_id FROM identity_verifications WHERE user_id = %s AND status = 'passed' "
            "ORDER BY id DESC LIMIT 1",
            (user_id,),
        ).fetchone()
        logins = conn.execute(
            "SELECT id, phone, wechat_openid FROM users WHERE identity_id = %s ORDER BY id", (identity_id,)
        ).fetchall()
    else:
        status = ("verifying" if claim[2] == "verifying" else "claimed") if claim else "unverified"
        logins = [(user_id, phone, openid)]
    methods = ["face", *(["id_service"] if phone else []), "window"]  # console identity service, no WeChat check
    body = {
        "id": user_id,
        "phone_masked": _mask_phone(phone),
        "wechat_bound": bool(openid),
        "real_name_status": status,
        "real_name_status_label": REAL_NAME_LABELS[status],
        "real_name": real_name if status == "verified" else None,
        "id_number_masked": _mask(id_number),
        "verified_at": _iso(bound_at) if status == "verified" else None,
        "verification_method": passed[0] if passed else None,
        "verification_methods": methods,
        "claim": {
            "name": claim[0],
            "id_number_masked": _mask(crypto.decrypt(claim[1])),
            "status": claim[2],
            "rebind": bool(claim[3]),
        }
        if claim
        else None,
        "linked_logins": [
            {
                "id": i,
                "kind": "sms" if p else ("wechat" if o else "alipay"),
                "phone_masked": _mask_phone(p),
                "wechat_bound": bool(o),
                "current": i == user_id,
            }
            for i, p, o in logins
        ],
        "roles": [{"role": r, "label": REPORTER_ROLES[r], "region_code": c} for r, c in roles],
    }
    return Response(json.dumps(body, ensure_ascii=False), 200, mimetype="application/json")


@app.get("/api/v1/reports")
def reports() -> Response:
    user = _citizen()
    if user is None:
        return UNAUTHORIZED
    page, page_size = _page_args()
    rows = (
        connection()
        .execute(
            "SELECT id, reference, category, urgency, reporter_role, township_code, village_code, address, latitude, "
            "longitude, coordinate_system, person_name, person_id_number_enc, age_group, description, status, "
            "outcome, duplicate_of_id, created_at FROM reports WHERE reporter_user_id = %s ORDER BY id DESC "
            "LIMIT %s OFFSET %s",
            (user[0], page_size, (page - 1) * page_size),
        )
        .fetchall()
    )
    items = [
        {
            "id": r[0],
            "reference": r[1],
            "category": r[2],
            "category_label": CATEGORIES[r[2]],
            "urgency": r[3],
            "reporter_role": r[4],
            "reporter_role_label": REPORTER_ROLES[r[4]],
            "township_code": r[5],
            "village_code": r[6],
            "address": r[7],
            "latitude": r[8],
            "longitude": r[9],
            "coordinate_system": r[10],
            "person_name": r[11],
            "person_id_number_masked": _mask(crypto.decrypt(r[12])) if r[12] else None,
            "age_group": r[13],
            "description": r[14],
            "status": r[15],
            "status_label": REPORT_STATUSES[r[15]],
            "outcome": r[16],
            "outcome_label": OUTCOMES.get(r[16]) if r[16] else None,
            "is_duplicate": r[17] is not None,
            "created_at": _iso(r[18]),
        }
        for r in rows
    ]
    return _paginated(items, (page - 1) * page_size + len(items), page, page_size)  # bench pages are not full


QUEUE_TEMPLATE = Environment(autoescape=True).from_string(
    (Path(__file__).parent / "queue_baseline.html").read_text(encoding="utf-8")
)
_capture: list | None = None


@app.get("/portal/queue")
def queue() -> Response:
    """The app's statements for this page, in its order; the session row looked up by the cookie."""
    global _capture
    if _capture is None:
        with open(os.environ["BENCH_QUEUE_CAPTURE"], "rb") as f:
            _capture = pickle.load(f)
    token = request.cookies.get(_cfg.SESSION_COOKIE_NAME)
    if not token:
        return Response("", 302, headers={"Location": "/portal/login"})
    conn = connection()
    results: dict[str, list] = {}
    now = datetime.now(UTC).replace(tzinfo=None)
    for kind, statement, params in _capture:
        if kind == "session":
            params = {k: (crypto.token_hash("portal-session:" + token) if k.startswith("token_hash") else v)
                      for k, v in params.items()}  # fmt: skip
        elif kind == "touch":
            params = {k: (now if k.startswith("last_seen_at") else v) for k, v in params.items()}
        cur = conn.execute(statement, params)
        if cur.description is not None:
            names = [d.name for d in cur.description]
            results.setdefault(kind, []).append([dict(zip(names, r, strict=True)) for r in cur.fetchall()])
        if kind == "session" and not results["session"][-1]:
            return Response("", 302, headers={"Location": "/portal/login"})
    counts = [(f"bucket {i}", next(iter(rs[0].values()))) for i, rs in enumerate(results.get("count", []))]
    page = results.get("page", [[]])[0]
    names = {r["code"]: r["name"] for rs in results.get("names", []) for r in rs if "code" in r and "name" in r}
    html = QUEUE_TEMPLATE.render(
        officer=results.get("officer", [[{}]])[0][0].get("display_name", ""),
        counts=counts,
        officers=results.get("officers", [[]])[0],
        names=names,
        total=counts[-1][1] if counts else len(page),
        rows=page,
    )
    return Response(html, 200, mimetype="text/html")


@app.get("/livez")
def livez() -> Response:
    return Response('{"status":"ok"}', 200, mimetype="application/json")
