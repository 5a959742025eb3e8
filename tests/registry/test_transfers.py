"""资格转移 (省内): the household asks through the API, the old county confirms the end month, the new county
accepts — the enrollment continues in the new county from the month after, both counties and the household
are told; another province, the same county, another household and the wrong officer are refused."""

from __future__ import annotations

import io
from datetime import date

import pytest
from sqlalchemy import select

from core import clock
from core.actor import Actor
from core.audit.models import AuditEntry
from core.casework.models import Case
from core.database import db
from core.notifications.models import OutboxMessage
from core.regions import services as region_services
from core.registry import enrollments
from core.registry import transfers as transfer_service
from core.registry.models import Enrollment, EnrollmentEvent, EnrollmentMember, Household, Person, PersonFact, Transfer
from tests.helpers import bound_citizen, id_number, jpeg_bytes, make_officer, pdf_bytes
from tests.registry.factory import make_enrollment


def _actor(app, username: str, role: str, region: str) -> Actor:
    """A real officer (the transfer row names who acted) as the Actor the services take."""
    from core.accounts.models import Officer

    make_officer(app, username, role, region)
    with app.app_context():
        officer_id = db.session.scalar(select(Officer.id).where(Officer.username == username))
    return Actor(kind="officer", id=officer_id, roles=(role,), region_code=region)


@pytest.fixture
def officers(app):
    return {
        "old_county": _actor(app, "tr_old_county", "county_officer", "360124"),
        "new_county": _actor(app, "tr_new_county", "county_officer", "360121"),
        "new_township": _actor(app, "tr_new_township", "township_officer", "360121100"),
        "old_township": _actor(app, "tr_old_township", "township_officer", "360124100"),
    }


def _this_month() -> str:
    return enrollments.month_of(clock.local_today())


def _household(client, app, seq: int, phone: str):
    """An enrollment in 民和镇 (进贤县) whose payee is a verified citizen; returns (headers, enrollment id)."""
    with app.app_context():
        eid = make_enrollment(seq=seq, amount="905.00", members=3)
    headers = bound_citizen(client, phone, "王大明", id_number(date(1970, 5, 6), seq % 997 + 1))
    return headers, eid


def _request(client, headers, eid, *, township="360121100", village="360121100001", key=None, data=None, **extra):
    body = {
        "to_township_code": township,
        "reason": "户籍随子女迁入南昌县莲塘镇",
        "to_address": "府前路88号",
        "file": (io.BytesIO(data if data is not None else jpeg_bytes()), "户口簿.jpg"),
        **extra,
    }
    if village:
        body["to_village_code"] = village
    return client.post(
        f"/api/v1/me/benefits/{eid}/transfer",
        headers={**headers, **({"Idempotency-Key": key} if key else {})},
        data=body,
        content_type="multipart/form-data",
    )


def _outbox(app, template: str) -> list[OutboxMessage]:
    with app.app_context():
        rows = list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == template)))
        db.session.expunge_all()
        return rows


def test_full_flow_request_release_accept(client, app, officers):
    OLD_COUNTY, NEW_COUNTY = officers["old_county"], officers["new_county"]
    headers, eid = _household(client, app, 600, "13900080001")
    resp = _request(client, headers, eid, key="transfer-key-0001")
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["status"] == "requested" and body["status_label"] == "待原县确认" and body["can_cancel"] is True
    assert body["to_county_name"] == "南昌县" and body["to_township_name"] == "莲塘镇"
    assert body["to_village_name"] == "府前路社区居委会" and body["from_county_name"] == "进贤县"
    assert "等待原县民政部门确认" in body["text"]
    tid = body["id"]
    # a retry with the same key replays; one transfer
    again = _request(client, headers, eid, key="transfer-key-0001")
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json()["id"] == tid
    # a second request while one is open: 409 transfer_open
    second = _request(client, headers, eid, key="transfer-key-0002")
    assert second.status_code == 409 and second.get_json()["status"] == "transfer_open"
    benefit = client.get(f"/api/v1/me/benefits/{eid}", headers=headers).get_json()
    assert benefit["open_transfer"]["id"] == tid and benefit["can_transfer"] is False
    listed = client.get("/api/v1/me/transfers", headers=headers).get_json()
    assert [t["id"] for t in listed] == [tid]

    with app.app_context():
        assert db.session.scalar(select(Transfer.id).where(Transfer.enrollment_id == eid)) == tid
        assert len(db.session.scalars(select(Transfer)).all()) == 1
        case = db.session.scalar(select(Case).where(Case.subject_type == "transfer", Case.subject_id == tid))
        assert case.kind == "transfer" and case.township_code == "360124100" and case.status == "open"
        end = _this_month()
        transfer_service.release(OLD_COUNTY, tid, end_month=end)
        db.session.commit()
        cases = db.session.scalars(select(Case).where(Case.subject_type == "transfer").order_by(Case.id)).all()
        assert [(c.township_code, c.status) for c in cases] == [("360124100", "closed"), ("360121100", "open")]
    detail = client.get(f"/api/v1/me/transfers/{tid}", headers=headers).get_json()
    first = enrollments.add_months(end, 1)
    assert detail["status"] == "released" and detail["end_month"] == end
    assert detail["first_month_new_county"] == first and detail["can_cancel"] is False
    cancel = client.post(f"/api/v1/me/transfers/{tid}/cancel", headers=headers)
    assert cancel.status_code == 409 and cancel.get_json()["status"] == "transfer_not_cancellable"

    with app.app_context():
        transfer_service.accept(NEW_COUNTY, tid)
        db.session.commit()
        old = db.session.get(Enrollment, eid)
        transfer = db.session.get(Transfer, tid)
        new = db.session.get(Enrollment, transfer.new_enrollment_id)
        assert transfer.status == "accepted"
        assert old.status == "transferred" and old.end_month == end
        assert new.status == "active" and new.county_code == "360121" and new.township_code == "360121100"
        assert new.village_code == "360121100001" and new.start_month == first
        assert new.decision_ref == f"transfer:{tid}" and new.transferred_from_id == eid
        assert new.monthly_amount == old.monthly_amount and new.program == old.program
        assert new.application_id is None and new.bank_account_last4 == "0123"
        assert new.next_review_date == old.next_review_date
        old_members = {m.person_id for m in db.session.scalars(select(EnrollmentMember).filter_by(enrollment_id=eid))}
        new_members = {
            m.person_id for m in db.session.scalars(select(EnrollmentMember).filter_by(enrollment_id=new.id))
        }
        assert old_members == new_members and len(new_members) == 3
        kinds = [
            (e.enrollment_id, e.kind, e.source_type)
            for e in db.session.scalars(select(EnrollmentEvent).order_by(EnrollmentEvent.id))
        ]
        assert (eid, "transferred_out", "transfer") in kinds and (new.id, "transferred_in", "transfer") in kinds
        household = db.session.get(Household, old.household_id)
        assert household.residence_township_code == "360121100" and household.hukou_township_code == "360121100"
        assert household.county_code == "360121" and household.address == "府前路88号"
        head = db.session.get(Person, old.person_id)
        assert head.residence_township_code == "360121100" and head.county_code == "360121"
        facts = db.session.scalars(
            select(PersonFact).where(PersonFact.person_id == head.id, PersonFact.source_type == "transfer")
        ).all()
        assert {f.field for f in facts} >= {"residence_township_code", "hukou_township_code"}
        assert all(f.source_id == str(tid) for f in facts)
        assert all(
            c.status == "closed" for c in db.session.scalars(select(Case).where(Case.subject_type == "transfer"))
        )
        db.session.remove()

    # the household was told at each step, both counties in their inbox
    household_texts = [m.payload["text"] for m in _outbox(app, "enrollment_change")]
    assert any("已提交" in t for t in household_texts)
    assert any("原县已确认" in t for t in household_texts)
    assert any("已转往新户籍地" in t for t in household_texts)
    assert any("已由新户籍地接续" in t for t in household_texts)
    portal = _outbox(app, "registry_transfer")
    with app.app_context():
        from core.accounts.models import Officer

        by_name = {o.id: o.username for o in db.session.scalars(select(Officer))}
    titles = {(by_name[int(m.recipient.split(":")[1])], m.payload["title"]) for m in portal}
    assert ("tr_old_county", "资格转移待确认转出") in titles
    assert ("tr_new_county", "资格转移待接收") in titles
    assert ("tr_old_county", "资格转移已完成") in titles
    assert all(m.payload["link"] == f"/portal/transfers/{tid}" for m in portal)

    # /me/benefits shows the new one, active in the new county, and the old one transferred
    rows = client.get("/api/v1/me/benefits", headers=headers).get_json()
    assert [(r["status"], r["township_name"]) for r in rows] == [("active", "莲塘镇"), ("transferred", "民和镇")]
    history = client.get(f"/api/v1/me/benefits/{rows[0]['id']}", headers=headers).get_json()["history"]
    assert history[0]["kind"] == "transferred_in" and f"自{first[:4]}年{int(first[5:])}月起" in history[0]["text"]
    assert client.get(f"/api/v1/me/transfers/{tid}", headers=headers).get_json()["new_enrollment_id"] == rows[0]["id"]


def test_cross_province_same_county_and_bad_input_are_field_errors(client, app):
    with app.app_context():
        region_services.upsert_regions(
            [
                {"code": "33", "name": "浙江省", "level": "province", "parent_code": None},
                {"code": "3311", "name": "丽水市", "level": "city", "parent_code": "33"},
                {"code": "331102", "name": "莲都区", "level": "county", "parent_code": "3311"},
                {"code": "331102001", "name": "紫金街道", "level": "township", "parent_code": "331102"},
            ]
        )
        db.session.commit()
    headers, eid = _household(client, app, 610, "13900080002")
    cases = {
        "331102001": "只能在江西省内办理",
        "360124101": "同一县（市、区）",
        "999999999": "不存在",
        "3601": "9位区划代码",
    }
    for code, message in cases.items():
        resp = _request(client, headers, eid, township=code, village=None)
        assert resp.status_code == 422, code
        assert message in resp.get_json()["errors"]["to_township_code"][0], resp.get_json()
    wrong_village = _request(client, headers, eid, village="360124100001")
    assert (
        wrong_village.status_code == 422 and "不属于莲塘镇" in wrong_village.get_json()["errors"]["to_village_code"][0]
    )
    no_reason = _request(client, headers, eid, reason="  ")
    assert no_reason.status_code == 422 and "reason" in no_reason.get_json()["errors"]
    text_file = _request(client, headers, eid, data=b"just some text, not an image")
    assert text_file.status_code == 422 and "JPG" in text_file.get_json()["errors"]["file"][0]
    missing_file = client.post(
        f"/api/v1/me/benefits/{eid}/transfer",
        headers=headers,
        data={"to_township_code": "360121100", "reason": "迁户"},
        content_type="multipart/form-data",
    )
    assert missing_file.status_code == 422 and missing_file.get_json()["errors"]["file"] == ["此项为必填项"]
    pdf = _request(client, headers, eid, data=pdf_bytes())
    assert pdf.status_code == 201
    with app.app_context():
        assert db.session.scalar(select(Transfer.hukou_content_type)) == "application/pdf"
        assert len(db.session.scalars(select(Transfer)).all()) == 1


def test_another_household_gets_404_and_unverified_nothing(client, app):
    headers, eid = _household(client, app, 620, "13900080003")
    with app.app_context():
        other = make_enrollment(seq=630, head_name="赵六")
    assert _request(client, headers, other).status_code == 404
    assert _request(client, headers, other).get_json()["status"] == "benefit_not_found"
    assert _request(client, headers, 2**31 + 7).status_code == 404
    tid = _request(client, headers, eid).get_json()["id"]
    stranger = bound_citizen(client, "13900080004", "赵六", id_number(date(1970, 5, 6), 630 % 997 + 1))
    assert client.get(f"/api/v1/me/transfers/{tid}", headers=stranger).status_code == 404
    assert client.get(f"/api/v1/me/transfers/{tid}", headers=stranger).get_json()["status"] == "transfer_not_found"
    assert client.post(f"/api/v1/me/transfers/{tid}/cancel", headers=stranger).status_code == 404
    assert client.get("/api/v1/me/transfers", headers=stranger).get_json() == []
    assert client.get("/api/v1/me/transfers").status_code == 401


def test_cancel_by_requester_member_sees_but_cannot_cancel(client, app):
    headers, eid = _household(client, app, 640, "13900080005")
    tid = _request(client, headers, eid).get_json()["id"]
    member = bound_citizen(client, "13900080006", "王小红", id_number(date(2001, 1, 1), 640 % 997 + 1))
    seen = client.get(f"/api/v1/me/transfers/{tid}", headers=member).get_json()
    assert seen["status"] == "requested" and seen["can_cancel"] is False
    denied = client.post(f"/api/v1/me/transfers/{tid}/cancel", headers=member)
    assert denied.status_code == 403 and denied.get_json()["status"] == "forbidden"
    done = client.post(f"/api/v1/me/transfers/{tid}/cancel", headers={**headers, "Idempotency-Key": "cancel-0001"})
    assert done.status_code == 200 and done.get_json()["status"] == "cancelled"
    assert client.post(f"/api/v1/me/transfers/{tid}/cancel", headers=headers).status_code == 409
    with app.app_context():
        assert all(
            c.status == "closed" for c in db.session.scalars(select(Case).where(Case.subject_type == "transfer"))
        )
        assert db.session.get(Enrollment, eid).status == "active"
    # after a cancel a new request is possible again
    assert _request(client, headers, eid).status_code == 201


def test_permissions_double_accept_refusals_and_end_month_bounds(client, app, officers):
    OLD_COUNTY, NEW_COUNTY = officers["old_county"], officers["new_county"]
    OLD_TOWNSHIP, NEW_TOWNSHIP = officers["old_township"], officers["new_township"]
    headers, eid = _household(client, app, 650, "13900080007")
    tid = _request(client, headers, eid).get_json()["id"]
    with app.app_context():
        end = _this_month()
        for actor, code in ((OLD_TOWNSHIP, "county_only"), (NEW_COUNTY, "forbidden"), (NEW_TOWNSHIP, "forbidden")):
            try:
                transfer_service.release(actor, tid, end_month=end)
            except Exception as err:  # noqa: BLE001
                assert getattr(err, "code", None) == code, (actor, err)
            else:
                raise AssertionError(f"{actor} released")
            db.session.rollback()
        another_county = Actor(kind="officer", id=905, roles=("county_officer",), region_code="360123")
        try:
            transfer_service.release(another_county, tid, end_month=end)
        except Exception as err:  # noqa: BLE001
            assert err.code == "transfer_not_found"
        db.session.rollback()
        for bad, message in (
            ("2026-13", "格式"),
            (enrollments.add_months(end, -3), "不能早于"),
            (enrollments.add_months(end, 4), "不能晚于"),
        ):
            try:
                transfer_service.release(OLD_COUNTY, tid, end_month=bad)
            except Exception as err:  # noqa: BLE001
                assert message in err.errors["end_month"][0], (bad, err.errors)
            else:
                raise AssertionError(bad)
            db.session.rollback()
        try:
            transfer_service.accept(NEW_COUNTY, tid)
        except Exception as err:  # noqa: BLE001
            assert err.code == "invalid_transfer_transition"
        db.session.rollback()
        transfer_service.release(OLD_COUNTY, tid, end_month=end, version=1)
        db.session.commit()
        for actor, code in ((NEW_TOWNSHIP, "county_only"), (OLD_COUNTY, "forbidden")):
            try:
                transfer_service.accept(actor, tid)
            except Exception as err:  # noqa: BLE001
                assert err.code == code
            else:
                raise AssertionError(actor)
            db.session.rollback()
        try:
            transfer_service.accept(NEW_COUNTY, tid, amount="-5")
        except Exception as err:  # noqa: BLE001
            assert "负数" in err.errors["amount"][0]
        db.session.rollback()
        try:
            transfer_service.accept(NEW_COUNTY, tid, version=1)  # a stale form
        except Exception as err:  # noqa: BLE001
            assert err.code == "edit_conflict"
        db.session.rollback()
        transfer_service.accept(NEW_COUNTY, tid, amount="980.50")
        db.session.commit()
        new_id = db.session.get(Transfer, tid).new_enrollment_id
        assert str(db.session.get(Enrollment, new_id).monthly_amount) == "980.50"
        # accepting twice: one outcome
        try:
            transfer_service.accept(NEW_COUNTY, tid)
        except Exception as err:  # noqa: BLE001
            assert err.code == "invalid_transfer_transition"
        else:
            raise AssertionError("accepted twice")
        db.session.rollback()
        try:
            transfer_service.refuse(NEW_COUNTY, tid, reason="晚了")
        except Exception as err:  # noqa: BLE001
            assert err.code == "invalid_transfer_transition"
        db.session.rollback()
        assert db.session.scalar(select(Enrollment.id).where(Enrollment.decision_ref == f"transfer:{tid}")) == new_id
        assert len(db.session.scalars(select(Enrollment).where(Enrollment.transferred_from_id == eid)).all()) == 1
        db.session.remove()


def test_refusals_carry_the_reason_to_household_and_other_county(client, app, officers):
    OLD_COUNTY, NEW_COUNTY = officers["old_county"], officers["new_county"]
    headers, eid = _household(client, app, 660, "13900080008")
    tid = _request(client, headers, eid).get_json()["id"]
    with app.app_context():
        try:
            transfer_service.refuse(OLD_COUNTY, tid, reason=" ")
        except Exception as err:  # noqa: BLE001
            assert "reason" in err.errors
        db.session.rollback()
        transfer_service.refuse(OLD_COUNTY, tid, reason="户口簿页与户籍信息不符")
        db.session.commit()
        assert db.session.get(Enrollment, eid).status == "active"
    body = client.get(f"/api/v1/me/transfers/{tid}", headers=headers).get_json()
    assert body["status"] == "refused" and body["refusal_reason"] == "户口簿页与户籍信息不符"
    assert "户口簿页与户籍信息不符" in body["text"]
    assert any("未获原县同意" in m.payload["text"] for m in _outbox(app, "enrollment_change"))
    assert any(m.payload["title"] == "资格转移未通过" for m in _outbox(app, "registry_transfer"))
    # the new county refuses a released one
    tid2 = _request(client, headers, eid).get_json()["id"]
    with app.app_context():
        transfer_service.release(OLD_COUNTY, tid2, end_month=_this_month())
        transfer_service.refuse(NEW_COUNTY, tid2, reason="经核实户籍未迁入本县")
        db.session.commit()
        assert db.session.get(Transfer, tid2).status == "refused"
        assert db.session.get(Enrollment, eid).status == "active"
        assert db.session.get(Enrollment, eid).end_month is None
        assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "transfer.refuse")) is not None


def test_suspended_stays_suspended_exited_cannot_move_and_locked_roll_bounds_the_end_month(client, app, officers):
    from decimal import Decimal

    from core.registry.models import PaymentRoll, PaymentRollLine

    OLD_COUNTY, NEW_COUNTY = officers["old_county"], officers["new_county"]
    headers, eid = _household(client, app, 670, "13900080009")
    this_month = _this_month()
    with app.app_context():
        enrollment = db.session.get(Enrollment, eid)
        enrollments.change(OLD_COUNTY, enrollment, "suspended", reason="外出务工，暂停待核")
        # the county already locked next month's roll with this household on it
        next_month = enrollments.add_months(this_month, 1)
        roll = PaymentRoll(county_code="360124", month=next_month, status="draft", line_count=1, payable_count=1)
        db.session.add(roll)
        db.session.flush()
        db.session.add(
            PaymentRollLine(
                roll_id=roll.id,
                enrollment_id=eid,
                township_code="360124100",
                program="dibao",
                payee_name="王大明",
                member_count=3,
                amount=Decimal("905.00"),
                change="unchanged",
            )
        )
        db.session.flush()
        roll.status = "locked"  # lines first: the database refuses lines on a locked roll
        db.session.commit()
    tid = _request(client, headers, eid).get_json()["id"]
    with app.app_context():
        try:
            transfer_service.release(OLD_COUNTY, tid, end_month=this_month)
        except Exception as err:  # noqa: BLE001
            assert f"不能早于{next_month}" in err.errors["end_month"][0], err.errors
        else:
            raise AssertionError("released before a paid month")
        db.session.rollback()
        transfer_service.release(OLD_COUNTY, tid, end_month=next_month)
        transfer_service.accept(NEW_COUNTY, tid)
        db.session.commit()
        new = db.session.get(Enrollment, db.session.get(Transfer, tid).new_enrollment_id)
        assert new.status == "suspended" and new.status_reason == "外出务工，暂停待核"
        assert new.start_month == enrollments.add_months(next_month, 1)
        db.session.remove()
    # the old (transferred) enrollment cannot move again
    moved = _request(client, headers, eid)
    assert moved.status_code == 409 and moved.get_json()["status"] == "transfer_not_allowed"
