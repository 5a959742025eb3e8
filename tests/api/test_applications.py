"""Online applications: drafts, materials, submit and routing, proxy, withdrawal, corrections."""

from __future__ import annotations

import io
import uuid
from datetime import date

from PIL import Image
from sqlalchemy import func, select

from core.applications.models import Application, ApplicationConflict
from core.casework.models import Case
from core.database import db
from core.notifications.models import OutboxMessage
from tests.helpers import (
    PDF_BYTES,
    bound_citizen,
    citizen_headers,
    draft_body,
    id_number,
    jpeg_bytes,
    png_bytes,
    submitted_application,
    upload,
)

ZHANG = ("张建国", id_number(date(1962, 4, 18), 11))
LI = ("李秀英", id_number(date(1965, 9, 2), 22))
WANG = ("王小红", id_number(date(1990, 1, 5), 33))


def _cases(app, application_id):
    with app.app_context():
        rows = db.session.scalars(select(Case).where(Case.subject_id == application_id).order_by(Case.id)).all()
        db.session.remove()
        return rows


def test_programs_for_a_region(client, app):
    headers = citizen_headers(client, "13900010000")
    resp = client.get("/api/v1/programs?region=360124100001", headers=headers)
    assert resp.status_code == 200
    programs = {p["program"]: p for p in resp.get_json()}
    assert set(programs) == {"dibao", "tekun", "linshi", "yiliao"}
    assert [m["label"] for m in programs["dibao"]["required_materials"]] == ["居民身份证", "户口簿"]
    assert programs["dibao"]["monthly_standard"] is None and programs["dibao"]["county_code"] == "360124"
    result = app.test_cli_runner().invoke(
        args=[
            "programs",
            "set-standard",
            "--county",
            "360124",
            "--program",
            "dibao",
            "--amount",
            "905",
            "--accept-days",
            "5",
        ]
    )
    assert result.exit_code == 0, result.output
    dibao = {p["program"]: p for p in client.get("/api/v1/programs?region=360124100", headers=headers).get_json()}
    assert dibao["dibao"]["monthly_standard"] == "905.00" and dibao["dibao"]["accept_working_days"] == 5
    bad = client.get("/api/v1/programs?region=999999", headers=headers)
    assert bad.status_code == 422 and bad.get_json()["errors"]["region"] == ["行政区划代码 999999 不存在"]


def test_program_settings_import_is_all_or_nothing(client, app, tmp_path):
    good = tmp_path / "standards.csv"
    good.write_text(
        "county_code,program,monthly_standard,required_materials,confirmation_delegated\n"
        "360124,dibao,880,id_card;hukou;income_proof,是\n360124,tekun,1144,,\n",
        encoding="utf-8",
    )
    runner = app.test_cli_runner()
    assert "imported 2 rows" in runner.invoke(args=["programs", "import", str(good)]).output
    bad = tmp_path / "bad.csv"
    bad.write_text("county_code,program,monthly_standard\n360124,dibao,999\n999999,dibao,-5\n", encoding="utf-8")
    result = runner.invoke(args=["programs", "import", str(bad)])
    assert result.exit_code != 0
    assert "第3行.county_code" in result.output and "第3行.monthly_standard" in result.output
    headers = citizen_headers(client, "13900010001")
    dibao = client.get("/api/v1/programs?region=360124100", headers=headers).get_json()[0]
    assert dibao["monthly_standard"] == "880.00"  # the bad file changed nothing
    assert [m["code"] for m in dibao["required_materials"]] == ["id_card", "hukou", "income_proof"]
    assert dibao["confirmation_delegated"] is True


def test_program_settings_import_xlsx(app, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["county_code", "program", "monthly_standard", "accept_working_days"])
    sheet.append(["360124", "linshi", 500, 2])
    path = tmp_path / "standards.xlsx"
    book.save(path)
    result = app.test_cli_runner().invoke(args=["programs", "import", str(path)])
    assert result.exit_code == 0 and "imported 1 rows" in result.output


def test_real_name_needed_before_applying(client):
    headers = citizen_headers(client, "13900010002")
    resp = client.post("/api/v1/applications", headers=headers, json={"program": "dibao"})
    assert resp.status_code == 403 and resp.get_json()["status"] == "real_name_required"


def test_draft_to_submission(client, app):
    headers = bound_citizen(client, "13900010003", *ZHANG)
    created = client.post("/api/v1/applications", headers=headers, json={"program": "dibao"})
    assert created.status_code == 201
    draft = created.get_json()
    assert draft["status"] == "draft" and draft["status_label"] == "草稿"
    assert draft["members"][0]["id_number"] == ZHANG[1] and draft["members"][0]["relation"] == "self"
    app_id = draft["id"]
    # the mini-program saves partial edits as the user types
    partial = client.patch(
        f"/api/v1/applications/{app_id}",
        headers=headers,
        json={"residence_address": "民和镇", "members": [{"name": "张", "id_number": "3601"}]},
    )
    assert partial.status_code == 200 and partial.get_json()["members"][0]["id_number"] == "3601"
    body = draft_body(
        *ZHANG,
        extra_members=[
            {"name": LI[0], "id_number": LI[1], "relation": "spouse", "health": "chronic", "employment": "farming"}
        ],
    )
    body.pop("program")
    saved = client.patch(f"/api/v1/applications/{app_id}", headers=headers, json=body)
    assert saved.status_code == 200 and len(saved.get_json()["members"]) == 2
    missing = client.post(f"/api/v1/applications/{app_id}/submit", headers=headers)
    assert missing.status_code == 422
    assert missing.get_json()["errors"]["attachments"] == ["缺少必需材料：居民身份证、户口簿"]
    assert upload(client, headers, app_id, "id_card", jpeg_bytes()).status_code == 201
    assert upload(client, headers, app_id, "hukou", PDF_BYTES, "hukou.pdf").status_code == 201
    key = str(uuid.uuid4())
    first = client.post(f"/api/v1/applications/{app_id}/submit", headers={**headers, "Idempotency-Key": key})
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["status"] == "submitted" and first.get_json()["status_label"] == "已提交，待受理"
    retry = client.post(f"/api/v1/applications/{app_id}/submit", headers={**headers, "Idempotency-Key": key})
    assert retry.status_code == 200 and retry.headers["Idempotent-Replayed"] == "true"
    again = client.post(f"/api/v1/applications/{app_id}/submit", headers=headers)
    assert again.status_code == 409
    cases = _cases(app, app_id)
    assert [(c.township_code, c.kind, c.is_info_copy, c.household_size) for c in cases] == [
        ("360124100", "application", False, 2)
    ]
    assert cases[0].due_date is not None
    timeline = client.get(f"/api/v1/applications/{app_id}/timeline", headers=headers).get_json()
    assert [e["kind"] for e in timeline] == ["submitted"]
    assert timeline[0]["text"] == "您的最低生活保障申请已提交，等待民和镇受理"
    with app.app_context():
        sms = db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "application_status"))
        assert sms.recipient == "13900010003" and sms.payload["status"] == "已提交" and sms.status == "sent"
    listing = client.get("/api/v1/applications", headers=headers)
    assert [a["id"] for a in listing.get_json()] == [app_id] and "X-Pagination" in listing.headers


def test_submit_validation_is_field_level(client):
    headers = bound_citizen(client, "13900010004", *ZHANG)
    body = draft_body(
        *ZHANG,
        extra_members=[
            {
                "name": LI[0],
                "id_number": LI[1][:-1] + ("0" if LI[1][-1] != "0" else "1"),
                "relation": "spouse",
                "health": "healthy",
                "employment": "farming",
            },
            {"name": "重复", "id_number": ZHANG[1], "relation": "child", "health": "disabled", "employment": "student"},
        ],
    )
    body["residence_village_code"] = "360124101001"  # a village of another township
    body["hukou_township_code"] = "360124100001"  # a village, not a township
    app_id = client.post("/api/v1/applications", headers=headers, json=body).get_json()["id"]
    resp = client.post(f"/api/v1/applications/{app_id}/submit", headers=headers)
    assert resp.status_code == 422
    errors = resp.get_json()["errors"]
    assert errors["members"]["1"]["id_number"] == ["身份证号码校验位不正确，请核对后重新输入"]
    assert errors["members"]["2"]["id_number"] == ["与第1位家庭成员的身份证号码重复"]
    assert errors["members"]["2"]["disability_grade"] == ["请选择残疾等级"]
    assert errors["residence_village_code"] == ["所选村（社区）不属于所选乡镇（街道）"]
    assert errors["hukou_township_code"] == ["岚湖社区居委会不是乡镇（街道），请重新选择"]


def test_bad_drafts_are_refused_at_once(client):
    headers = bound_citizen(client, "13900010005", *ZHANG)
    app_id = client.post("/api/v1/applications", headers=headers, json={"program": "dibao"}).get_json()["id"]
    cases = [
        (
            {"incomes": [{"category": "wages", "monthly_amount": "-1"}]},
            ("incomes", "0", "monthly_amount"),
            "月收入应在0到1000万元之间",
        ),
        ({"incomes": [{"category": "salary", "monthly_amount": "1"}]}, ("incomes", "0", "category"), "收入类别不正确"),
        ({"status": "approved"}, ("status",), "不允许的字段"),
        ({"created_by_user_id": 1}, ("created_by_user_id",), "不允许的字段"),
        ({"members": [{"relation": "boss"}]}, ("members", "0", "relation"), "与申请人关系不正确"),
        ({"assets": [{"kind": "car", "value_yuan": "NaN"}]}, ("assets", "0", "value_yuan"), None),
    ]
    for body, path, message in cases:
        resp = client.patch(f"/api/v1/applications/{app_id}", headers=headers, json=body)
        assert resp.status_code == 422, body
        node = resp.get_json()["errors"]
        for key in path:
            node = node[key]
        if message:
            assert node == [message], body


def test_member_of_another_open_application_is_flagged_not_refused(client, app):
    """Naming a person who is in another household's open application blocks neither side (issue 9)."""
    a = bound_citizen(client, "13900010006", *ZHANG)
    first = submitted_application(client, a, draft_body(*ZHANG))
    b = bound_citizen(client, "13900010007", *WANG)
    body = draft_body(
        *WANG,
        extra_members=[
            {"name": ZHANG[0], "id_number": ZHANG[1], "relation": "parent", "health": "serious", "employment": "unable"}
        ],
    )
    app_id = client.post("/api/v1/applications", headers=b, json=body).get_json()["id"]
    for material in ("id_card", "hukou"):
        upload(client, b, app_id, material, png_bytes(), "x.png")
    resp = client.post(f"/api/v1/applications/{app_id}/submit", headers=b)
    assert resp.status_code == 200 and resp.get_json()["status"] == "submitted"
    assert first["reference"] not in resp.get_data(as_text=True)
    with app.app_context():
        pairs = db.session.execute(
            select(ApplicationConflict.first_application_id, ApplicationConflict.second_application_id)
        ).all()
        assert [tuple(p) for p in pairs] == [(first["id"], app_id)]
        db.session.remove()
    # another program is no conflict
    other = dict(body, program="linshi")
    other_id = client.post("/api/v1/applications", headers=b, json=other).get_json()["id"]
    for material in ("id_card", "hardship_proof"):
        upload(client, b, other_id, material, png_bytes(), "x.png")
    assert client.post(f"/api/v1/applications/{other_id}/submit", headers=b).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ApplicationConflict)) == 1
        db.session.remove()


def test_hukou_township_gets_an_information_copy(client, app):
    headers = bound_citizen(client, "13900010008", *ZHANG)
    submitted = submitted_application(client, headers, draft_body(*ZHANG, hukou="360124101"))
    cases = _cases(app, submitted["id"])
    assert [(c.township_code, c.kind, c.is_info_copy) for c in cases] == [
        ("360124100", "application", False),
        ("360124101", "application_info", True),
    ]


def test_other_citizen_gets_404_everywhere(client):
    a = bound_citizen(client, "13900010009", *ZHANG)
    created = client.post("/api/v1/applications", headers=a, json=draft_body(*ZHANG)).get_json()
    attachment = upload(client, a, created["id"], "id_card", jpeg_bytes()).get_json()
    b = bound_citizen(client, "13900010010", *WANG)
    base = f"/api/v1/applications/{created['id']}"
    assert client.get(base, headers=b).status_code == 404
    assert client.patch(base, headers=b, json={"residence_address": "x"}).status_code == 404
    assert client.get(f"{base}/attachments/{attachment['id']}", headers=b).status_code == 404
    assert client.get(f"{base}/attachments", headers=b).status_code == 404
    assert client.delete(f"{base}/attachments/{attachment['id']}", headers=b).status_code == 404
    assert client.post(f"{base}/submit", headers=b).status_code == 404
    assert client.post(f"{base}/withdraw", headers=b, json={"reason": "x"}).status_code == 404
    assert client.get(f"{base}/timeline", headers=b).status_code == 404
    assert client.post(f"{base}/attachments", headers=b, data={"material": "id_card"}).status_code in (404, 422)
    assert client.get(f"{base}/attachments/{attachment['id']}", headers=a).status_code == 200


def test_uploads_are_checked_by_content(client, app):
    headers = bound_citizen(client, "13900010011", *ZHANG)
    app_id = client.post("/api/v1/applications", headers=headers, json={"program": "dibao"}).get_json()["id"]
    fake = upload(client, headers, app_id, "id_card", b"MZ\x90\x00 not really a jpeg", "id.jpg")
    assert fake.status_code == 422 and fake.get_json()["errors"]["file"] == ["只能上传JPG、PNG、PDF格式的文件"]
    broken = upload(client, headers, app_id, "id_card", b"\xff\xd8\xff\xe0garbage", "id.jpg")
    assert broken.status_code == 422 and broken.get_json()["errors"]["file"] == ["图片文件已损坏或格式不正确"]
    bomb = io.BytesIO()
    Image.new("1", (12000, 12000)).save(bomb, format="PNG")
    resp = upload(client, headers, app_id, "photo", bomb.getvalue(), "bomb.png")
    assert resp.status_code == 422 and resp.get_json()["errors"]["file"] == ["图片尺寸过大，请压缩后重新上传"]
    bad_material = upload(client, headers, app_id, "selfie", png_bytes(), "a.png")
    assert bad_material.status_code == 422 and "material" in bad_material.get_json()["errors"]
    app.config["MAX_UPLOAD_BYTES"] = 1000
    try:
        big = upload(client, headers, app_id, "photo", jpeg_bytes(size=(400, 400)) + b"\0" * 2000, "big.jpg")
    finally:
        app.config["MAX_UPLOAD_BYTES"] = 10 * 1024 * 1024
    assert big.status_code == 422 and "不能超过" in big.get_json()["errors"]["file"][0]


def test_exif_and_gps_are_stripped(client):
    headers = bound_citizen(client, "13900010012", *ZHANG)
    app_id = client.post("/api/v1/applications", headers=headers, json={"program": "dibao"}).get_json()["id"]
    original = jpeg_bytes(with_gps=True)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the test file really has GPS
    stored = upload(client, headers, app_id, "photo", original, "../../etc/passwd.jpg").get_json()
    assert stored["original_name"] == "passwd.jpg"
    download = client.get(f"/api/v1/applications/{app_id}/attachments/{stored['id']}", headers=headers)
    assert download.status_code == 200 and download.mimetype == "image/jpeg"
    image = Image.open(io.BytesIO(download.data))
    assert not image.getexif() and b"PhoneMaker" not in download.data


def test_withdraw_before_decision(client):
    headers = bound_citizen(client, "13900010013", *ZHANG)
    submitted = submitted_application(client, headers, draft_body(*ZHANG))
    url = f"/api/v1/applications/{submitted['id']}/withdraw"
    assert client.post(url, headers=headers, json={}).get_json()["errors"]["reason"] == ["此项为必填项"]
    resp = client.post(url, headers=headers, json={"reason": "家庭情况好转"})
    assert resp.status_code == 200 and resp.get_json()["status"] == "withdrawn"
    assert client.post(url, headers=headers, json={"reason": "再次"}).status_code == 409
    timeline = client.get(f"/api/v1/applications/{submitted['id']}/timeline", headers=headers).get_json()
    assert timeline[-1] == {**timeline[-1], "kind": "withdrawn", "reason": "家庭情况好转", "status_label": "已撤回"}


def test_proxy_application(client, app):
    # a village cadre applies for an elderly woman without a smartphone
    cadre = bound_citizen(client, "13900010014", *WANG)
    body = draft_body(*LI)
    body["on_behalf_of"] = {"name": LI[0], "id_number": LI[1], "relation": "cadre", "reason": "no_phone"}
    created = client.post("/api/v1/applications", headers=cadre, json=body)
    assert created.status_code == 201, created.get_json()
    draft = created.get_json()
    assert draft["is_proxy"] is True and draft["principal_confirmed"] is False
    assert draft["applicant_name"] == LI[0] and draft["members"][0]["id_number"] == LI[1]
    app_id = draft["id"]
    for material in ("id_card", "hukou"):
        upload(client, cadre, app_id, material, jpeg_bytes())
    assert client.post(f"/api/v1/applications/{app_id}/submit", headers=cadre).status_code == 200
    assert _cases(app, app_id)[0].is_proxy is True
    # the principal logs in later with her own identity: she sees it, and the cadre sees nothing else of hers
    principal = bound_citizen(client, "13900010015", *LI)
    mine = client.get("/api/v1/applications", headers=principal).get_json()
    assert [a["id"] for a in mine] == [app_id]
    own = client.post("/api/v1/applications", headers=principal, json={"program": "yiliao"}).get_json()
    assert client.get(f"/api/v1/applications/{own['id']}", headers=cadre).status_code == 404
    assert [a["id"] for a in client.get("/api/v1/applications", headers=cadre).get_json()] == [app_id]
    bad = client.post(
        "/api/v1/applications",
        headers=cadre,
        json={
            "program": "dibao",
            "on_behalf_of": {"name": "某", "id_number": "123", "relation": "boss", "reason": "x"},
        },
    )
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]["on_behalf_of"]) == {"name", "relation", "reason"}


def test_proxy_id_number_checked(client):
    cadre = bound_citizen(client, "13900010016", *WANG)
    resp = client.post(
        "/api/v1/applications",
        headers=cadre,
        json={
            "program": "dibao",
            "on_behalf_of": {
                "name": "李秀英",
                "id_number": LI[1][:-1] + ("0" if LI[1][-1] != "0" else "1"),
                "relation": "relative",
                "reason": "elderly",
            },
        },
    )
    assert resp.status_code == 422
    assert resp.get_json()["errors"]["on_behalf_of"]["id_number"] == ["身份证号码校验位不正确，请核对后重新输入"]


def test_nothing_is_created_twice_by_a_retried_create(client, app):
    headers = {**bound_citizen(client, "13900010017", *ZHANG), "Idempotency-Key": str(uuid.uuid4())}
    first = client.post("/api/v1/applications", headers=headers, json={"program": "dibao"})
    second = client.post("/api/v1/applications", headers=headers, json={"program": "dibao"})
    assert first.get_json()["id"] == second.get_json()["id"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Application)) == 1


def test_delete_draft(client, app):
    headers = bound_citizen(client, "13900010018", *ZHANG)
    draft = client.post("/api/v1/applications", headers=headers, json={"program": "dibao"}).get_json()
    stored = upload(client, headers, draft["id"], "id_card", jpeg_bytes()).get_json()
    other = bound_citizen(client, "13900010019", *WANG)
    assert client.delete(f"/api/v1/applications/{draft['id']}", headers=other).status_code == 404
    assert client.delete(f"/api/v1/applications/{draft['id']}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/applications/{draft['id']}", headers=headers).status_code == 404
    with app.app_context():
        from core.applications.models import Attachment

        assert db.session.get(Attachment, stored["id"]) is None
    submitted = submitted_application(client, headers, draft_body(*ZHANG))
    refused = client.delete(f"/api/v1/applications/{submitted['id']}", headers=headers)
    assert refused.status_code == 409 and refused.get_json()["status"] == "not_a_draft"
