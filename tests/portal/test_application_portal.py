"""The township's acceptance stage in the portal, and what the citizen sees of it."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from core import workdays
from core.audit.models import AuditEntry
from core.casework.models import Case
from core.database import db
from tests.helpers import (
    bound_citizen,
    csrf_token,
    draft_body,
    id_number,
    make_officer,
    png_bytes,
    portal_login,
    submitted_application,
    upload,
)

ZHANG = ("张建国", id_number(date(1962, 4, 18), 11))


def _officer(app, username, region="360124100", role="township_officer"):
    secret = make_officer(app, username, role, region)
    client = app.test_client()
    assert portal_login(client, username, secret).status_code == 302
    return client


def _post(officer, url, **data):
    page = officer.get(url.rsplit("/", 1)[0]).get_data(as_text=True)
    return officer.post(url, data={**data, "csrf_token": csrf_token(page)})


def test_officer_sees_application_in_queue_with_details(client, app):
    headers = bound_citizen(client, "13900020000", *ZHANG)
    submitted = submitted_application(client, headers, draft_body(*ZHANG))
    officer = _officer(app, "minhe_a")
    queue = officer.get("/portal/queue").get_data(as_text=True)
    assert "低保申请 · 张**" in queue and '<td data-label="家庭人口">1</td>' in queue
    page = officer.get(f"/portal/applications/{submitted['id']}").get_data(as_text=True)
    assert ZHANG[1] not in page and ZHANG[1][:4] + "**********" + ZHANG[1][-4:] in page
    assert "居民身份证" in page and "户口簿" in page and "已提交，待受理" in page
    other = _officer(app, "lidu_a", region="360124101")
    assert other.get(f"/portal/applications/{submitted['id']}").status_code == 404


def test_reveal_full_id_numbers_is_audited(client, app):
    headers = bound_citizen(client, "13900020001", *ZHANG)
    submitted = submitted_application(client, headers, draft_body(*ZHANG))
    officer = _officer(app, "minhe_b")
    resp = _post(officer, f"/portal/applications/{submitted['id']}/reveal")
    assert resp.status_code == 200 and ZHANG[1] in resp.get_data(as_text=True)
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "application.reveal_id_numbers"))
        assert entry is not None and entry.target_id == str(submitted["id"]) and entry.actor_kind == "officer"


def test_correction_pauses_the_clock_and_the_reply_resumes_it(client, app):
    headers = bound_citizen(client, "13900020002", *ZHANG)
    submitted = submitted_application(client, headers, draft_body(*ZHANG))
    officer = _officer(app, "minhe_c")
    empty = _post(officer, f"/portal/applications/{submitted['id']}/correction", reason="")
    assert empty.status_code == 422 and "请填写需要补正的内容" in empty.get_data(as_text=True)
    resp = _post(officer, f"/portal/applications/{submitted['id']}/correction", reason="请补充户口簿户主页")
    assert resp.status_code == 302
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.subject_id == submitted["id"]))
        assert case.clock_paused_at is not None and case.paused_remaining_days == 3
        db.session.remove()
    timeline = client.get(f"/api/v1/applications/{submitted['id']}/timeline", headers=headers).get_json()
    assert timeline[-1]["status"] == "correction_requested"
    assert timeline[-1]["text"] == "民和镇请您补正材料：请补充户口簿户主页"
    new = upload(client, headers, submitted["id"], "hukou", png_bytes(), "户主页.png").get_json()
    reply = client.post(
        f"/api/v1/applications/{submitted['id']}/corrections",
        headers=headers,
        json={"text": "已补充户主页", "attachment_ids": [new["id"]]},
    )
    assert reply.status_code == 200 and reply.get_json()["status"] == "submitted"
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.subject_id == submitted["id"]))
        assert case.clock_paused_at is None
        from core import clock

        assert case.due_date == workdays.add_working_days(clock.local_today(), 3)
    page = officer.get(f"/portal/applications/{submitted['id']}").get_data(as_text=True)
    assert "户主页.png" in page and "（补正材料）" in page
    accepted = _post(officer, f"/portal/applications/{submitted['id']}/accept")
    assert accepted.status_code == 302
    timeline = client.get(f"/api/v1/applications/{submitted['id']}/timeline", headers=headers).get_json()
    assert [e["kind"] for e in timeline] == [
        "submitted",
        "correction_requested",
        "correction_submitted",
        "accepted",
        "investigation_started",
    ]
    assert timeline[-2]["text"] == "民和镇已受理您的申请"
    assert timeline[-1]["text"] == "民和镇已开始信息核对、入户调查，工作人员可能会上门了解情况"
    again = _post(officer, f"/portal/applications/{submitted['id']}/accept")
    assert again.status_code == 409


def test_reject_at_acceptance_tells_the_citizen_why(client, app):
    headers = bound_citizen(client, "13900020003", *ZHANG)
    submitted = submitted_application(client, headers, draft_body(*ZHANG))
    officer = _officer(app, "minhe_d")
    assert _post(officer, f"/portal/applications/{submitted['id']}/reject", reason="非本辖区居民").status_code == 302
    detail = client.get(f"/api/v1/applications/{submitted['id']}", headers=headers).get_json()
    assert detail["status"] == "not_accepted" and detail["status_label"] == "不予受理"
    timeline = client.get(f"/api/v1/applications/{submitted['id']}/timeline", headers=headers).get_json()
    assert "非本辖区居民" in timeline[-1]["text"]
    assert (
        client.post(
            f"/api/v1/applications/{submitted['id']}/withdraw", headers=headers, json={"reason": "x"}
        ).status_code
        == 409
    )


def test_information_copy_is_read_only(client, app):
    headers = bound_citizen(client, "13900020004", *ZHANG)
    submitted = submitted_application(client, headers, draft_body(*ZHANG, hukou="360124101"))
    hukou_officer = _officer(app, "lidu_b", region="360124101")
    page = hukou_officer.get(f"/portal/applications/{submitted['id']}").get_data(as_text=True)
    assert "户籍地知情" in page and 'data-testid="actions"' not in page
    assert _post(hukou_officer, f"/portal/applications/{submitted['id']}/accept").status_code == 403
    residence = _officer(app, "minhe_e")
    assert _post(residence, f"/portal/applications/{submitted['id']}/accept").status_code == 302
    # both see the action in the shared timeline
    assert "民和镇已受理您的申请" in hukou_officer.get(f"/portal/applications/{submitted['id']}").get_data(as_text=True)


def test_county_officer_can_act_and_attachments_are_scoped(client, app):
    headers = bound_citizen(client, "13900020005", *ZHANG)
    submitted = submitted_application(client, headers, draft_body(*ZHANG))
    county = _officer(app, "jinxian_a", region="360124", role="county_officer")
    page = county.get(f"/portal/applications/{submitted['id']}").get_data(as_text=True)
    assert 'data-testid="attachments"' in page
    attachment_id = submitted["attachments"][0]["id"]
    assert county.get(f"/portal/applications/{submitted['id']}/attachments/{attachment_id}").status_code == 200
    outsider = _officer(app, "nanchang_a", region="360121", role="county_officer")
    assert outsider.get(f"/portal/applications/{submitted['id']}/attachments/{attachment_id}").status_code == 404


def test_a_decision_whose_application_changed_before_the_commit_is_a_409_page_not_a_500(client, app, monkeypatch):
    """The decision's rows are flushed at the request's commit (no flush per timeline event since the
    submit-in-one-flush change): another writer's change landing between the officer's read and that commit
    (the citizen withdrawing, a second officer) is the same edit conflict as one caught earlier — the
    portal's 409 page, nothing written, not a 500 and not a JSON body."""
    from sqlalchemy import text

    import web.hooks
    from core.applications.models import Application, ApplicationEvent

    headers = bound_citizen(client, "13900020013", *ZHANG)
    submitted = submitted_application(client, headers, draft_body(*ZHANG))
    officer = _officer(app, "minhe_stale")
    page = officer.get(f"/portal/applications/{submitted['id']}").get_data(as_text=True)
    real_commit = web.hooks.commit

    def another_writer_first():
        with db.engine.begin() as conn:  # its own connection and transaction, committed before ours
            conn.execute(text("UPDATE applications SET version = version + 1 WHERE id = :id"), {"id": submitted["id"]})
        real_commit()

    monkeypatch.setattr(web.hooks, "commit", another_writer_first)
    form = {"reason": "非本辖区居民", "csrf_token": csrf_token(page)}
    resp = officer.post(f"/portal/applications/{submitted['id']}/reject", data=form)
    monkeypatch.setattr(web.hooks, "commit", real_commit)
    assert resp.status_code == 409, resp.get_data(as_text=True)[:300]
    assert "text/html" in resp.headers["Content-Type"]
    # the success message the view flashed before the commit failed is not shown, now or on the next page
    assert "已作出不予受理决定" not in resp.get_data(as_text=True)
    assert "已作出不予受理决定" not in officer.get(f"/portal/applications/{submitted['id']}").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Application, submitted["id"]).status == "submitted"
        kinds = db.session.scalars(
            select(ApplicationEvent.kind).where(ApplicationEvent.application_id == submitted["id"])
        ).all()
        assert kinds == ["submitted"]
        db.session.remove()
