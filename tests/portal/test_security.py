"""Authorization tested as an attacker would: no token, forged tokens, other audiences."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from werkzeug.routing import IntegerConverter

from miniprogram_api.security import PUBLIC_ENDPOINTS
from tests.conftest import ROOT
from tests.helpers import bearer, login_citizen


def _api_routes(app):
    for rule in app.url_map.iter_rules():
        if not (rule.rule.startswith("/api/") or rule.rule in ("/healthz", "/livez", "/readyz")):
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
        elif endpoint.startswith("exchange."):  # department systems: every call signed instead (tests/exchange)
            assert resp.status_code == 401, (endpoint, method, resp.status_code)
            assert resp.get_json()["status"] == "signature_missing"
            assert resp.headers["WWW-Authenticate"].startswith("Signature")
            checked += 1
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


# --- portal: redirects stay on-site, CSP, HSTS ---------------------------------------------------

OFF_SITE = [
    "//evil.example/x",
    "///evil.example/x",
    "/\\evil.example",
    "/portal\\..\\..\\/evil.example",
    "\\\\evil.example",
    "https://evil.example/portal/queue",
    "HTTPS://evil.example",
    "http:/portal/queue",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "%2F%2Fevil.example",
    "/%2F/evil.example",
    "/portal/%2e%2e/%2e%2e//evil.example",
    "/portal/../..//evil.example",
    "/%5Cevil.example",
    "%252F%252Fevil.example",
    "/portal%2F..%2F..%2F%2Fevil.example",
    "/\t/evil.example",
    "/%09/evil.example",
    "/portal/%0d%0aSet-Cookie:x=1",
    " //evil.example",
    "/portal@evil.example",
    "/portalx",
    "/api/v1/me",
]


@pytest.mark.parametrize("target", OFF_SITE)
def test_safe_target_refuses_off_site_variants(target):
    from portal.redirects import safe_target

    assert safe_target(target, "/portal/queue") == "/portal/queue"


@pytest.mark.parametrize(
    "target", ["/portal/queue", "/portal/", "/portal/?", "/portal/queue?bucket=overdue&q=%E5%BC%A0%20%E4%B8%89"]
)
def test_safe_target_keeps_portal_paths(target):
    from portal.redirects import safe_target

    assert safe_target(target, "/portal/queue") == target


@pytest.mark.parametrize("target", OFF_SITE[:12])
def test_login_next_cannot_leave_the_portal(app, target):
    import pyotp

    from core import clock
    from tests.helpers import PASSWORD, csrf_token, make_officer

    secret = make_officer(app, "next_redirect", "township_officer", "360124100")
    client = app.test_client()
    page = client.get("/portal/login", query_string={"next": target}).get_data(as_text=True)
    client.post(
        "/portal/login",
        query_string={"next": target},
        data={"username": "next_redirect", "password": PASSWORD, "csrf_token": csrf_token(page)},
    )
    page = client.get("/portal/login/totp").get_data(as_text=True)
    resp = client.post(
        "/portal/login/totp", data={"code": pyotp.TOTP(secret).at(clock.utcnow()), "csrf_token": csrf_token(page)}
    )
    assert resp.status_code == 302 and resp.headers["Location"] == "/portal/queue"


def test_login_next_on_site_is_followed(app):
    import pyotp

    from tests.helpers import PASSWORD, csrf_token, make_officer

    secret = make_officer(app, "next_ok", "township_officer", "360124100")
    client = app.test_client()
    first = client.get("/portal/reports?closed=1")
    assert first.status_code == 302
    login_url = first.headers["Location"]
    page = client.get(login_url).get_data(as_text=True)
    client.post(login_url, data={"username": "next_ok", "password": PASSWORD, "csrf_token": csrf_token(page)})
    page = client.get("/portal/login/totp").get_data(as_text=True)
    resp = client.post("/portal/login/totp", data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_token(page)})
    assert resp.headers["Location"] == "/portal/reports?closed=1"


@pytest.mark.parametrize("target", OFF_SITE)
def test_queue_back_cannot_leave_the_portal(app, target):
    from tests.helpers import csrf_token, make_officer, portal_login

    secret = make_officer(app, "back_redirect", "township_officer", "360124100")
    client = app.test_client()
    portal_login(client, "back_redirect", secret)
    token = csrf_token(client.get("/portal/queue").get_data(as_text=True))
    # both outcomes: an error (no cases chosen) and a success path share the check
    for data in ({"csrf_token": token, "back": target}, {"csrf_token": token, "back": target, "officer_id": "1"}):
        resp = client.post("/portal/queue/assign", data=data)
        assert resp.status_code == 303 and resp.headers["Location"] == "/portal/queue", (target, data)


def test_portal_csp_allows_no_inline_script(client):
    for url in ("/portal/login", "/portal/queue"):
        policy = client.get(url).headers["Content-Security-Policy"]
        directives = {d.split()[0]: d.split()[1:] for d in (p.strip() for p in policy.split(";")) if d}
        assert directives["script-src"] == ["'self'"], policy
        assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
        assert directives["object-src"] == ["'none'"] and directives["frame-ancestors"] == ["'none'"]


def test_templates_have_no_inline_script_or_handlers():
    import re

    root = ROOT / "portal" / "templates"
    templates = sorted(root.rglob("*.html"))
    assert len(templates) >= 10
    for path in templates:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text, re.I), f"inline <script> in {path}"
        assert not re.search(r"\son[a-z]+\s*=", text, re.I), f"inline event handler in {path}"
        assert "javascript:" not in text.lower(), f"javascript: URL in {path}"


def test_hsts_when_secure(app, monkeypatch):
    plain = app.test_client().get("/portal/login")
    assert "Strict-Transport-Security" not in plain.headers
    secure = app.test_client().get("/portal/login", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
    assert int(secure.headers["Strict-Transport-Security"].split("=")[1].split(";")[0]) >= 180 * 24 * 3600
    assert "Strict-Transport-Security" in app.test_client().get("/healthz", base_url="https://localhost").headers
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    behind_proxy = app.test_client().get("/portal/login")  # TLS ends at the proxy; the cookie is Secure
    assert behind_proxy.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Secure" in behind_proxy.headers["Set-Cookie"]
