"""Periodic review (复核): a county's campaign puts every current enrollment in its townships' queues; the
township records the outcome after the home visit; the enrollment changes through its own events; progress
per township in the portal and in Excel. Scope, double starts, double submits and bad input included."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from core import clock, workdays
from core.accounts.models import User
from core.actor import Actor
from core.casework.models import Case
from core.database import db
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.notifications.models import OutboxMessage
from core.registry import enrollments, reviews
from core.registry.models import Enrollment, EnrollmentEvent, Person, ReviewCampaign, ReviewTask
from tests.helpers import csrf_token
from tests.portal.test_workflow import _officer
from tests.registry.factory import make_enrollment

MINHE, LIDU = "360124100", "360124101"  # two townships of 进贤县 (360124)
COUNTY = Actor(kind="officer", id=None, roles=("county_officer",), region_code="360124")
TOWN_A = Actor(kind="officer", id=None, roles=("township_officer",), region_code=MINHE)
TOWN_B = Actor(kind="officer", id=None, roles=("township_officer",), region_code=LIDU)
OTHER_COUNTY = Actor(kind="officer", id=None, roles=("county_officer",), region_code="360121")
VISIT = "2026年12月3日入户核查：张三、李四两名工作人员，家庭收入无变化。"


def _enroll(app, **kw) -> int:
    with app.app_context():
        enrollment_id = make_enrollment(**kw)
        db.session.remove()
        return enrollment_id


def _deadline(days: int = 40) -> str:
    return (clock.local_today() + timedelta(days=days)).isoformat()


def _start(app, name="2026年下半年复核", townships=None, program="dibao", actor=COUNTY) -> int:
    with app.app_context():
        campaign = reviews.start_campaign(
            actor, name=name, program=program, township_codes=townships, deadline=_deadline()
        )
        db.session.commit()
        campaign_id = campaign.id
        db.session.remove()
        return campaign_id


def _task_of(app, enrollment_id: int) -> ReviewTask:
    with app.app_context():
        task = db.session.scalar(select(ReviewTask).where(ReviewTask.enrollment_id == enrollment_id))
        db.session.expunge(task)
        db.session.remove()
        return task


def _record_form(officer, task_id, **data):
    page = officer.get(f"/portal/reviews/tasks/{task_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', html).group(1)
    return officer.post(
        f"/portal/reviews/tasks/{task_id}",
        data={"csrf_token": csrf_token(html), "version": version, **data},
    )


def test_a_campaign_exits_an_enrollment_through_the_township_queue(client, app):
    """The issue's "done when": a review campaign exits an enrollment (portal, end to end)."""
    enrollment_id = _enroll(app, seq=600, township=MINHE, amount="905.00", head_name="王大明")
    with app.app_context():
        payee = db.session.get(Person, db.session.get(Enrollment, enrollment_id).person_id)
        db.session.add(User(phone="13900077001", id_number=payee.id_number, real_name="王大明"))
        db.session.commit()
        db.session.remove()
    county = _officer(app, "rv_county", region="360124", role="county_officer")
    form = county.get("/portal/reviews/new")
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    assert "民和镇" in html and "李渡镇" in html  # the county's real townships in the multi-select
    started = county.post(
        "/portal/reviews/new",
        data={
            "csrf_token": csrf_token(html),
            "name": "2026年下半年复核",
            "program": "dibao",
            "township_codes": [MINHE],
            "deadline": _deadline(),
        },
    )
    assert started.status_code == 303
    assert "复核" in county.get("/portal/reviews").get_data(as_text=True)

    town = _officer(app, "rv_town_a", region=MINHE)
    queue = town.get("/portal/queue?bucket=periodic_review").get_data(as_text=True)
    assert "待复核" in queue and "低保复核 · 王** · 2026年下半年复核" in queue
    task = _task_of(app, enrollment_id)
    assert task.case_id is not None
    via_queue = town.get(f"/portal/cases/{task.case_id}")
    assert via_queue.status_code == 302 and via_queue.location.endswith(f"/portal/reviews/tasks/{task.id}")

    done = _record_form(town, task.id, outcome="exit", reason="家庭人均收入已超过低保标准", visit_record=VISIT)
    assert done.status_code == 303
    page = town.get(f"/portal/reviews/tasks/{task.id}").get_data(as_text=True)
    assert "已复核" in page and "退出救助" in page and VISIT in page
    with app.app_context():
        enrollment = db.session.get(Enrollment, enrollment_id)
        assert enrollment.status == "exited" and enrollment.end_month == enrollments.month_of(clock.local_today())
        events = db.session.scalars(
            select(EnrollmentEvent).where(
                EnrollmentEvent.enrollment_id == enrollment_id, EnrollmentEvent.kind == "exited"
            )
        ).all()
        assert len(events) == 1 and events[0].source_type == "review" and events[0].source_id == task.id
        assert events[0].diff["status"] == ["active", "exited"]
        case = db.session.get(Case, task.case_id)
        assert case.status == "closed" and case.kind == "review"
        notices = [
            m.payload["text"] for m in db.session.scalars(select(OutboxMessage)) if m.template == "enrollment_change"
        ]
        assert sum("停止发放" in t and "行政复议" in t for t in notices) == 1
        db.session.remove()
    assert "低保复核 · 王**" not in town.get("/portal/queue?bucket=periodic_review").get_data(as_text=True)
    campaign_page = county.get(f"/portal/reviews/{task.campaign_id}").get_data(as_text=True)
    assert "905.00" in campaign_page  # the amount saved per month


def test_scope_townships_other_county_and_county_only(client, app):
    a = _enroll(app, seq=610, township=MINHE, head_name="王大明")
    b = _enroll(app, seq=611, township=LIDU, head_name="李小花")
    campaign_id = _start(app)
    task_a, task_b = _task_of(app, a), _task_of(app, b)
    town_a = _officer(app, "rv_scope_a", region=MINHE)
    assert town_a.get(f"/portal/reviews/tasks/{task_a.id}").status_code == 200
    assert town_a.get(f"/portal/reviews/tasks/{task_b.id}").status_code == 404
    token = csrf_token(town_a.get(f"/portal/reviews/tasks/{task_a.id}").get_data(as_text=True))
    forged = town_a.post(
        f"/portal/reviews/tasks/{task_b.id}",
        data={"csrf_token": token, "outcome": "exit", "reason": "伪造", "visit_record": VISIT, "version": "1"},
    )
    assert forged.status_code == 404
    listing = town_a.get(f"/portal/reviews/{campaign_id}/tasks").get_data(as_text=True)
    assert "王大明" in listing and "李小花" not in listing
    progress = town_a.get(f"/portal/reviews/{campaign_id}").get_data(as_text=True)
    assert "民和镇" in progress and "李渡镇" not in progress
    # a township officer cannot start or close a campaign
    assert town_a.get("/portal/reviews/new").status_code == 403
    assert town_a.post("/portal/reviews/new", data={"csrf_token": token, "name": "乡镇自发复核"}).status_code == 403
    assert town_a.post(f"/portal/reviews/{campaign_id}/close", data={"csrf_token": token}).status_code == 403
    with app.app_context():
        with pytest.raises(PermissionDenied) as denied:
            reviews.start_campaign(
                TOWN_A, name="乡镇自发复核", program="dibao", township_codes=None, deadline=_deadline()
            )
        assert denied.value.code == "county_only"
        db.session.remove()
    # another county sees nothing of it
    other = _officer(app, "rv_other_county", region="360121", role="county_officer")
    assert other.get(f"/portal/reviews/{campaign_id}").status_code == 404
    assert other.get(f"/portal/reviews/{campaign_id}/export").status_code == 404
    assert other.get(f"/portal/reviews/tasks/{task_a.id}").status_code == 404
    assert "暂无复核活动" in other.get("/portal/reviews").get_data(as_text=True)
    with app.app_context():
        assert reviews.list_campaigns(OTHER_COUNTY) == []
        db.session.remove()


def test_scope_of_a_campaign_program_status_townships(app):
    in_scope = _enroll(app, seq=620, township=MINHE)
    suspended = _enroll(app, seq=621, township=MINHE)
    exited = _enroll(app, seq=622, township=MINHE)
    other_township = _enroll(app, seq=623, township=LIDU)
    tekun = _enroll(app, seq=624, township=MINHE, program="tekun", members=1)
    other_county = _enroll(app, seq=625, township="360121100")
    with app.app_context():
        enrollments.change(COUNTY, db.session.get(Enrollment, suspended), "suspended", reason="外出务工")
        enrollments.change(COUNTY, db.session.get(Enrollment, exited), "exited", reason="死亡")
        db.session.commit()
        campaign = reviews.start_campaign(
            COUNTY, name="民和镇低保复核", program="dibao", township_codes=[MINHE], deadline=_deadline()
        )
        db.session.commit()
        got = set(db.session.scalars(select(ReviewTask.enrollment_id).where(ReviewTask.campaign_id == campaign.id)))
        assert got == {in_scope, suspended}
        assert campaign.task_count == 2
        assert db.session.scalar(select(func.count(Case.id)).where(Case.kind == "review")) == 2
        # a second campaign of another name leaves out the enrollments already under an open review
        second = reviews.start_campaign(
            COUNTY, name="全县低保复核", program="dibao", township_codes=None, deadline=_deadline()
        )
        db.session.commit()
        got = set(db.session.scalars(select(ReviewTask.enrollment_id).where(ReviewTask.campaign_id == second.id)))
        assert got == {other_township}
        assert tekun not in got and other_county not in got
        # townships from another county, bad programme, bad deadline: field errors, nothing created
        with pytest.raises(ValidationFailed) as bad:
            reviews.start_campaign(
                COUNTY, name="x", program="linshi", township_codes=["360121100"], deadline=clock.local_today()
            )
        assert set(bad.value.errors) == {"name", "program", "township_codes", "deadline"}
        with pytest.raises(ValidationFailed) as bad:
            reviews.start_campaign(COUNTY, name="2027复核", program="dibao", township_codes=None, deadline="明年")
        assert "deadline" in bad.value.errors
        db.session.remove()


def test_due_date_is_a_working_day_never_after_the_deadline(app):
    today = date(2026, 12, 3)  # a Thursday
    far = reviews.task_due_date(today, date(2027, 6, 30))
    assert far == workdays.add_working_days(today, reviews.REVIEW_TASK_WORKING_DAYS)
    near = reviews.task_due_date(today, date(2026, 12, 13))  # a Sunday: the Friday before
    assert near == date(2026, 12, 11) and workdays.is_workday(near)
    _enroll(app, seq=630, township=MINHE)
    with app.app_context():
        campaign = reviews.start_campaign(
            COUNTY,
            name="短期复核",
            program="dibao",
            township_codes=None,
            deadline=clock.local_today() + timedelta(days=3),
        )
        task = db.session.scalar(select(ReviewTask).where(ReviewTask.campaign_id == campaign.id))
        assert task.due_date <= campaign.deadline and workdays.is_workday(task.due_date)
        case = db.session.get(Case, task.case_id)
        assert case.next_due == task.due_date and case.stage == "periodic_review" and case.routed_at is not None
        db.session.remove()


def test_starting_the_same_campaign_twice_doubles_nothing(client, app):
    _enroll(app, seq=640, township=MINHE)
    _enroll(app, seq=641, township=LIDU)
    campaign_id = _start(app)
    with app.app_context():
        with pytest.raises(Conflict) as twice:
            reviews.start_campaign(
                COUNTY, name="2026年下半年复核", program="dibao", township_codes=None, deadline=_deadline()
            )
        assert twice.value.code == "review_campaign_exists"
        db.session.rollback()
        db.session.remove()
    county = _officer(app, "rv_twice", region="360124", role="county_officer")
    html = county.get("/portal/reviews/new").get_data(as_text=True)
    again = county.post(
        "/portal/reviews/new",
        data={"csrf_token": csrf_token(html), "name": "2026年下半年复核", "program": "dibao", "deadline": _deadline()},
    )
    assert again.status_code == 409 and "不能重复发起" in again.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(ReviewCampaign.id))) == 1
        assert db.session.scalar(select(func.count(ReviewTask.id))) == 2
        assert db.session.scalar(select(func.count(Case.id)).where(Case.kind == "review")) == 2
        assert db.session.get(ReviewCampaign, campaign_id).task_count == 2
        db.session.remove()


def test_form_field_errors_in_chinese(client, app):
    _enroll(app, seq=650, township=MINHE, amount="650.00")
    county = _officer(app, "rv_fields", region="360124", role="county_officer")
    html = county.get("/portal/reviews/new").get_data(as_text=True)
    bad = county.post(
        "/portal/reviews/new",
        data={
            "csrf_token": csrf_token(html),
            "name": "",
            "program": "",
            "township_codes": ["360121100"],
            "deadline": "",
        },
    )
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422
    for text in ("请填写复核活动名称", "请选择救助项目", "不是本县的乡镇（街道）", "请填写截止日期"):
        assert text in page
    campaign_id = _start(app)
    task = db_task = None
    with app.app_context():
        db_task = db.session.scalar(select(ReviewTask).where(ReviewTask.campaign_id == campaign_id))
        task = db_task.id
        db.session.remove()
    town = _officer(app, "rv_fields_town", region=MINHE)
    cases = [
        (
            {"outcome": "adjust", "new_amount": "abc", "reason": "收入变化", "visit_record": VISIT},
            "请填写正确的调整后的月发放金额",
        ),
        ({"outcome": "adjust", "new_amount": "-5", "reason": "收入变化", "visit_record": VISIT}, "不能为负数"),
        ({"outcome": "adjust", "new_amount": "1e9", "reason": "收入变化", "visit_record": VISIT}, "不能超过"),
        (
            {"outcome": "adjust", "new_amount": "99999999999999999999", "reason": "收入变化", "visit_record": VISIT},
            "不能超过",
        ),
        ({"outcome": "adjust", "new_amount": "NaN", "reason": "收入变化", "visit_record": VISIT}, "不能为负数"),
        ({"outcome": "adjust", "new_amount": "650", "reason": "收入变化", "visit_record": VISIT}, "继续享受"),
        (
            {"outcome": "adjust", "new_amount": "600.123", "reason": "收入变化", "visit_record": VISIT},
            "最多保留两位小数",
        ),
        ({"outcome": "exit", "reason": "", "visit_record": VISIT}, "请填写原因"),
        ({"outcome": "suspend", "reason": "  ", "visit_record": VISIT}, "请填写原因"),
        ({"outcome": "continue", "visit_record": ""}, "请填写入户核查记录"),
        ({"outcome": "exit", "reason": "收入超标", "visit_record": VISIT, "month": "2027-13"}, "月份格式"),
        ({"outcome": "whatever", "visit_record": VISIT}, "请选择复核结果"),
        ({"visit_record": VISIT}, "请选择复核结果"),
    ]
    for data, message in cases:
        resp = _record_form(town, task, **data)
        assert resp.status_code == 422, data
        assert message in resp.get_data(as_text=True), data
    with app.app_context():
        assert db.session.get(ReviewTask, task).status == "open"
        assert db.session.get(Enrollment, db_task.enrollment_id).monthly_amount == Decimal("650.00")
        db.session.remove()


def test_a_done_task_cannot_be_recorded_again_and_a_stale_form_is_409(client, app):
    enrollment_id = _enroll(app, seq=660, township=MINHE, amount="650.00")
    _start(app)
    task = _task_of(app, enrollment_id)
    town = _officer(app, "rv_twice_town", region=MINHE)
    html = town.get(f"/portal/reviews/tasks/{task.id}").get_data(as_text=True)
    token = csrf_token(html)
    stale = town.post(
        f"/portal/reviews/tasks/{task.id}",
        data={"csrf_token": token, "version": "999", "outcome": "continue", "visit_record": VISIT},
    )
    assert stale.status_code == 409 and "已被他人修改" in stale.get_data(as_text=True)
    first = town.post(
        f"/portal/reviews/tasks/{task.id}",
        data={"csrf_token": token, "version": str(task.version), "outcome": "continue", "visit_record": VISIT},
    )
    assert first.status_code == 303
    second = town.post(
        f"/portal/reviews/tasks/{task.id}",
        data={
            "csrf_token": token,
            "version": str(task.version),
            "outcome": "exit",
            "reason": "再交一次",
            "visit_record": VISIT,
        },
    )
    assert second.status_code == 409
    with app.app_context():
        with pytest.raises(Conflict) as again:
            reviews.record_outcome(TOWN_A, task.id, "exit", reason="x", visit_record=VISIT)
        assert again.value.code == "review_task_done"
        db.session.rollback()
        enrollment = db.session.get(Enrollment, enrollment_id)
        assert enrollment.status == "active"
        today = clock.local_today()
        assert enrollment.next_review_date == enrollments.month_start(
            enrollments.add_months(enrollments.month_of(today), 6)
        )
        kinds = list(
            db.session.scalars(select(EnrollmentEvent.kind).where(EnrollmentEvent.enrollment_id == enrollment_id))
        )
        assert kinds == ["created", "reviewed"]
        db.session.remove()


def _progress_world(app):
    ids = {
        "exit": _enroll(app, seq=670, township=MINHE, amount="650.00", members=3),
        "suspend": _enroll(app, seq=671, township=MINHE, amount="500.00"),
        "adjust": _enroll(app, seq=672, township=MINHE, amount="800.00"),
        "raise": _enroll(app, seq=673, township=MINHE, amount="300.00"),
        "continue": _enroll(app, seq=674, township=MINHE, amount="400.00"),
        "open_b": _enroll(app, seq=675, township=LIDU, amount="700.00"),
        "open_a": _enroll(app, seq=676, township=MINHE, amount="900.00"),
    }
    campaign_id = _start(app)
    with app.app_context():
        task = {
            k: db.session.scalar(select(ReviewTask.id).where(ReviewTask.enrollment_id == v)) for k, v in ids.items()
        }
        reviews.record_outcome(TOWN_A, task["exit"], "exit", reason="收入超标", visit_record=VISIT)
        reviews.record_outcome(TOWN_A, task["suspend"], "suspend", reason="外出务工待核实", visit_record=VISIT)
        reviews.record_outcome(TOWN_A, task["adjust"], "adjust", reason="就业", visit_record=VISIT, new_amount="600")
        reviews.record_outcome(TOWN_A, task["raise"], "adjust", reason="重病", visit_record=VISIT, new_amount="450.50")
        reviews.record_outcome(TOWN_A, task["continue"], "continue", reason=None, visit_record=VISIT)
        db.session.commit()
        db.session.remove()
    return campaign_id, ids


def test_progress_figures_per_township(client, app):
    campaign_id, ids = _progress_world(app)
    with app.app_context():
        campaign = db.session.get(ReviewCampaign, campaign_id)
        rows, total = reviews.progress(COUNTY, campaign)
        by = {r["township_code"]: r for r in rows}
        assert by[MINHE] == {
            "township_code": MINHE,
            "total": 6,
            "done": 5,
            "due": 1,
            "overdue": 0,
            "lapsed": 0,
            "exits": 1,
            "exit_people": 3,
            "suspended": 1,
            "adjusted": 2,
            "saved": Decimal("1350.00"),  # 650 + 500 + (800 − 600); the raise to 450.50 saves nothing
        }
        assert by[LIDU]["total"] == 1 and by[LIDU]["due"] == 1 and by[LIDU]["saved"] == Decimal("0.00")
        assert total["total"] == 7 and total["done"] == 5 and total["saved"] == Decimal("1350.00")
        # the township sees its own row only
        rows_a, total_a = reviews.progress(TOWN_A, campaign)
        assert [r["township_code"] for r in rows_a] == [MINHE] and total_a["total"] == 6
        assert db.session.get(Enrollment, ids["adjust"]).monthly_amount == Decimal("600.00")
        assert db.session.get(Enrollment, ids["suspend"]).status == "suspended"
        due = db.session.scalar(select(ReviewTask.due_date).where(ReviewTask.enrollment_id == ids["open_a"]))
        db.session.remove()
    clock.set_offset(timedelta(days=(due - clock.local_today()).days + 1))
    with app.app_context():
        rows, total = reviews.progress(COUNTY, db.session.get(ReviewCampaign, campaign_id))
        assert total["overdue"] == 2 and total["due"] == 0
        db.session.remove()
    county = _officer(app, "rv_progress", region="360124", role="county_officer")
    overdue = county.get(f"/portal/reviews/{campaign_id}/tasks?status=overdue").get_data(as_text=True)
    assert "共 2 户" in overdue and "已超期" in overdue
    assert "共 1 户" in county.get(f"/portal/reviews/{campaign_id}/tasks?status=overdue&township={LIDU}").get_data(
        as_text=True
    )
    queue = county.get("/portal/queue?bucket=overdue").get_data(as_text=True)
    assert "2026年下半年复核" in queue


def test_excel_export_opens_and_totals_match(client, app):
    campaign_id, _ = _progress_world(app)
    county = _officer(app, "rv_excel", region="360124", role="county_officer")
    resp = county.get(f"/portal/reviews/{campaign_id}/export")
    assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(resp.data))
    sheet = book["复核进度"]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    header = values[1]
    assert header[0] == "乡镇（街道）" and "每月节约资金（元）" in header and "已超期" in header
    assert sheet.freeze_panes == "A3"
    assert sheet.column_dimensions["J"].width >= len("每月节约资金（元）")
    body = [r for r in values[2:] if r[0] != "合计"]
    total = next(r for r in values if r[0] == "合计")
    assert {r[0] for r in body} == {"民和镇", "李渡镇"}
    for col in range(1, len(header)):
        assert Decimal(str(total[col])) == sum(Decimal(str(r[col])) for r in body), header[col]
    saved = header.index("每月节约资金（元）")
    assert Decimal(str(total[saved])) == Decimal("1350.00")
    assert total[header.index("复核户数")] == 7 and total[header.index("退出户数")] == 1
    details = [[c.value for c in row] for row in book["复核明细"].iter_rows()]
    assert details[1][0] == "乡镇（街道）" and len(details) == 2 + 7
    assert not any(isinstance(v, str) and re.fullmatch(r"\d{17}[\dX]", v) for row in details for v in row)
    # the township's export holds its own township only
    town = _officer(app, "rv_excel_town", region=MINHE)
    own = load_workbook(io.BytesIO(town.get(f"/portal/reviews/{campaign_id}/export").data))["复核进度"]
    assert [r[0].value for r in own.iter_rows(min_row=3)] == ["民和镇", "合计"]


def test_closing_a_campaign_needs_every_task_done(client, app):
    enrollment_id = _enroll(app, seq=680, township=MINHE)
    campaign_id = _start(app)
    task = _task_of(app, enrollment_id)
    county = _officer(app, "rv_close", region="360124", role="county_officer")
    token = csrf_token(county.get(f"/portal/reviews/{campaign_id}").get_data(as_text=True))
    early = county.post(f"/portal/reviews/{campaign_id}/close", data={"csrf_token": token})
    assert early.status_code == 409 and "还有1户未完成复核" in early.get_data(as_text=True)
    with app.app_context():
        reviews.record_outcome(COUNTY, task.id, "continue", reason=None, visit_record=VISIT)  # the county may record
        db.session.commit()
        db.session.remove()
    closed = county.post(f"/portal/reviews/{campaign_id}/close", data={"csrf_token": token})
    assert closed.status_code == 302
    assert "已结束" in county.get(f"/portal/reviews/{campaign_id}").get_data(as_text=True)
    with app.app_context():
        with pytest.raises(Conflict) as again:
            reviews.close_campaign(COUNTY, campaign_id)
        assert again.value.code == "review_campaign_closed"
        db.session.remove()


def test_a_suspended_enrollment_cannot_be_suspended_again(app):
    enrollment_id = _enroll(app, seq=690, township=MINHE)
    with app.app_context():
        enrollments.change(COUNTY, db.session.get(Enrollment, enrollment_id), "suspended", reason="外出")
        db.session.commit()
        db.session.remove()
    _start(app)
    task = _task_of(app, enrollment_id)
    with app.app_context():
        with pytest.raises(Conflict) as refused:
            reviews.record_outcome(TOWN_A, task.id, "suspend", reason="仍外出", visit_record=VISIT)
        assert refused.value.code == "invalid_enrollment_transition"
        db.session.rollback()
        assert db.session.get(ReviewTask, task.id).status == "open"
        db.session.remove()


def test_other_township_service_calls_are_404(app):
    enrollment_id = _enroll(app, seq=691, township=MINHE)
    _start(app)
    task = _task_of(app, enrollment_id)
    with app.app_context():
        for actor in (TOWN_B, OTHER_COUNTY):
            with pytest.raises(NotFound):
                reviews.record_outcome(actor, task.id, "exit", reason="x", visit_record=VISIT)
            with pytest.raises(NotFound):
                reviews.get_campaign(actor, task.campaign_id)
        db.session.remove()


def test_an_enrollment_ended_meanwhile_lapses_its_task_and_does_not_hold_the_campaign(client, app):
    ended = _enroll(app, seq=700, township=MINHE, amount="650.00")
    reviewed = _enroll(app, seq=701, township=MINHE, amount="500.00")
    campaign_id = _start(app)
    task_ended, task_reviewed = _task_of(app, ended), _task_of(app, reviewed)
    with app.app_context():  # the county exits it outside the review (e.g. a death notice)
        enrollments.officer_change(COUNTY, ended, "exited", reason="死亡")
        db.session.commit()
        db.session.remove()
    town = _officer(app, "rv_lapse_town", region=MINHE)
    refused = _record_form(town, task_ended.id, outcome="continue", visit_record=VISIT)
    assert refused.status_code == 409 and "无需再记录结果" in refused.get_data(as_text=True)
    with app.app_context():
        task = db.session.get(ReviewTask, task_ended.id)
        assert task.status == "lapsed" and db.session.get(Case, task.case_id).status == "closed"
        kinds = list(db.session.scalars(select(EnrollmentEvent.kind).where(EnrollmentEvent.enrollment_id == ended)))
        assert kinds == ["created", "exited"]  # the review added nothing
        _, total = reviews.progress(COUNTY, db.session.get(ReviewCampaign, campaign_id))
        assert total["lapsed"] == 1 and total["due"] == 1 and total["saved"] == Decimal("0.00")
        reviews.record_outcome(TOWN_A, task_reviewed.id, "continue", reason=None, visit_record=VISIT)
        db.session.commit()
        assert reviews.close_campaign(COUNTY, campaign_id).status == "closed"
        db.session.commit()
        db.session.remove()
