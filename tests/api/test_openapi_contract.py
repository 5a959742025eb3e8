"""The OpenAPI document is a contract a mini-program team can generate a client from: valid OpenAPI 3, Chinese
summaries and English descriptions, every property described, realistic examples that match their schemas,
every error reason documented, the headers as sent — and the real responses match what it documents."""

from __future__ import annotations

import ast
import copy
import io
import json
import re
import uuid
from datetime import date

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate as validate_spec

import core.errors
from core import error_reasons
from core.idempotency.services import KEY_RE
from core.idnumber import validate_id_number
from core.regions.demo_data import DEMO_REGIONS
from tests.conftest import ROOT
from tests.helpers import bound_citizen, citizen_headers, draft_body, id_number, jpeg_bytes, png_bytes, upload

METHODS = ("get", "put", "post", "patch", "delete")
CJK = re.compile(r"[\u4e00-\u9fff]")
REGION_CODES = {code for code, *_ in DEMO_REGIONS}


@pytest.fixture
def spec(client) -> dict:
    resp = client.get("/api/openapi.json")
    assert resp.status_code == 200
    return resp.get_json()


def _operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def _strict(schema: object) -> object:
    """A copy where every object schema refuses undocumented properties (responses must not carry any)."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def _validator(spec: dict, schema: dict, *, strict: bool = True) -> OAS30Validator:
    components = _strict(spec["components"]) if strict else spec["components"]
    return OAS30Validator({**(_strict(schema) if strict else schema), "components": components})


def _errors_of(spec: dict, schema: dict, instance: object) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in _validator(spec, schema).iter_errors(instance)]


# --- the document itself ------------------------------------------------------------------------------------


def test_served_document_is_valid_openapi_3(spec):
    assert spec["openapi"].startswith("3.0")
    validate_spec(spec)  # raises on any error (formData parameters, string bounds, …)


def test_every_operation_has_a_chinese_summary_and_an_english_description(spec):
    for path, method, operation in _operations(spec):
        where = f"{method.upper()} {path}"
        assert CJK.search(operation.get("summary", "")), f"{where}: summary not Chinese: {operation.get('summary')!r}"
        description = operation.get("description", "")
        assert len(re.findall(r"[A-Za-z]+", description)) >= 5, f"{where}: no English description"


def _schemas_in(node: object, where: str):
    """Every inline or component schema with properties under ``node``."""
    if isinstance(node, dict):
        if isinstance(node.get("properties"), dict):
            yield where, node
        for key, value in node.items():
            yield from _schemas_in(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _schemas_in(value, f"{where}/{i}")


def test_every_property_and_parameter_is_described(spec):
    missing = []
    for where, schema in _schemas_in(spec, "#"):
        for name, prop in schema["properties"].items():
            if not prop.get("description"):
                missing.append(f"{where}.{name}")
    for path, method, operation in _operations(spec):
        for parameter in operation.get("parameters", []):
            if "$ref" not in parameter and not parameter.get("description"):
                missing.append(f"{method.upper()} {path} parameter {parameter['name']}")
    assert not missing, f"{len(missing)} undescribed: {missing[:20]}"


def _media_examples(media: dict) -> list:
    found = [media["example"]] if "example" in media else []
    found += [e["value"] for e in media.get("examples", {}).values()]
    return found


def test_every_json_body_and_success_response_has_examples_that_match_the_schema(spec):
    checked = 0
    for path, method, operation in _operations(spec):
        where = f"{method.upper()} {path}"
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None:
            examples = _media_examples(body)
            assert examples, f"{where}: request body without an example"
            for example in examples:
                assert not _errors_of(spec, body["schema"], example), (where, _errors_of(spec, body["schema"], example))
                checked += 1
        for status, response in operation["responses"].items():
            media = response.get("content", {}).get("application/json")
            if media is None:
                continue
            examples = _media_examples(media)
            if status.startswith("2"):
                assert examples, f"{where} {status}: response without an example"
            for example in examples:
                errors = _errors_of(spec, media["schema"], example)
                assert not errors, (where, status, errors)
                checked += 1
    assert checked > 100


def _strings(node: object, key: str = ""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v, key)
    elif isinstance(node, str):
        yield key, node


def test_examples_use_valid_id_numbers_and_real_region_codes(spec):
    ids = codes = 0
    for key, value in _strings(spec):
        if re.fullmatch(r"\d{17}[\dX]", value):
            assert not validate_id_number(value)[1], f"{key}: {value} is not a valid GB 11643 number"
            ids += 1
        if key.endswith("_code") and key != "dev_code" and re.fullmatch(r"\d{6}|\d{9}|\d{12}", value):
            assert value in REGION_CODES, f"{key}: {value} is no real region code"
            codes += 1
    assert ids >= 3 and codes >= 5


# --- errors ---------------------------------------------------------------------------------------------------


def test_error_reasons_are_an_enum_with_chinese_messages(spec):
    status = spec["components"]["schemas"]["ApiError"]["properties"]["status"]
    assert status["enum"] == list(error_reasons.api_reasons())
    assert len(status["x-enum-descriptions"]) == len(status["enum"])
    for reason, message in zip(status["enum"], status["x-enum-descriptions"], strict=True):
        assert CJK.search(message) and f"`{reason}`" in status["description"]
    assert {"sms_too_soon", "real_name_required", "duplicate_application", "idempotency_key_reused"} <= set(
        status["enum"]
    )
    assert not error_reasons.PORTAL_ONLY & set(status["enum"])


def test_every_error_response_is_documented_with_the_error_schema_and_its_reasons(spec):
    enum = set(spec["components"]["schemas"]["ApiError"]["properties"]["status"]["enum"])
    secured = 0
    for path, method, operation in _operations(spec):
        where = f"{method.upper()} {path}"
        responses = operation["responses"]
        if operation.get("security") != []:
            secured += 1
            assert "401" in responses, f"{where}: secured but no 401"
            assert "WWW-Authenticate" in responses["401"]["headers"]
        if "requestBody" in operation:
            assert "422" in responses and "413" in responses, where
        for status, response in responses.items():
            if status == "default" or status.startswith("2") or "$ref" in response:
                continue
            media = response["content"]["application/json"]
            if path in ("/healthz", "/readyz"):
                continue  # its 503 is the health body, not an error
            assert media["schema"] == {"$ref": "#/components/schemas/ApiError"}, (where, status)
            assert media["examples"], (where, status)
            for name, example in media["examples"].items():
                assert example["value"]["status"] == name and name in enum, (where, name)
                assert example["value"]["code"] == int(status), (where, name)
                assert f"`{name}`" in response["description"]
            if status in ("429", "503"):
                assert "Retry-After" in response["headers"], where
    assert secured >= 30


def _raised_reasons() -> list[tuple[str, str, int]]:
    """(file:line, reason, status of the raising class) for every ``code="…"`` in core/ and the API edge."""
    found = []
    for folder in ("core", "miniprogram_api"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                cls = getattr(core.errors, name, None)
                if not (isinstance(cls, type) and issubclass(cls, core.errors.DomainError)):
                    continue
                for keyword in node.keywords:
                    if keyword.arg == "code" and isinstance(keyword.value, ast.Constant):
                        found.append((f"{path.relative_to(ROOT)}:{node.lineno}", keyword.value.value, cls.status))
    return found


def test_every_reason_raised_is_registered_with_its_status():
    raised = _raised_reasons()
    assert len(raised) > 80
    for where, reason, status in raised:
        assert reason in error_reasons.REASONS, f"{where}: {reason!r} missing from core/error_reasons.py"
        assert error_reasons.REASONS[reason].status == status, f"{where}: {reason} is HTTP {status}"
    for cls in vars(core.errors).values():
        if isinstance(cls, type) and issubclass(cls, core.errors.DomainError):
            assert error_reasons.REASONS[cls.code].status == cls.status, cls
    # and nothing stale: every domain reason is raised somewhere
    assert set(error_reasons.DOMAIN) - {r for _, r, _ in raised} - {"edit_conflict"} == set()


def test_the_handler_answers_with_registered_reasons(client):
    assert client.get("/api/v1/nothing").get_json()["status"] == "not_found"
    assert client.delete("/api/v1/regions").get_json()["status"] == "method_not_allowed"
    resp = client.post("/api/v1/auth/sms/send", data="{", content_type="application/json")
    assert resp.status_code in (400, 422) and resp.get_json()["status"] in error_reasons.REASONS


# --- headers --------------------------------------------------------------------------------------------------

# Creates that hand out a secret token do not store their response (an Idempotency record keeps the body).
NOT_IDEMPOTENT_CREATES = {
    "/api/v1/applications/{application_id}/authorizations/{member}/qrcode",
    "/api/v1/applications/{application_id}/authorizations/{member}/handover",
    "/api/v1/authorizations/face/challenge",  # a fresh challenge is what a retry needs
    "/api/v1/me/real-name/face/challenge",
    "/api/v1/exchange/files",  # department systems: a retry is made harmless by batch_id (tests/exchange)
}


def test_idempotency_key_is_documented_with_its_pattern_on_every_create_and_upload(spec):
    with_key = 0
    for path, method, operation in _operations(spec):
        params = {p["name"]: p for p in operation.get("parameters", []) if "name" in p}
        content = operation.get("requestBody", {}).get("content", {})
        creates = method == "post" and ({"201", "202"} & set(operation["responses"]))
        must = "multipart/form-data" in content or (creates and path not in NOT_IDEMPOTENT_CREATES)
        if must:
            assert "Idempotency-Key" in params, f"{method.upper()} {path}: no Idempotency-Key"
        if "Idempotency-Key" in params:
            with_key += 1
            header = params["Idempotency-Key"]
            assert header["in"] == "header" and header["schema"]["pattern"] == KEY_RE.pattern
            assert re.fullmatch(header["schema"]["pattern"], header["example"])
            success = [r for s, r in operation["responses"].items() if s.startswith("2")]
            assert all("Idempotent-Replayed" in r["headers"] for r in success)
            assert "idempotency_key_reused" in operation["responses"]["422"]["content"]["application/json"]["examples"]
    assert with_key >= 11


def test_uploads_are_one_multipart_body_not_formdata_parameters(spec):
    uploads = 0
    for path, _method, operation in _operations(spec):
        assert all(p.get("in") in ("query", "header", "path", "cookie") for p in operation.get("parameters", []))
        multipart = operation.get("requestBody", {}).get("content", {}).get("multipart/form-data")
        if multipart:
            uploads += 1
            props = multipart["schema"].get("properties") or spec["components"]["schemas"][
                multipart["schema"]["$ref"].rsplit("/", 1)[1]
            ].get("properties")
            assert any(
                p.get("format") == "binary" or p.get("items", {}).get("format") == "binary" for p in props.values()
            ), path
    assert uploads == 6  # + the transfer request with the new 户口簿 page


def test_money_is_documented_as_decimal_strings(spec):
    schemas = spec["components"]["schemas"]
    for name, prop in (
        ("IncomeIn", "monthly_amount"),
        ("IncomeOut", "monthly_amount"),
        ("AssetIn", "value_yuan"),
        ("AssetOut", "area_sqm"),
        ("Program", "monthly_standard"),
    ):
        doc = schemas[name]["properties"][prop]
        assert (doc["type"], doc["format"]) == ("string", "decimal"), (name, prop)
        assert "minimum" not in doc and "maximum" not in doc


def test_x_pagination_is_documented_as_sent(client, spec):
    header = spec["components"]["headers"]["PAGINATION"]
    schema = header["content"]["application/json"]["schema"]
    documented = set(spec["components"]["schemas"]["PaginationMetadata"]["properties"])
    headers = citizen_headers(client, "13900081000")
    for _ in range(3):
        assert client.post("/api/v1/reports", headers=headers, json={"category": "other", "township_code": "360124100"})
    seen = []
    for query in ("?page=1&page_size=2", "?page=2&page_size=2", "?page=5&page_size=2"):
        resp = client.get(f"/api/v1/reports{query}", headers=headers)
        sent = json.loads(resp.headers["X-Pagination"])
        assert not _errors_of(spec, schema, sent), sent
        assert set(sent) <= documented
        seen.append(sent)
    assert seen[0] == {"total": 3, "total_pages": 2, "first_page": 1, "last_page": 2, "page": 1, "next_page": 2}
    empty = client.get("/api/v1/reports", headers=citizen_headers(client, "13900081001")).headers["X-Pagination"]
    assert json.loads(empty) == {"total": 0, "total_pages": 0}
    assert "page_size" not in spec["info"]["description"].split("X-Pagination")[1][:200]


# --- the real responses match the document -----------------------------------------------------------------------


class Checker:
    """Validates real responses against the operation's documented response for their status."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.checked: set[str] = set()
        self.paths = [
            (re.compile("^" + re.sub(r"\{\w+\}", r"[^/]+", p) + "$"), p) for p in spec["paths"] if "{" in p
        ] + [(re.compile("^" + re.escape(p) + "$"), p) for p in spec["paths"] if "{" not in p]

    def __call__(self, method: str, url: str, resp) -> dict | list | None:
        path = url.split("?")[0]
        template = next(t for rx, t in sorted(self.paths, key=lambda x: "{" in x[1]) if rx.match(path))
        operation = self.spec["paths"][template][method]
        status = str(resp.status_code)
        assert status in operation["responses"], f"{method.upper()} {template} answered undocumented {status}"
        documented = operation["responses"][status]
        body = resp.get_json(silent=True)
        media = documented.get("content", {}).get("application/json")
        if media is not None:
            errors = _errors_of(self.spec, media["schema"], body)
            assert not errors, (method.upper(), template, status, errors, body)
            if not status.startswith("2"):
                assert body["status"] in media["examples"], (template, status, body["status"])
        for name in ("X-Pagination", "Idempotent-Replayed", "Retry-After"):
            if name in resp.headers:
                assert name in documented.get("headers", {}), (template, status, name)
        self.checked.add(f"{method} {template} {status}")
        return body


def test_real_responses_match_the_documented_schemas(client, app, spec):
    check = Checker(spec)

    def call(method: str, url: str, **kw):
        resp = client.open(url, method=method.upper(), **kw)
        return resp, check(method, url, resp)

    call("get", "/api/v1/regions?parent=360124")
    call("get", "/api/v1/regions/360124100")
    call("get", "/api/v1/regions/999999999")
    call("get", "/api/v1/report-categories")
    call("get", "/healthz")
    call("get", "/readyz")
    call("get", "/livez")
    call("get", "/api/v1/me")  # no token: 401
    call("get", "/api/v1/me", headers={"Authorization": "Bearer not-a-jwt"})
    call("post", "/api/v1/auth/sms/send", json={"phone": "12345"})
    _, body = call("post", "/api/v1/auth/sms/send", json={"phone": "13900082000"})
    call("post", "/api/v1/auth/sms/send", json={"phone": "13900082000"})  # 429 sms_too_soon
    call("post", "/api/v1/auth/sms/verify", json={"phone": "13900082000", "code": "000000"})
    _, tokens = call("post", "/api/v1/auth/sms/verify", json={"phone": "13900082000", "code": body["dev_code"]})
    _, tokens = call("post", "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}

    person = ("张建国", id_number(date(1962, 4, 18), 11))
    call("post", "/api/v1/applications", headers=headers, json=draft_body(*person))  # 403 real_name_required
    call("post", "/api/v1/me/real-name", headers=headers, json={"name": person[0], "id_number": "360124196204180119"})
    call("post", "/api/v1/me/real-name", headers=headers, json={"name": person[0], "id_number": person[1]})
    call("post", "/api/v1/me/real-name/face/challenge", headers=headers)
    _, verification = call("post", "/api/v1/me/real-name/verify", headers=headers, json={"method": "id_service"})
    call("get", f"/api/v1/me/real-name/verifications/{verification['id']}", headers=headers)
    call("get", "/api/v1/me", headers=headers)

    call("get", "/api/v1/programs?region=360124100", headers=headers)
    _, created = call("post", "/api/v1/applications", headers=headers, json=draft_body(*person))
    assert created["incomes"][0]["monthly_amount"] == "300.00"  # a decimal string, as documented
    assert created["assets"][0]["area_sqm"] == "60.50"
    app_id = created["id"]
    call("patch", f"/api/v1/applications/{app_id}", headers=headers, json={"incomes": [{"category": "x"}]})
    call("patch", f"/api/v1/applications/{app_id}", headers=headers, json={"hardship_reason": "因病致贫"})
    resp = upload(client, headers, app_id, "hukou", jpeg_bytes(), "户口簿.jpg")
    attachment = check("post", f"/api/v1/applications/{app_id}/attachments", resp)
    assert upload(client, headers, app_id, "id_card", jpeg_bytes()).status_code == 201
    call("get", f"/api/v1/applications/{app_id}/attachments", headers=headers)
    call("get", f"/api/v1/applications/{app_id}/attachments/{attachment['id']}", headers=headers)
    call("get", f"/api/v1/applications/{app_id}/attachments/999", headers=headers)
    call("post", f"/api/v1/applications/{app_id}/submit", headers=headers)
    call("post", f"/api/v1/applications/{app_id}/submit", headers=headers)  # 409 already_submitted
    call("delete", f"/api/v1/applications/{app_id}", headers=headers)  # 409 not_a_draft
    call("get", f"/api/v1/applications/{app_id}", headers=headers)
    call("get", "/api/v1/applications/999999", headers=headers)
    call("get", "/api/v1/applications?status=submitted", headers=headers)
    call("get", f"/api/v1/applications/{app_id}/timeline", headers=headers)
    call("get", f"/api/v1/applications/{app_id}/authorizations", headers=headers)
    call("post", f"/api/v1/applications/{app_id}/corrections", headers=headers, json={"text": "补正"})
    call("post", f"/api/v1/applications/{app_id}/withdraw", headers=headers, json={"reason": "家庭收入已增加"})

    call("get", "/api/v1/authorizations/letter", headers=headers)  # 422: no token header
    call("get", "/api/v1/authorizations/letter", headers={**headers, "X-Authorization-Token": "nope"})

    _, report = call(
        "post", "/api/v1/reports", headers=headers, json={"category": "elderly_alone", "township_code": "360124100"}
    )
    call("get", "/api/v1/reports", headers=headers)
    call("get", f"/api/v1/reports/{report['id']}", headers=headers)
    resp = client.post(
        f"/api/v1/reports/{report['id']}/photos",
        headers=headers,
        data={"file": (io.BytesIO(png_bytes()), "p.png")},
        content_type="multipart/form-data",
    )
    check("post", f"/api/v1/reports/{report['id']}/photos", resp)
    call("post", "/api/v1/demo/cases", headers=headers, json={"township_code": "360124100", "title": "演示"})
    call("get", "/api/v1/demo/cases", headers=headers)
    call("post", "/api/v1/auth/logout", headers=headers)
    call("get", "/api/v1/me", headers=headers)  # 401 session_revoked
    assert len(check.checked) >= 45, "\n".join(sorted(check.checked))


def test_identity_service_down_is_503_with_retry_after(client, app, spec):
    from core.identity.providers import HttpIdentityService

    headers = citizen_headers(client, "13900083000")
    client.post(
        "/api/v1/me/real-name", headers=headers, json={"name": "李秀英", "id_number": id_number(date(1965, 9, 3), 22)}
    )
    original = app.extensions["identity_service"]
    app.extensions["identity_service"] = HttpIdentityService("http://127.0.0.1:9", "key", timeout=2)
    try:
        resp = client.post("/api/v1/me/real-name/verify", headers=headers, json={"method": "id_service"})
    finally:
        app.extensions["identity_service"] = original
    assert resp.status_code == 503 and resp.get_json()["status"] == "identity_service_down"
    assert resp.headers["Retry-After"] == "60"
    Checker(spec)("post", "/api/v1/me/real-name/verify", resp)


# --- attacker-style: idempotent uploads --------------------------------------------------------------------------


def _multipart_upload(client, headers, app_id: int, data: bytes, boundary: str):
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="material"\r\n\r\nhukou\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return client.post(
        f"/api/v1/applications/{app_id}/attachments",
        headers=headers,
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def test_a_retried_upload_is_stored_once_and_another_file_under_the_same_key_is_refused(client):
    person = ("王芳", id_number(date(1975, 5, 20), 24))
    headers = bound_citizen(client, "13900084000", *person)
    app_id = client.post("/api/v1/applications", headers=headers, json=draft_body(*person)).get_json()["id"]
    keyed = {**headers, "Idempotency-Key": str(uuid.uuid4())}
    photo = jpeg_bytes()
    first = _multipart_upload(client, keyed, app_id, photo, "boundary-one")
    retry = _multipart_upload(client, keyed, app_id, photo, "another-boundary-2")  # a new boundary, same parts
    assert first.status_code == retry.status_code == 201, first.get_json()
    assert retry.headers["Idempotent-Replayed"] == "true" and retry.get_json() == first.get_json()
    other = _multipart_upload(client, keyed, app_id, jpeg_bytes(size=(80, 60)), "boundary-one")
    assert other.status_code == 422 and other.get_json()["status"] == "idempotency_key_reused"
    listed = client.get(f"/api/v1/applications/{app_id}/attachments", headers=headers).get_json()
    assert len(listed) == 1


def test_a_file_sent_as_a_text_field_is_a_422_not_a_crash(client):
    person = ("赵磊", id_number(date(1983, 8, 8), 35))
    headers = bound_citizen(client, "13900085000", *person)
    app_id = client.post("/api/v1/applications", headers=headers, json=draft_body(*person)).get_json()["id"]
    resp = client.post(
        f"/api/v1/applications/{app_id}/attachments",
        headers=headers,
        data={"material": "hukou", "file": "not a file"},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422 and resp.get_json()["errors"] == {"file": ["请选择要上传的文件"]}
    report = client.post(
        "/api/v1/reports", headers=headers, json={"category": "other", "township_code": "360124100"}
    ).get_json()
    resp = client.post(
        f"/api/v1/reports/{report['id']}/photos",
        headers=headers,
        data={"file": "text"},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422


def test_examples_module_is_what_the_document_shows(spec):
    from miniprogram_api import examples

    post = spec["paths"]["/api/v1/applications"]["post"]
    shown = post["requestBody"]["content"]["application/json"]["examples"]["self"]["value"]
    assert shown == copy.deepcopy(examples.CREATE_IN)
    assert shown["members"][0]["id_number"] == examples.APPLICANT_ID == "360124196204180118"


def test_api_guide_lists_every_reason_and_covers_the_flows():
    guide = (ROOT / "docs" / "api-guide.md").read_text(encoding="utf-8")
    for reason, spec in error_reasons.api_reasons().items():
        assert f"| `{reason}` | {spec.status} | {spec.message} |" in guide, reason
    for topic in (
        "/api/v1/auth/sms/send",
        "/api/v1/auth/wechat",
        "/api/v1/auth/refresh",
        "/api/v1/me/real-name/verify",
        "Idempotency-Key",
        "Idempotent-Replayed",
        "multipart/form-data",
        "X-Pagination",
        "Retry-After",
        "#token=",
        "X-Authorization-Token",
        "/api/v1/authorizations/face/challenge",
        "/api/v1/authorizations/signature",
        "/api/v1/reports",
    ):
        assert topic in guide, topic
