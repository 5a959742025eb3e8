"""Attacker tests: naming a stranger as a household member neither blocks them nor leaks anything.

Reproductions from issue 9 (squatting, the 409 that leaked the other application's reference, and the
duplicate check that two concurrent submits both passed on PostgreSQL), each asserting the safe outcome.
"""

from __future__ import annotations

import threading
import time
from datetime import date

import pytest
from sqlalchemy import func, select

from core.applications import conflicts
from core.applications.models import Application, ApplicationConflict, ApplicationEvent
from core.audit.models import AuditEntry
from core.database import db
from core.notifications.models import OutboxMessage
from tests.conftest import (
    drop_postgres_database,
    postgres_reachable,
    postgres_server_url,
    scratch_database_url,
    unavailable,
)
from tests.helpers import (
    bound_citizen,
    csrf_token,
    draft_body,
    id_number,
    make_officer,
    png_bytes,
    portal_login,
    upload,
)

VICTIM = ("张建国", id_number(date(1962, 4, 18), 11))
ATTACKER = ("王小红", id_number(date(1990, 1, 5), 33))
THIRD = ("李秀英", id_number(date(1965, 9, 2), 22))
VICTIM_PHONE, ATTACKER_PHONE = "13900090001", "13900090002"


def _member(person: tuple[str, str], relation: str = "parent") -> dict:
    return {
        "name": person[0],
        "id_number": person[1],
        "relation": relation,
        "health": "serious",
        "employment": "unable",
    }


class Recorder:
    """A citizen's API client that keeps every response body, to check nothing leaked into any of them."""

    def __init__(self, client, headers):
        self.client, self.headers, self.bodies = client, headers, []

    def __call__(self, method: str, url: str, **kwargs):
        resp = getattr(self.client, method)(url, headers=self.headers, **kwargs)
        self.bodies.append(resp.get_data(as_text=True))
        return resp

    def prepare(self, body: dict) -> int:
        created = self("post", "/api/v1/applications", json=body)
        assert created.status_code == 201, created.get_json()
        app_id = created.get_json()["id"]
        for material in ("id_card", "hukou"):
            resp = upload(self.client, self.headers, app_id, material, png_bytes(), "x.png")
            assert resp.status_code == 201
            self.bodies.append(resp.get_data(as_text=True))
        return app_id

    def submit(self, app_id: int):
        return self("post", f"/api/v1/applications/{app_id}/submit")

    def read_everything(self, app_id: int) -> None:
        for url in (
            "/api/v1/applications",
            f"/api/v1/applications/{app_id}",
            f"/api/v1/applications/{app_id}/timeline",
            f"/api/v1/applications/{app_id}/attachments",
            f"/api/v1/applications/{app_id}/authorizations",
            "/api/v1/me",
        ):
            assert self("get", url).status_code == 200, url

    def assert_never_saw(self, *secrets: str) -> None:
        for body in self.bodies:
            for secret in secrets:
                assert secret not in body, f"{secret!r} leaked: {body[:300]}"


def _conflicts(app) -> list[ApplicationConflict]:
    with app.app_context():
        rows = list(db.session.scalars(select(ApplicationConflict).order_by(ApplicationConflict.id)))
        db.session.remove()
    return rows


def _reference(app, application_id: int) -> str:
    with app.app_context():
        ref = db.session.get(Application, application_id).reference
        db.session.remove()
    return ref


def _officer(app, username: str, region: str, role: str = "township_officer"):
    secret = make_officer(app, username, role, region)
    client = app.test_client()
    assert portal_login(client, username, secret).status_code == 302
    return client


def _resolve(officer, application_id: int, conflict_id: int, **form):
    page = officer.get(f"/portal/applications/{application_id}").get_data(as_text=True)
    return officer.post(
        f"/portal/applications/{application_id}/conflicts/{conflict_id}/resolve",
        data={**form, "csrf_token": csrf_token(page)},
    )


def _squat(client, *, attacker_township="360124100", victim_township="360124100", attacker_first=True):
    """The attacker names the victim as a household member; the victim applies for themselves."""
    attacker = Recorder(client, bound_citizen(client, ATTACKER_PHONE, *ATTACKER))
    victim = Recorder(client, bound_citizen(client, VICTIM_PHONE, *VICTIM))
    attacker_id = attacker.prepare(draft_body(*ATTACKER, township=attacker_township, extra_members=[_member(VICTIM)]))
    victim_id = victim.prepare(draft_body(*VICTIM, township=victim_township))
    order = [(attacker, attacker_id), (victim, victim_id)]
    for who, app_id in order if attacker_first else order[::-1]:
        resp = who.submit(app_id)
        assert resp.status_code == 200, resp.get_json()
        assert resp.get_json()["status"] == "submitted"
    return attacker, attacker_id, victim, victim_id


# --- citizens: no block, no leak ----------------------------------------------------------------------


@pytest.mark.parametrize("attacker_first", [True, False])
def test_naming_a_stranger_blocks_nobody_and_leaks_nothing(client, app, attacker_first):
    attacker, attacker_id, victim, victim_id = _squat(client, attacker_first=attacker_first)
    attacker_ref, victim_ref = _reference(app, attacker_id), _reference(app, victim_id)
    (conflict,) = _conflicts(app)
    first, second = (attacker_id, victim_id) if attacker_first else (victim_id, attacker_id)
    assert (conflict.first_application_id, conflict.second_application_id) == (first, second)
    assert conflict.resolved_at is None and conflict.program == "dibao"
    assert conflict.person_hash == conflicts.person_hash(VICTIM[1]) and VICTIM[1] not in conflict.person_hash
    victim.read_everything(victim_id)
    attacker.read_everything(attacker_id)
    # the victim sees nothing of the attacker; the attacker nothing of the victim's own application
    victim.assert_never_saw(attacker_ref, ATTACKER[0], ATTACKER[1], ATTACKER_PHONE, "核实")
    attacker.assert_never_saw(victim_ref, VICTIM_PHONE, "核实")
    with app.app_context():
        # nobody is told anything when the flag opens (no message names the other household either)
        messages = [(m.recipient, str(m.payload)) for m in db.session.scalars(select(OutboxMessage))]
        assert {to for to, _ in messages} == {VICTIM_PHONE, ATTACKER_PHONE}  # log-in codes and "submitted"
        assert not any(to == VICTIM_PHONE and attacker_ref in p for to, p in messages)
        assert not any(to == ATTACKER_PHONE and victim_ref in p for to, p in messages)
        assert not any("待核实" in p for _, p in messages)
        opened = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "application.conflict_open"))
        assert opened.detail == {"conflict_ids": str(conflict.id)} and int(opened.target_id) == second
        db.session.remove()


def test_proxy_for_someone_with_an_open_application_is_flagged_not_refused(client, app):
    """A proxy (代办) application cannot be used as an oracle for 'does this person have an application'."""
    victim = Recorder(client, bound_citizen(client, VICTIM_PHONE, *VICTIM))
    victim_id = victim.prepare(draft_body(*VICTIM))
    assert victim.submit(victim_id).status_code == 200
    prober = Recorder(client, bound_citizen(client, ATTACKER_PHONE, *ATTACKER))
    body = {
        **draft_body(*VICTIM),
        "on_behalf_of": {"name": VICTIM[0], "id_number": VICTIM[1], "relation": "relative", "reason": "elderly"},
    }
    probe_id = prober.prepare(body)
    resp = prober.submit(probe_id)
    assert resp.status_code == 200, resp.get_json()
    prober.read_everything(probe_id)
    prober.assert_never_saw(_reference(app, victim_id), VICTIM_PHONE)
    assert [(c.first_application_id, c.second_application_id) for c in _conflicts(app)] == [(victim_id, probe_id)]


def test_own_duplicate_is_409_naming_nothing(client, app):
    me = Recorder(client, bound_citizen(client, VICTIM_PHONE, *VICTIM))
    first = me.prepare(draft_body(*VICTIM))
    assert me.submit(first).status_code == 200
    second = me.prepare(draft_body(*VICTIM, extra_members=[_member(THIRD, "spouse")]))
    resp = me.submit(second)
    assert resp.status_code == 409
    payload = resp.get_json()
    assert payload["status"] == "duplicate_application"
    assert payload["message"] == "您已有一件办理中的最低生活保障申请，请勿重复申请；如需修改请先撤回原申请"
    assert "errors" not in payload and _reference(app, first) not in str(payload)
    assert _conflicts(app) == []
    # after withdrawing the first, the second goes through
    assert me("post", f"/api/v1/applications/{first}/withdraw", json={"reason": "信息填错"}).status_code == 200
    assert me.submit(second).status_code == 200
    # another program is not a duplicate
    other = me.prepare({**draft_body(*VICTIM), "program": "linshi"})
    upload(client, me.headers, other, "hardship_proof", png_bytes(), "x.png")
    assert me.submit(other).status_code == 200
    assert _conflicts(app) == []


def test_same_proxy_twice_for_one_principal_is_409(client, app):
    proxy = Recorder(client, bound_citizen(client, ATTACKER_PHONE, *ATTACKER))
    body = {
        **draft_body(*VICTIM),
        "on_behalf_of": {"name": VICTIM[0], "id_number": VICTIM[1], "relation": "relative", "reason": "elderly"},
    }
    first = proxy.prepare(body)
    assert proxy.submit(first).status_code == 200
    resp = proxy.submit(proxy.prepare(body))
    assert resp.status_code == 409 and resp.get_json()["message"].startswith("该申请人已有一件办理中的")
    assert _reference(app, first) not in resp.get_data(as_text=True)


# --- officers: the flag, the resolution, the scope --------------------------------------------------------


def test_officer_resolves_and_the_other_applicant_is_told_neutrally(client, app):
    # the attacker lives in 李渡镇, the victim in 民和镇: two townships of one county
    attacker, attacker_id, victim, victim_id = _squat(client, attacker_township="360124101")
    attacker_ref, victim_ref = _reference(app, attacker_id), _reference(app, victim_id)
    (conflict,) = _conflicts(app)
    minhe = _officer(app, "minhe_c", "360124100")
    lidu = _officer(app, "lidu_c", "360124101")

    # queue: a marker, and a filter that lists only flagged applications
    queue = minhe.get("/portal/queue").get_data(as_text=True)
    assert 'data-testid="conflict-marker"' in queue and "低保申请 · 张**" in queue
    page = minhe.get(f"/portal/applications/{victim_id}").get_data(as_text=True)
    assert 'data-testid="conflict-badge"' in page and f'data-testid="conflict-{conflict.id}"' in page
    assert "不在本辖区，详情不予显示" in page
    for secret in (attacker_ref, ATTACKER[0], ATTACKER[1], ATTACKER[1][-4:], f"/portal/applications/{attacker_id}"):
        assert secret not in page, secret

    # a reason is required; nothing changes without one
    missing = _resolve(minhe, victim_id, conflict.id, choice="here", reason=" ")
    assert missing.status_code == 422 and "请填写核实依据" in missing.get_data(as_text=True)
    assert _resolve(minhe, victim_id, conflict.id, reason="户籍核对").status_code == 422
    assert _conflicts(app)[0].resolved_at is None

    done = _resolve(minhe, victim_id, conflict.id, choice="here", reason="经入户核实，张建国与其本人户同住")
    assert done.status_code == 302
    (resolved,) = _conflicts(app)
    assert resolved.chosen_application_id == victim_id and resolved.resolved_at is not None
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "application.conflict_resolve"))
        assert entry.detail["reason"] == "经入户核实，张建国与其本人户同住" and entry.region_code == "360124100"
        assert entry.detail["chosen_application_id"] == victim_id
        # the applicant whose household was not chosen is told in neutral words, naming no one
        notice = db.session.scalar(select(ApplicationEvent).where(ApplicationEvent.kind == "member_check"))
        assert notice.application_id == attacker_id and notice.citizen_text == conflicts.NOTICE_TEXT
        assert notice.reason is None and notice.detail is None
        messages = db.session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == ATTACKER_PHONE)).all()
        (told,) = [m for m in messages if m.payload.get("status") == "待核实"]
        assert told.payload == {"program": "最低生活保障", "status": "待核实", "reference": attacker_ref}
        victim_messages = db.session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == VICTIM_PHONE))
        assert not any(m.payload.get("status") == "待核实" for m in victim_messages)
        db.session.remove()
    timeline = attacker("get", f"/api/v1/applications/{attacker_id}/timeline").get_json()
    assert timeline[-1]["text"] == conflicts.NOTICE_TEXT and timeline[-1]["reason"] is None
    attacker.read_everything(attacker_id)
    attacker.assert_never_saw(victim_ref, VICTIM_PHONE, "入户核实", "同住")
    victim.read_everything(victim_id)
    victim.assert_never_saw(attacker_ref, ATTACKER[0], ATTACKER[1], "核实")

    # the other side's officer sees the outcome for their application, not the reason written about the other
    page = lidu.get(f"/portal/applications/{attacker_id}").get_data(as_text=True)
    assert "已核实：该成员不属于本申请家庭" in page and "同住" not in page and victim_ref not in page
    assert 'data-testid="conflict-badge"' not in page and f'data-testid="conflict-resolve-{conflict.id}"' not in page
    assert 'data-testid="conflict-marker"' not in lidu.get("/portal/queue").get_data(as_text=True)
    # decided once: a second decision is refused
    again = _resolve(lidu, attacker_id, conflict.id, choice="here", reason="再次核实")
    assert again.status_code == 409 and _conflicts(app)[0].chosen_application_id == victim_id

    # the county sees both sides, with links and the reason
    county = _officer(app, "jinxian_c", "360124", role="county_officer")
    page = county.get(f"/portal/applications/{attacker_id}").get_data(as_text=True)
    assert f"/portal/applications/{victim_id}" in page and "经入户核实" in page


def test_queue_filter_lists_only_flagged_applications(client, app):
    attacker, attacker_id, _, victim_id = _squat(client)
    third = Recorder(client, bound_citizen(client, "13900090003", *THIRD))
    third_id = third.prepare(draft_body(*THIRD))
    assert third.submit(third_id).status_code == 200
    minhe = _officer(app, "minhe_d", "360124100")
    everything = minhe.get("/portal/queue").get_data(as_text=True)
    assert everything.count('data-testid="conflict-marker"') == 2 and "李**" in everything
    flagged = minhe.get("/portal/queue?conflict=1").get_data(as_text=True)
    assert "共 2 件" in flagged and "李**" not in flagged and "张**" in flagged and "王**" in flagged
    # the flag lapses once one side is no longer open (withdrawn); the lapsed conflict cannot be decided
    withdrawn = attacker("post", f"/api/v1/applications/{attacker_id}/withdraw", json={"reason": "不再申请"})
    assert withdrawn.status_code == 200
    assert "共 0 件" in minhe.get("/portal/queue?conflict=1").get_data(as_text=True)
    (conflict,) = _conflicts(app)
    page = minhe.get(f"/portal/applications/{victim_id}").get_data(as_text=True)
    assert "已解除" in page and 'data-testid="conflict-badge"' not in page
    assert _resolve(minhe, victim_id, conflict.id, choice="here", reason="核实").status_code == 409


def test_officers_outside_both_regions_cannot_see_or_resolve(client, app):
    _, attacker_id, _, victim_id = _squat(client, attacker_township="360124101")
    (conflict,) = _conflicts(app)
    for username, region, role in (
        ("nanchang_x", "360121", "county_officer"),  # another county
        ("liantang_x", "360121100", "township_officer"),
        ("wenzhen_x", "360124102", "township_officer"),  # another township of the same county
    ):
        officer = _officer(app, username, region, role)
        for application_id in (attacker_id, victim_id):
            assert officer.get(f"/portal/applications/{application_id}").status_code == 404
            page = officer.get("/portal/queue").get_data(as_text=True)
            resp = officer.post(
                f"/portal/applications/{application_id}/conflicts/{conflict.id}/resolve",
                data={"choice": "here", "reason": "越权", "csrf_token": csrf_token(page)},
            )
            assert resp.status_code == 404, (username, resp.status_code)
        assert "共 0 件" in officer.get("/portal/queue?conflict=1").get_data(as_text=True)
    assert _conflicts(app)[0].resolved_at is None
    # an officer cannot reach a conflict through an unrelated application of their own region either
    minhe = _officer(app, "minhe_x", "360124100")
    third = Recorder(client, bound_citizen(client, "13900090004", *THIRD))
    third_id = third.prepare(draft_body(*THIRD))
    assert third.submit(third_id).status_code == 200
    assert _resolve(minhe, third_id, conflict.id, choice="other", reason="越权").status_code == 404
    assert _conflicts(app)[0].resolved_at is None


def test_cross_county_each_side_sees_only_its_own(client, app):
    # the attacker's application is in 南昌县 (莲塘镇), the victim's in 进贤县 (民和镇)
    _, attacker_id, _, victim_id = _squat(client, attacker_township="360121100")
    (conflict,) = _conflicts(app)
    nanchang = _officer(app, "nanchang_y", "360121", role="county_officer")
    page = nanchang.get(f"/portal/applications/{attacker_id}").get_data(as_text=True)
    assert f'data-testid="conflict-{conflict.id}"' in page and "不在本辖区，详情不予显示" in page
    assert _reference(app, victim_id) not in page and f"/portal/applications/{victim_id}" not in page
    assert nanchang.get(f"/portal/applications/{victim_id}").status_code == 404
    # the attacker's county decides "the person is not ours": the victim's side sees the outcome only
    assert _resolve(nanchang, attacker_id, conflict.id, choice="other", reason="查无此人同住").status_code == 302
    assert _conflicts(app)[0].chosen_application_id == victim_id
    minhe = _officer(app, "minhe_y", "360124100")
    page = minhe.get(f"/portal/applications/{victim_id}").get_data(as_text=True)
    assert "已核实：该成员属于本申请家庭" in page and "查无此人" not in page
    with app.app_context():
        (notice,) = db.session.scalars(select(ApplicationEvent).where(ApplicationEvent.kind == "member_check"))
        assert notice.application_id == attacker_id  # the household not chosen, not the victim
        db.session.remove()


def test_information_copy_township_cannot_resolve(client, app):
    attacker = Recorder(client, bound_citizen(client, ATTACKER_PHONE, *ATTACKER))
    attacker_id = attacker.prepare(draft_body(*ATTACKER, extra_members=[_member(VICTIM)]))
    assert attacker.submit(attacker_id).status_code == 200
    victim = Recorder(client, bound_citizen(client, VICTIM_PHONE, *VICTIM))
    victim_id = victim.prepare(draft_body(*VICTIM, hukou="360124102"))  # 户籍 in 温圳镇: information copy there
    assert victim.submit(victim_id).status_code == 200
    (conflict,) = _conflicts(app)
    wenzhen = _officer(app, "wenzhen_z", "360124102")
    page = wenzhen.get(f"/portal/applications/{victim_id}").get_data(as_text=True)
    assert f'data-testid="conflict-{conflict.id}"' in page
    assert f'data-testid="conflict-resolve-{conflict.id}"' not in page
    assert _resolve(wenzhen, victim_id, conflict.id, choice="here", reason="户籍核对").status_code == 403
    assert _conflicts(app)[0].resolved_at is None


def test_officer_start_for_person_is_flagged_not_refused(client, app):
    """The window path (an officer applies for a reported person) no longer answers with the other reference."""
    from core.actor import Actor
    from core.applications import services as applications

    attacker = Recorder(client, bound_citizen(client, ATTACKER_PHONE, *ATTACKER))
    attacker_id = attacker.prepare(draft_body(*ATTACKER, extra_members=[_member(VICTIM)]))
    assert attacker.submit(attacker_id).status_code == 200
    make_officer(app, "minhe_w", "township_officer", "360124100")
    with app.app_context():
        from core.accounts.models import Officer

        officer = db.session.scalar(select(Officer).where(Officer.username == "minhe_w"))
        actor = Actor(kind="officer", id=officer.id, roles=("township_officer",), region_code="360124100")
        started = applications.start_for_person(
            actor,
            program="dibao",
            name=VICTIM[0],
            id_number=VICTIM[1],
            phone=None,
            township_code="360124100",
            village_code=None,
            address="民和镇",
            reason="主动发现",
        )
        db.session.commit()
        started_id = started.id
        db.session.remove()
    assert [(c.first_application_id, c.second_application_id) for c in _conflicts(app)] == [(attacker_id, started_id)]


# --- PostgreSQL: concurrent submits ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def _pg_database(app):
    """The suite's own database when it runs on PostgreSQL; otherwise a scratch PostgreSQL database."""
    if app.config["DATABASE_URL"].startswith("postgresql"):
        yield None
        return
    server = postgres_server_url()
    if not postgres_reachable(server):
        unavailable(f"PostgreSQL not reachable at {server}")
    from tests.core.test_migrations import migrate_database

    url = scratch_database_url(server, "relieflink_conflicts_test")
    try:
        migrate_database(url, "upgrade")
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture
def pg_app(app, _pg_database):
    if _pg_database is None:
        yield app
        return
    from core.regions import services as region_services
    from wsgi import activate, create_app

    other = create_app("testing", DATABASE_URL=_pg_database)
    try:
        with other.app_context():
            region_services.load_demo_regions()
            db.session.commit()
            db.session.remove()
        yield other
    finally:
        with other.app_context():
            db.engine.dispose()
        activate(app)


def _slow_check(monkeypatch, seconds: float = 0.5) -> None:
    """Widen the race: each submit pauses after its look-up, as a busy server might."""
    original = conflicts._open_others

    def slow(*args, **kwargs):
        found = original(*args, **kwargs)
        time.sleep(seconds)
        return found

    monkeypatch.setattr(conflicts, "_open_others", slow)


def _fire_at_once(pg_app, calls: list[tuple[dict, str]]) -> list[int]:
    barrier = threading.Barrier(len(calls))
    results: list[int | None] = [None] * len(calls)

    def run(i: int, headers: dict, url: str) -> None:
        client = pg_app.test_client()  # its own client, its own app context and database connection
        barrier.wait()
        results[i] = client.post(url, headers=headers).status_code

    threads = [threading.Thread(target=run, args=(i, h, u)) for i, (h, u) in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@pytest.mark.postgres
def test_concurrent_submits_naming_one_member_are_both_flagged(pg_app, monkeypatch):
    client = pg_app.test_client()
    a = Recorder(client, bound_citizen(client, "13900091001", *ATTACKER))
    b = Recorder(client, bound_citizen(client, "13900091002", *THIRD))
    a_id = a.prepare(draft_body(*ATTACKER, extra_members=[_member(VICTIM)]))
    b_id = b.prepare(draft_body(*THIRD, extra_members=[_member(VICTIM, "child")]))
    _slow_check(monkeypatch)
    results = _fire_at_once(
        pg_app, [(a.headers, f"/api/v1/applications/{a_id}/submit"), (b.headers, f"/api/v1/applications/{b_id}/submit")]
    )
    assert results == [200, 200]
    with pg_app.app_context():
        rows = db.session.scalars(
            select(ApplicationConflict).where(ApplicationConflict.second_application_id.in_([a_id, b_id]))
        ).all()
        assert len(rows) == 1, "the later submit must see the earlier one"
        assert {rows[0].first_application_id, rows[0].second_application_id} == {a_id, b_id}
        assert conflicts.flagged_among([a_id, b_id]) == {a_id, b_id}
        db.session.remove()


@pytest.mark.postgres
def test_concurrent_own_duplicates_do_not_both_pass(pg_app, monkeypatch):
    client = pg_app.test_client()
    me = Recorder(client, bound_citizen(client, "13900091003", *VICTIM))
    first = me.prepare(draft_body(*VICTIM))
    second = me.prepare(draft_body(*VICTIM, extra_members=[_member(THIRD, "spouse")]))
    _slow_check(monkeypatch)
    results = _fire_at_once(
        pg_app,
        [(me.headers, f"/api/v1/applications/{first}/submit"), (me.headers, f"/api/v1/applications/{second}/submit")],
    )
    assert sorted(results) == [200, 409]
    with pg_app.app_context():
        open_count = db.session.scalar(
            select(func.count())
            .select_from(Application)
            .where(Application.id.in_([first, second]), Application.status == "submitted")
        )
        assert open_count == 1
        db.session.remove()


def test_lock_keys_are_stable_and_distinct(app):
    assert conflicts.lock_key(VICTIM[1]) == conflicts.lock_key(VICTIM[1])
    assert conflicts.lock_key(VICTIM[1]) != conflicts.lock_key(ATTACKER[1])
    assert -(2**63) <= conflicts.lock_key(VICTIM[1]) < 2**63
