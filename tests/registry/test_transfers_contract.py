"""The transfer endpoints in the OpenAPI document: Chinese summaries, multipart body with the file, the
Idempotency-Key, their error reasons — and real responses (success and errors) match what it documents."""

from __future__ import annotations

import io
from datetime import date

from sqlalchemy import select

from core import clock
from core.actor import Actor
from core.database import db
from core.registry import enrollments
from core.registry import transfers as transfer_service
from tests.api.test_openapi_contract import CJK, Checker
from tests.helpers import bound_citizen, id_number, jpeg_bytes, make_officer
from tests.registry.factory import make_enrollment

PATHS = {
    ("/api/v1/me/benefits/{enrollment_id}/transfer", "post"): {
        "benefit_not_found",
        "transfer_open",
        "transfer_not_allowed",
        "idempotency_key_reused",
    },
    ("/api/v1/me/transfers", "get"): set(),
    ("/api/v1/me/transfers/{transfer_id}", "get"): {"transfer_not_found"},
    ("/api/v1/me/transfers/{transfer_id}/cancel", "post"): {"transfer_not_found", "transfer_not_cancellable"},
}


def test_transfer_operations_are_documented(client):
    spec = client.get("/api/openapi.json").get_json()
    for (path, method), reasons in PATHS.items():
        operation = spec["paths"][path][method]
        assert CJK.search(operation["summary"]), path
        documented = set()
        for response in operation["responses"].values():
            documented |= set(response.get("content", {}).get("application/json", {}).get("examples", {}))
        assert reasons <= documented, (path, reasons - documented)
        if method == "post":
            assert "Idempotency-Key" in {p.get("name") for p in operation.get("parameters", [])}
    body = spec["paths"]["/api/v1/me/benefits/{enrollment_id}/transfer"]["post"]["requestBody"]["content"]
    schema = spec["components"]["schemas"][body["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]]
    assert schema["properties"]["file"]["format"] == "binary"
    assert set(schema["required"]) == {"to_township_code", "reason", "file"}
    ref = spec["paths"]["/api/v1/me/transfers/{transfer_id}"]["get"]["responses"]["200"]["content"]
    out = spec["components"]["schemas"][ref["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]
    assert {"status", "status_label", "text", "end_month", "first_month_new_county", "can_cancel"} <= set(
        out["properties"]
    )


def test_real_transfer_responses_match_the_document(client, app):
    spec = client.get("/api/openapi.json").get_json()
    check = Checker(spec)
    with app.app_context():
        eid = make_enrollment(seq=700, amount="905.00", members=2)
        other = make_enrollment(seq=710, head_name="赵六")
    headers = bound_citizen(client, "13900081001", "王大明", id_number(date(1970, 5, 6), 700 % 997 + 1))

    def post(eid_: int, key: str | None = None, **fields):
        data = {
            "to_township_code": "360121100",
            "reason": "户籍迁入莲塘镇",
            "file": (io.BytesIO(jpeg_bytes()), "h.jpg"),
        }
        data.update(fields)
        url = f"/api/v1/me/benefits/{eid_}/transfer"
        extra = {"Idempotency-Key": key} if key else {}
        resp = client.post(url, headers={**headers, **extra}, data=data, content_type="multipart/form-data")
        return resp, check("post", url, resp)

    _, created = post(eid, key="contract-transfer-1")
    post(eid, key="contract-transfer-1")  # replay
    post(eid, key="contract-transfer-1", reason="另一个原因")  # 422 idempotency_key_reused
    post(eid)  # 409 transfer_open
    post(other)  # 404 benefit_not_found
    post(eid, to_township_code="360124101")  # 422 same county
    tid = created["id"]
    for url in ("/api/v1/me/transfers", f"/api/v1/me/transfers/{tid}", "/api/v1/me/transfers/999999"):
        check("get", url, client.get(url, headers=headers))
    make_officer(app, "contract_old_county", "county_officer", "360124")
    with app.app_context():
        from core.accounts.models import Officer

        officer_id = db.session.scalar(select(Officer.id).where(Officer.username == "contract_old_county"))
        actor = Actor(kind="officer", id=officer_id, roles=("county_officer",), region_code="360124")
        transfer_service.release(actor, tid, end_month=enrollments.month_of(clock.local_today()))
        db.session.commit()
    url = f"/api/v1/me/transfers/{tid}"
    released = check("get", url, client.get(url, headers=headers))
    assert released["status"] == "released" and released["first_month_new_county"]
    cancel = f"/api/v1/me/transfers/{tid}/cancel"
    check("post", cancel, client.post(cancel, headers=headers))  # 409 transfer_not_cancellable
    assert {
        "post /api/v1/me/benefits/{enrollment_id}/transfer 201",
        "post /api/v1/me/benefits/{enrollment_id}/transfer 409",
    } <= (check.checked)
    assert len(check.checked) == 8, sorted(check.checked)
