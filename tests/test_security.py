"""Authorization tested as an attacker would: no token, forged tokens, other audiences."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from werkzeug.routing import IntegerConverter

from miniprogram_api.security import PUBLIC_ENDPOINTS
from tests.helpers import bearer, login_citizen


def _api_routes(app):
    for rule in app.url_map.iter_rules():
        if not (rule.rule.startswith("/api/") or rule.rule == "/healthz"):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            values = {
                arg: 1 if isinstance(conv, IntegerConverter) else "360124" for arg, conv in rule._converters.items()
            }
            yield rule.endpoint, method, rule.build(values, append_unknown=False)[1]


def test_every_api_route_requires_a_token_unless_public(app, client):
    checked = 0
    for endpoint, method, url in _api_routes(app):
        resp = client.open(url, method=method, json={} if method != "GET" else None)
        if endpoint in PUBLIC_ENDPOINTS:
            assert resp.status_code != 401, (endpoint, method)
        else:
            assert resp.status_code == 401, (endpoint, method, resp.status_code)
            body = resp.get_json()
            assert body["code"] == 401 and body["message"] == "请先登录"
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
            checked += 1
    assert checked >= 5  # the list above is not empty by accident


def test_public_list_names_real_endpoints(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints >= PUBLIC_ENDPOINTS


def test_every_portal_page_requires_an_officer(app, client):
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/portal") or rule.endpoint in {
            "portal_auth.login",
            "portal_auth.totp",
            "portal_static",
        }:
            continue
        url = rule.build({k: 1 for k in rule.arguments}, append_unknown=False)[1]
        if "GET" in rule.methods:
            resp = client.get(url)
            assert resp.status_code == 302 and "/portal/login" in resp.headers["Location"], rule.rule
        if "POST" in rule.methods:
            # without a CSRF token a POST is refused before anything else
            assert client.post(url).status_code == 400, rule.rule


def _claims(app, **changes):
    now = int(time.time())
    claims = {
        "iss": app.config["JWT_ISSUER"],
        "aud": app.config["JWT_AUDIENCE"],
        "sub": "1",
        "sid": "x",
        "typ": "access",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "j",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.fixture
def real_session(client, app):
    tokens = login_citizen(client, "13911110000")
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    return tokens, claims


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_alg_none_refused(client, app, real_session):
    _, claims = real_session
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401


def test_other_key_refused(client, app, real_session):
    _, claims = real_session
    token = jwt.encode(claims, "another-key-that-is-long-enough-0123456789", algorithm="HS256")
    resp = client.get("/api/v1/me", headers=bearer(token))
    assert resp.status_code == 401 and resp.get_json()["status"] == "token_invalid"


def test_hs512_with_right_key_refused(client, app, real_session):
    _, claims = real_session
    token = jwt.encode(claims, app.config["JWT_SECRET_KEY"], algorithm="HS512")
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401


@pytest.mark.parametrize(
    ("change", "status"),
    [
        (
            {"exp": int(time.time()) - 60, "iat": int(time.time()) - 1000, "nbf": int(time.time()) - 1000},
            "token_expired",
        ),
        ({"aud": "relieflink-portal"}, "token_invalid"),
        ({"aud": "relieflink-authorization-qr"}, "token_invalid"),
        ({"iss": "someone-else"}, "token_invalid"),
        ({"typ": "refresh"}, "token_invalid"),
        ({"typ": None}, "token_invalid"),
        ({"sid": "not-a-session"}, "session_revoked"),
    ],
)
def test_tampered_claims_refused(client, app, real_session, change, status):
    _, claims = real_session
    claims = {**claims, **change}
    claims = {k: v for k, v in claims.items() if v is not None}
    token = jwt.encode(claims, app.config["JWT_SECRET_KEY"], algorithm="HS256")
    resp = client.get("/api/v1/me", headers=bearer(token))
    assert resp.status_code == 401
    assert resp.get_json()["status"] == status


def test_other_users_sub_with_own_session_refused(client, app, real_session):
    tokens_b = login_citizen(client, "13911110001")
    _, claims_a = real_session
    claims_b = jwt.decode(tokens_b["access_token"], options={"verify_signature": False})
    forged = jwt.encode({**claims_a, "sub": claims_b["sub"]}, app.config["JWT_SECRET_KEY"], algorithm="HS256")
    assert client.get("/api/v1/me", headers=bearer(forged)).status_code == 401


def test_refresh_token_used_as_access_refused(client, real_session):
    tokens, _ = real_session
    assert client.get("/api/v1/me", headers=bearer(tokens["refresh_token"])).status_code == 401


def test_malformed_authorization_headers(client, real_session):
    tokens, _ = real_session
    for header in (tokens["access_token"], f"Basic {tokens['access_token']}", "Bearer ", "Bearer a.b.c"):
        assert client.get("/api/v1/me", headers={"Authorization": header}).status_code == 401
