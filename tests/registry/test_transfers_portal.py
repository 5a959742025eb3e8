"""资格转移 in the portal: the new township starts a transfer by the full ID number, the old county confirms
the end month, the new county accepts — each side sees it in its lists and queue, the 户口簿 page is viewable
(audited), a township cannot do the county's step, another county sees nothing, a stale form is a 409."""

from __future__ import annotations

import io
import re
from datetime import date

from sqlalchemy import select

from core import clock
from core.audit.models import AuditEntry
from core.casework.models import Case
from core.database import db
from core.regions import services as region_services
from core.registry import enrollments
from core.registry.models import Enrollment, Transfer
from tests.helpers import csrf_token, id_number, jpeg_bytes
from tests.portal.test_workflow import _officer
from tests.registry.factory import make_enrollment

NUMBER = id_number(date(1970, 5, 6), 800 % 997 + 1)


def _start(app):
    with app.app_context():
        eid = make_enrollment(seq=800, amount="905.00", members=2, head_name="王大明")
    new_township = _officer(app, "ptr_new_town", region="360121100", role="township_officer")
    page = new_township.get("/portal/transfers/new").get_data(as_text=True)
    token = csrf_token(page)
    found = new_township.post("/portal/transfers/new/search", data={"csrf_token": token, "id_number": NUMBER})
    html = found.get_data(as_text=True)
    assert found.status_code == 200 and "王大明" in html and "进贤县" in html and 'name="file"' in html
    bad = new_township.post("/portal/transfers/new/search", data={"csrf_token": token, "id_number": "123"})
    assert bad.status_code == 422
    none = new_township.post(
        "/portal/transfers/new/search", data={"csrf_token": token, "id_number": id_number(date(1990, 1, 1), 5)}
    )
    assert "未找到该身份证号在本省的在保待遇" in none.get_data(as_text=True)
    form = {
        "csrf_token": token,
        "id_number": NUMBER,
        "enrollment_id": str(eid),
        "to_township_code": "360121100",
        "to_village_code": "360121100002",
        "reason": "户籍迁入莲塘镇，持新户口簿办理",
    }
    no_file = new_township.post("/portal/transfers/new", data=form, content_type="multipart/form-data")
    assert no_file.status_code == 422 and "请上传新户口簿" in no_file.get_data(as_text=True)
    # a forged enrollment id (not the person's) finds nothing
    with app.app_context():
        stranger = make_enrollment(seq=810, head_name="赵六")
    forged = new_township.post(
        "/portal/transfers/new",
        data={**form, "enrollment_id": str(stranger), "file": (io.BytesIO(jpeg_bytes()), "户口簿.jpg")},
        content_type="multipart/form-data",
    )
    assert forged.status_code == 404
    # another township than the officer's own
    elsewhere = new_township.post(
        "/portal/transfers/new",
        data={**form, "to_township_code": "360121101", "file": (io.BytesIO(jpeg_bytes()), "户口簿.jpg")},
        content_type="multipart/form-data",
    )
    assert elsewhere.status_code == 422 and "只能转入本辖区" in elsewhere.get_data(as_text=True)
    created = new_township.post(
        "/portal/transfers/new",
        data={**form, "file": (io.BytesIO(jpeg_bytes()), "户口簿.jpg")},
        content_type="multipart/form-data",
    )
    assert created.status_code == 303, created.get_data(as_text=True)
    tid = int(re.search(r"/portal/transfers/(\d+)$", created.headers["Location"]).group(1))
    return eid, tid, new_township


def test_portal_flow_township_starts_old_county_releases_new_county_accepts(client, app):
    eid, tid, new_township = _start(app)
    with app.app_context():
        transfer = db.session.get(Transfer, tid)
        assert transfer.requested_by_officer_id is not None and transfer.to_village_code == "360121100002"
    detail = new_township.get(f"/portal/transfers/{tid}").get_data(as_text=True)
    assert "待原县确认" in detail and "确认转出" not in detail and "撤回本转移" in detail
    assert "王大明" in new_township.get("/portal/transfers?direction=incoming").get_data(as_text=True)
    assert "共 0 件" in new_township.get("/portal/transfers?direction=outgoing").get_data(as_text=True)

    old_county = _officer(app, "ptr_old_county", region="360124", role="county_officer")
    old_township = _officer(app, "ptr_old_town", region="360124100", role="township_officer")
    new_county = _officer(app, "ptr_new_county", region="360121", role="county_officer")
    with app.app_context():  # a third county of the city (real code), for "another county sees nothing"
        region_services.upsert_regions([{"code": "360123", "name": "安义县", "level": "county", "parent_code": "3601"}])
        db.session.commit()
    other_county = _officer(app, "ptr_other_county", region="360123", role="county_officer")
    assert other_county.get(f"/portal/transfers/{tid}").status_code == 404
    assert other_county.get(f"/portal/transfers/{tid}/hukou").status_code == 404
    assert "共 0 件" in other_county.get("/portal/transfers?direction=incoming").get_data(as_text=True)
    outgoing = old_county.get("/portal/transfers?direction=outgoing&status=requested").get_data(as_text=True)
    assert "王大明" in outgoing and "共 1 件" in outgoing
    assert "共 0 件" in old_county.get("/portal/transfers?direction=outgoing&status=accepted").get_data(as_text=True)
    # the release is work in the old county's queue
    queue = old_county.get("/portal/queue").get_data(as_text=True)
    assert "资格转移（待原县确认转出）：王大明" in queue
    with app.app_context():
        case_id = db.session.scalar(select(Case.id).where(Case.subject_type == "transfer", Case.status == "open"))
    assert old_county.get(f"/portal/cases/{case_id}").headers["Location"].endswith(f"/portal/transfers/{tid}")

    # the 户口簿 page: viewable, audited
    hukou = old_county.get(f"/portal/transfers/{tid}/hukou")
    assert hukou.status_code == 200 and hukou.mimetype == "image/jpeg" and hukou.data[:3] == b"\xff\xd8\xff"
    with app.app_context():
        assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "transfer.hukou_view")) is not None

    page = old_county.get(f"/portal/transfers/{tid}").get_data(as_text=True)
    assert "确认转出" in page
    token = csrf_token(page)
    end = enrollments.month_of(clock.local_today())
    # a township cannot release (county_only)
    town_page = old_township.get(f"/portal/transfers/{tid}").get_data(as_text=True)
    assert "确认转出" not in town_page
    denied = old_township.post(
        f"/portal/transfers/{tid}/release",
        data={"csrf_token": csrf_token(town_page), "end_month": end, "version": "1"},
    )
    assert denied.status_code == 403
    bad = old_county.post(
        f"/portal/transfers/{tid}/release", data={"csrf_token": token, "end_month": "2020-01", "version": "1"}
    )
    assert bad.status_code == 422 and "不能早于" in bad.get_data(as_text=True)
    ok = old_county.post(
        f"/portal/transfers/{tid}/release", data={"csrf_token": token, "end_month": end, "version": "1"}
    )
    assert ok.status_code == 302
    stale = old_county.post(
        f"/portal/transfers/{tid}/refuse", data={"csrf_token": token, "reason": "材料不符", "version": "1"}
    )
    assert stale.status_code in (403, 409)

    town_accept = new_township.post(
        f"/portal/transfers/{tid}/accept", data={"csrf_token": csrf_token(detail), "version": "2"}
    )
    assert town_accept.status_code == 403
    incoming = new_county.get("/portal/transfers?direction=incoming&township=360121100").get_data(as_text=True)
    assert "王大明" in incoming
    assert "资格转移（待新县接收）：王大明" in new_county.get("/portal/queue").get_data(as_text=True)
    page = new_county.get(f"/portal/transfers/{tid}").get_data(as_text=True)
    assert "新县接收" in page and "不予转移" in page
    token = csrf_token(page)
    conflict = new_county.post(f"/portal/transfers/{tid}/accept", data={"csrf_token": token, "version": "1"})
    assert conflict.status_code == 409 and "已被他人处理" in conflict.get_data(as_text=True)
    bad_amount = new_county.post(
        f"/portal/transfers/{tid}/accept", data={"csrf_token": token, "version": "2", "amount": "-1"}
    )
    assert bad_amount.status_code == 422
    accepted = new_county.post(
        f"/portal/transfers/{tid}/accept", data={"csrf_token": token, "version": "2", "amount": ""}
    )
    assert accepted.status_code == 302
    again = new_county.post(f"/portal/transfers/{tid}/accept", data={"csrf_token": token, "version": "3"})
    assert again.status_code == 409
    done = new_county.get(f"/portal/transfers/{tid}").get_data(as_text=True)
    assert "已完成转移" in done and "新县接收" not in done
    with app.app_context():
        transfer = db.session.get(Transfer, tid)
        new = db.session.get(Enrollment, transfer.new_enrollment_id)
        assert db.session.get(Enrollment, eid).status == "transferred"
        assert new.county_code == "360121" and new.village_code == "360121100002"
        assert str(new.monthly_amount) == "905.00"
        new_id = new.id
    # the new county sees the new enrollment in its registry, the old county the transferred one
    assert "王大明" in new_county.get("/portal/registry").get_data(as_text=True)
    assert new_county.get(f"/portal/registry/enrollments/{new_id}").status_code == 200
    assert new_county.get(f"/portal/registry/enrollments/{eid}").status_code == 404
    assert "已转出" in old_county.get(f"/portal/registry/enrollments/{eid}").get_data(as_text=True)
    # both counties were told in their inbox
    assert "资格转移待接收" in new_county.get("/portal/notifications").get_data(as_text=True)
    assert "资格转移已完成" in old_county.get("/portal/notifications").get_data(as_text=True)


def test_portal_refuse_and_cancel(client, app):
    eid, tid, new_township = _start(app)
    old_county = _officer(app, "ptr_old_county2", region="360124", role="county_officer")
    page = old_county.get(f"/portal/transfers/{tid}").get_data(as_text=True)
    token = csrf_token(page)
    empty = old_county.post(f"/portal/transfers/{tid}/refuse", data={"csrf_token": token, "reason": "", "version": "1"})
    assert empty.status_code == 422
    refused = old_county.post(
        f"/portal/transfers/{tid}/refuse",
        data={"csrf_token": token, "reason": "户口簿页模糊无法核实", "version": "1"},
    )
    assert refused.status_code == 302
    shown = new_township.get(f"/portal/transfers/{tid}").get_data(as_text=True)
    assert "已拒绝" in shown and "户口簿页模糊无法核实" in shown and "撤回本转移" not in shown
    # a new start, then withdrawn by the new township
    second = new_township.post(
        "/portal/transfers/new",
        data={
            "csrf_token": csrf_token(shown),
            "id_number": NUMBER,
            "enrollment_id": str(eid),
            "to_township_code": "360121100",
            "reason": "重新提交清晰的户口簿页",
            "file": (io.BytesIO(jpeg_bytes()), "户口簿.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert second.status_code == 303
    tid2 = int(second.headers["Location"].rsplit("/", 1)[1])
    page = new_township.get(f"/portal/transfers/{tid2}").get_data(as_text=True)
    cancelled = new_township.post(
        f"/portal/transfers/{tid2}/cancel", data={"csrf_token": csrf_token(page), "version": "1"}
    )
    assert cancelled.status_code == 302
    with app.app_context():
        assert db.session.get(Transfer, tid2).status == "cancelled"
        assert db.session.get(Enrollment, eid).status == "active"
    nav = new_township.get("/portal/transfers").get_data(as_text=True)
    assert 'data-testid="nav-transfers"' in nav and "资格转移" in nav
