"""The department-data pages: a data officer uploads a GBK file, the catalogue and the category page show
the load with its counts and error report; a look-up needs a purpose; another county sees nothing."""

from __future__ import annotations

import io
import re
from datetime import date

from core.database import commit, db
from core.idnumber import make_id_number
from core.registry.models import Person
from tests.exchange import factory
from tests.helpers import csrf_token, make_officer, portal_login


def test_upload_catalogue_category_errors_and_lookup(app, client):
    secret = make_officer(app, "jxdata", "data_officer", "360124")
    other = make_officer(app, "ncdata", "data_officer", "360121")
    number = make_id_number("360124", date(1950, 1, 1), 7)
    with app.app_context():
        dept = factory.department("jx-gongan", region="360124")
        db.session.add(Person(id_number=number, name="张三", residence_township_code="360124100"))
        commit()
        dept_id = dept.id
    portal_login(client, "jxdata", secret)
    page = client.get("/portal/catalogue/upload")
    assert page.status_code == 200 and "jx-gongan部门" in page.get_data(as_text=True)
    body = f"身份证号,姓名,死亡日期\r\n{number},张三,2026年3月1日\n=cmd|' /C calc'!A0,李四,2026-03-01\r\n".encode("gbk")
    resp = client.post(
        "/portal/catalogue/upload",
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "category": "deaths",
            "department_id": str(dept_id),
            "file": (io.BytesIO(body), "死亡名单.csv"),
        },
        content_type="multipart/form-data",
    )
    assert resp.status_code == 303, resp.get_data(as_text=True)
    page = client.get("/portal/catalogue/deaths").get_data(as_text=True)
    assert "死亡名单.csv" in page and "已完成" in page
    load_id = int(re.search(r'data-testid="load-(\d+)"', page).group(1))
    listing = client.get("/portal/catalogue").get_data(as_text=True)
    assert 'data-testid="category-deaths"' in listing and "2026-03-01" in listing
    report = client.get(f"/portal/catalogue/loads/{load_id}/errors.csv")
    assert report.status_code == 200
    text = report.get_data().decode("utf-8-sig")
    assert "'=cmd|" in text and "\n=cmd" not in text and ",=cmd" not in text
    form = client.get("/portal/catalogue/lookup").get_data(as_text=True)
    token = csrf_token(form)
    refused = client.post("/portal/catalogue/lookup", data={"csrf_token": token, "id_number": number, "purpose": ""})
    assert refused.status_code == 422
    found = client.post(
        "/portal/catalogue/lookup", data={"csrf_token": token, "id_number": number, "purpose": "核对死亡信息"}
    )
    assert found.status_code == 200 and "死亡人员" in found.get_data(as_text=True)
    # another county's data officer: no load, no report, no person
    client.get("/portal/logout")
    other_client = app.test_client()
    portal_login(other_client, "ncdata", other)
    assert "死亡名单.csv" not in other_client.get("/portal/catalogue/deaths").get_data(as_text=True)
    assert other_client.get(f"/portal/catalogue/loads/{load_id}/errors.csv").status_code == 404
    form = other_client.get("/portal/catalogue/lookup").get_data(as_text=True)
    resp = other_client.post(
        "/portal/catalogue/lookup",
        data={"csrf_token": csrf_token(form), "id_number": number, "purpose": "核对死亡信息"},
    )
    assert resp.status_code == 404 and "张三" not in resp.get_data(as_text=True)


def test_an_upload_larger_than_the_request_limit_streams_in(app, client):
    """MAX_CONTENT_LENGTH (16 MiB) stays for every other route; the department file upload takes 20 MiB."""
    secret = make_officer(app, "jxdata", "data_officer", "360124")
    number = make_id_number("360124", date(1950, 1, 1), 7)
    with app.app_context():
        dept = factory.department("jx-gongan", region="360124")
        commit()
        dept_id = dept.id
    portal_login(client, "jxdata", secret)
    page = client.get("/portal/catalogue/upload").get_data(as_text=True)
    line = f"{number},张三,2026-03-01\n".encode("gbk")
    body = "身份证号,姓名,死亡日期\n".encode("gbk") + line * (20 * 1024 * 1024 // len(line))
    assert len(body) > app.config["MAX_CONTENT_LENGTH"]
    resp = client.post(
        "/portal/catalogue/upload",
        data={
            "csrf_token": csrf_token(page),
            "category": "deaths",
            "department_id": str(dept_id),
            "file": (io.BytesIO(body), "big.csv"),
        },
        content_type="multipart/form-data",
    )
    assert resp.status_code == 303, resp.status_code
    page = client.get("/portal/catalogue/deaths").get_data(as_text=True)
    assert "big.csv" in page and "已完成" in page
    # another route still refuses a body over the limit
    token = csrf_token(client.get("/portal/catalogue/lookup").get_data(as_text=True))
    big = client.post("/portal/catalogue/lookup", data={"csrf_token": token, "purpose": "x" * (17 * 1024 * 1024)})
    assert big.status_code == 413
