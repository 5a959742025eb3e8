"""Bad input gets a clear 4xx, never a 5xx: every JSON endpoint of the OpenAPI document is sent malformed
bodies built from its own schema (wrong types, nulls, huge strings, unknown fields, wrong containers)."""

from __future__ import annotations

import re
from datetime import date

from tests.helpers import bound_citizen, draft_body, id_number

WRONG_VALUES = {
    "string": [12345, None, ["x"], {"a": 1}, "x" * 5000],
    "integer": ["abc", None, 1.5, -(10**12), {}],
    "number": ["abc", None, [], "NaN"],
    "boolean": ["maybe", 3, None],
    "array": ["x", 7, {"a": 1}, None],
    "object": ["x", 7, [1], None],
}


def _resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _bodies(spec: dict, schema: dict) -> list:
    schema = _resolve(spec, schema)
    bodies: list = [{}, [], "text", 42, None, {"unknown_field": 1}]
    for name, prop in (schema.get("properties") or {}).items():
        kind = _resolve(spec, prop).get("type", "object")
        for wrong in WRONG_VALUES.get(kind, WRONG_VALUES["string"]):
            bodies.append({name: wrong})
    return bodies


def test_no_json_endpoint_answers_5xx_to_bad_input(client, app):
    person = ("张建国", id_number(date(1962, 4, 18), 11))
    headers = bound_citizen(client, "13900070000", *person)
    app_id = client.post("/api/v1/applications", headers=headers, json=draft_body(*person)).get_json()["id"]
    report_id = client.post(
        "/api/v1/reports", headers=headers, json={"category": "other", "township_code": "360124100"}
    ).get_json()["id"]
    spec = client.get("/api/openapi.json").get_json()
    ids = {
        "application_id": app_id,
        "report_id": report_id,
        "case_id": 1,
        "member": 1,
        "attachment_id": 1,
        "photo_id": 1,
        "verification_id": 1,
        "code": "360124",
        "token": "not-a-token",
    }
    checked = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method not in ("post", "patch", "put"):
                continue
            content = (operation.get("requestBody") or {}).get("content", {})
            if "application/json" not in content:
                continue
            url = re.sub(r"\{(\w+)\}", lambda m: str(ids.get(m.group(1), 999999)), path)
            if path.endswith("/auth/sms/send"):
                continue  # rate-limited per phone; its validation is tested on its own
            for body in _bodies(spec, content["application/json"]["schema"]):
                resp = client.open(url, method=method.upper(), headers=headers, json=body)
                assert resp.status_code < 500, (method, url, body, resp.get_data(as_text=True)[:300])
                payload = resp.get_json(silent=True)
                if resp.status_code >= 400:
                    assert payload and re.search(r"[\u4e00-\u9fff]", payload["message"]), (url, body, payload)
                checked += 1
    assert checked > 200


def test_every_operation_is_documented(client):
    spec = client.get("/api/openapi.json").get_json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue  # path-level "parameters"
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
            assert operation.get("responses"), f"{method.upper()} {path} documents no response"
