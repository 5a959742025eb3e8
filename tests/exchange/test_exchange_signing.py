"""Signed department calls: the profile of RFC 9421, HMAC-SHA256 and HMAC-SM3, refused calls store nothing."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta

import pytest
from gmssl import func, sm3
from sqlalchemy import func as sql_func
from sqlalchemy import select

from core import clock
from core.audit.models import AuditEntry
from core.database import db
from core.exchange import signing
from core.exchange.models import ApiClient, DepartmentEvent, RequestNonce
from tests.exchange.exchange_helpers import SECRET, get, make_client, post_json, signed
from tests.helpers import id_number

URL = "/api/v1/exchange/client"
EVENTS = "/api/v1/exchange/events"


def _event(seq: int = 1, **over):
    return {
        "event_id": f"EV-{seq}",
        "type": "death",
        "id_number": id_number(seq=seq, prefix="360124"),
        "date": "2026-11-20",
        "name": "张三",
        **over,
    }


def _hmac_sm3_gmssl(key: bytes, message: bytes) -> bytes:
    """HMAC (RFC 2104) over SM3 from gmssl's pure-Python SM3: an independent implementation."""
    block = 64
    if len(key) > block:
        key = bytes.fromhex(sm3.sm3_hash(func.bytes_to_list(key)))
    key = key.ljust(block, b"\0")
    inner = bytes.fromhex(sm3.sm3_hash(func.bytes_to_list(bytes(k ^ 0x36 for k in key) + message)))
    return bytes.fromhex(sm3.sm3_hash(func.bytes_to_list(bytes(k ^ 0x5C for k in key) + inner)))


def test_sm3_hmac_matches_an_independent_implementation():
    message = b'"@method": POST\n"@path": /api/v1/exchange/events'
    assert signing.mac("hmac-sm3", SECRET, message) == _hmac_sm3_gmssl(SECRET.encode(), message)
    assert signing.body_digest("sm3", b"abc").hex() == sm3.sm3_hash(func.bytes_to_list(b"abc"))


def test_signature_base_follows_rfc9421():
    params = signing.params_string(1764770000, "n" * 16, "key-1", "hmac-sha256")
    base = signing.signature_base("post", "/api/v1/exchange/events", "a=1", "sha-256=:x:", params).decode()
    assert base.splitlines() == [
        '"@method": POST',
        '"@path": /api/v1/exchange/events',
        '"@query": ?a=1',
        '"content-digest": sha-256=:x:',
        '"@signature-params": ("@method" "@path" "@query" "content-digest");created=1764770000;'
        'nonce="nnnnnnnnnnnnnnnn";keyid="key-1";alg="hmac-sha256"',
    ]


@pytest.mark.parametrize("algorithm", ["hmac-sha256", "hmac-sm3"])
def test_a_signed_call_is_accepted_and_audited(app, client, algorithm):
    with app.app_context():
        client_id, key_id = make_client(algorithm=algorithm)
    response = get(client, URL, key_id=key_id, algorithm=algorithm)
    assert response.status_code == 200, response.json
    assert response.json["key_id"] == key_id
    assert response.json["categories"] == ["deaths", "cremations"]
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "exchange.call"))
        assert entry.actor_kind == "department" and entry.actor_id == client_id
        assert entry.detail["status"] == 200 and entry.detail["key_id"] == key_id


def test_unsigned_call_is_401_and_audited(app, client):
    response = client.get(URL)
    assert response.status_code == 401
    assert response.json["status"] == "signature_invalid" or response.json["status"] == "signature_missing"
    bearer = client.get(URL, headers={"Authorization": "Bearer abc"})
    assert bearer.status_code == 401
    with app.app_context():
        statuses = [e.detail["status"] for e in db.session.scalars(select(AuditEntry))]
        assert statuses == [401, 401]


def test_stale_and_future_signatures_are_refused(app, client):
    with app.app_context():
        _, key_id = make_client()
    for skew in (-301, 301):
        response = get(client, URL, key_id=key_id, created=int(time.time()) + skew)
        assert response.status_code == 401
        assert response.json["status"] == "signature_expired"


def test_a_replayed_request_is_refused_and_stores_nothing_twice(app, client):
    with app.app_context():
        _, key_id = make_client()
    body = json.dumps({"events": [_event()]}).encode()
    headers = {"Content-Type": "application/json", **signed("POST", EVENTS, body, key_id=key_id)}
    first = client.post(EVENTS, data=body, headers=headers)
    assert first.status_code == 200, first.json
    again = client.post(EVENTS, data=body, headers=headers)
    assert again.status_code == 401
    assert again.json["status"] == "signature_replayed"
    with app.app_context():
        assert db.session.scalar(select(sql_func.count()).select_from(DepartmentEvent)) == 1


def test_a_failed_request_still_spends_its_nonce(app, client):
    with app.app_context():
        _, key_id = make_client()
    body = json.dumps({"events": [_event(type="birth")]}).encode()
    headers = {"Content-Type": "application/json", **signed("POST", EVENTS, body, key_id=key_id)}
    assert client.post(EVENTS, data=body, headers=headers).status_code == 422
    assert client.post(EVENTS, data=body, headers=headers).json["status"] == "signature_replayed"


@pytest.mark.parametrize(
    "tamper",
    ["body", "query", "path_method", "secret", "digest_alg", "components"],
)
def test_tampered_requests_are_refused_with_nothing_stored(app, client, tamper):
    with app.app_context():
        _, key_id = make_client()
    body = json.dumps({"events": [_event()]}).encode()
    headers = {"Content-Type": "application/json", **signed("POST", EVENTS, body, key_id=key_id)}
    url = EVENTS
    if tamper == "body":
        body = body.replace(b"EV-1", b"EV-2")
    elif tamper == "query":
        url = EVENTS + "?x=1"
    elif tamper == "path_method":
        headers = {"Content-Type": "application/json", **signed("PUT", EVENTS, body, key_id=key_id)}
    elif tamper == "secret":
        headers = {"Content-Type": "application/json", **signed("POST", EVENTS, body, key_id=key_id, secret="x" * 32)}
    elif tamper == "digest_alg":
        digest = base64.b64encode(signing.body_digest("sm3", body)).decode()
        headers["Content-Digest"] = f"sm3=:{digest}:"
    elif tamper == "components":
        headers["Signature-Input"] = headers["Signature-Input"].replace(' "@query"', "")
    response = client.post(url, data=body, headers=headers)
    assert response.status_code == 401, response.json
    assert response.json["status"] in ("signature_invalid", "digest_mismatch")
    with app.app_context():
        assert db.session.scalar(select(sql_func.count()).select_from(DepartmentEvent)) == 0


def test_unknown_and_revoked_keys_are_refused(app, client):
    assert get(client, URL, key_id="nobody-123456").json["status"] == "client_unknown"
    with app.app_context():
        client_id, key_id = make_client()
        row = db.session.get(ApiClient, client_id)
        row.status = "revoked"
        db.session.commit()
    response = get(client, URL, key_id=key_id)
    assert response.status_code == 401 and response.json["status"] == "client_unknown"


def test_the_previous_secret_works_only_during_the_rotation_grace(app, client):
    from core import crypto

    with app.app_context():
        client_id, key_id = make_client()
        row = db.session.get(ApiClient, client_id)
        row.previous_secret_enc = row.secret_enc
        row.secret_enc = crypto.encrypt("new-secret-new-secret-new-secret")
        row.previous_valid_until = clock.utcnow() + timedelta(hours=1)
        db.session.commit()
    assert get(client, URL, key_id=key_id).status_code == 200  # old secret, in the grace period
    assert get(client, URL, key_id=key_id, secret="new-secret-new-secret-new-secret").status_code == 200
    with app.app_context():
        row = db.session.get(ApiClient, client_id)
        row.previous_valid_until = clock.utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert get(client, URL, key_id=key_id).status_code == 401


def test_wrong_category_is_403_with_nothing_stored(app, client):
    with app.app_context():
        _, key_id = make_client(categories=("cremations",))
    response = post_json(client, EVENTS, {"events": [_event()]}, key_id=key_id)
    assert response.status_code == 403
    assert response.json["status"] == "category_not_allowed"
    with app.app_context():
        assert db.session.scalar(select(sql_func.count()).select_from(DepartmentEvent)) == 0


def test_old_nonces_are_swept(app):
    from core.exchange import clients

    with app.app_context():
        client_id, _ = make_client()
        db.session.add(RequestNonce(client_id=client_id, nonce="a" * 16, seen_at=clock.utcnow() - timedelta(hours=1)))
        db.session.add(RequestNonce(client_id=client_id, nonce="b" * 16, seen_at=clock.utcnow()))
        db.session.commit()
        assert clients.sweep_nonces() == 1
        db.session.commit()
        assert db.session.scalars(select(RequestNonce.nonce)).all() == ["b" * 16]


def test_bad_signature_headers_never_500(client):
    for headers in (
        {"Signature-Input": "sig1=" + "(" * 10000},
        {"Signature-Input": 'sig1=("@method" "@path" "@query" "content-digest");created=99999999999999999999'},
        {"Content-Digest": "sha-256=:!!!:", "Signature": "sig1=:%%%:"},
        {"Signature": "sig1=:" + "A" * 100000 + ":"},
    ):
        response = client.get(URL, headers=headers)
        assert response.status_code == 401, (headers, response.status_code)


def test_the_nonce_sweep_is_scheduled_and_runs(app):
    from workers.tasks.maintenance import sweep_exchange_nonces

    entry = app.extensions["celery"].conf.beat_schedule["sweep-exchange-nonces"]
    assert entry["task"] == "maintenance.sweep_exchange_nonces"
    with app.app_context():
        client_id, _ = make_client()
        db.session.add(RequestNonce(client_id=client_id, nonce="c" * 16, seen_at=clock.utcnow() - timedelta(days=1)))
        db.session.commit()
        assert sweep_exchange_nonces.run() == 1
        assert db.session.scalar(select(sql_func.count()).select_from(RequestNonce)) == 0
