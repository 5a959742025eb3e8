"""Attacks on face consent and the evidence chain, replayed against the API as an outsider would (issue 9):
replayed frames after a revoke, still photos, frames in the wrong order, misused challenges, signing after a
later failed check or outside the window, concurrent signatures and challenge use on PostgreSQL, tokens in
URLs and access logs. Real photos from ../shared/data/faces."""

from __future__ import annotations

import io
import logging
import shutil
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image, ImageEnhance, ImageOps
from sqlalchemy import delete, select

from core import clock
from core.database import db
from tests.api.test_authorizations import (
    FACE,
    IDENTITY,
    LETTER,
    LI,
    SIGNATURE,
    ZHANG,
    _face,
    _household,
    _sign,
    _signature_png,
)
from tests.conftest import (
    SHARED,
    drop_postgres_database,
    postgres_reachable,
    postgres_server_url,
    scratch_database_url,
    unavailable,
)
from tests.helpers import (
    LIVE_LIN,
    LIVE_OBAMA,
    auth_headers,
    bound_citizen,
    citizen_headers,
    face_challenge,
    face_frame,
    face_upload,
)

FACES = SHARED / "data" / "faces"


@pytest.fixture(autouse=True)
def _real_photos() -> None:
    """The real face photos (../shared/data/faces): skipped locally when absent, a failure under CI=true."""
    if not FACES.exists():
        unavailable(f"{FACES} is absent: no real photos to test faces with")


HAMILTON = (
    [f"hamilton_turn/{p.name}" for p in sorted((FACES / "hamilton_turn").glob("*.jpg"))] if FACES.exists() else []
)


def _import_portraits(application, directory: Path) -> None:
    shutil.copy(FACES / "obama.jpg", directory / "a.jpg")
    shutil.copy(FACES / "lin-manuel-miranda.png", directory / "b.png")
    manifest = directory / "manifest.csv"
    manifest.write_text(f"id_number,file\n{ZHANG[1]},a.jpg\n{LI[1]},b.png\n", encoding="utf-8")
    result = application.test_cli_runner().invoke(
        args=["identity", "import-portraits", str(directory), "--manifest", str(manifest)]
    )
    assert result.exit_code == 0 and "imported 2" in result.output, result.output


@pytest.fixture
def portraits(app, tmp_path):
    _import_portraits(app, tmp_path)


def _handover(client, headers, app_id, request_id, number) -> str:
    token = client.post(
        f"/api/v1/applications/{app_id}/authorizations/{request_id}/handover", headers=headers
    ).get_json()["token"]
    assert client.post(IDENTITY, headers=auth_headers(headers, token), json={"id_number": number}).status_code == 200
    return token


def _qr(client, headers, app_id, request_id) -> str:
    resp = client.post(f"/api/v1/applications/{app_id}/authorizations/{request_id}/qrcode", headers=headers)
    assert resp.status_code == 201
    return resp.get_json()["token"]


def _upload_bytes(client, headers, token, challenge_id, frames: list[bytes]):
    return client.post(
        FACE,
        headers=auth_headers(headers, token),
        data={"challenge_id": challenge_id, "frames": [(io.BytesIO(d), f"f{n}.jpg") for n, d in enumerate(frames)]},
        content_type="multipart/form-data",
    )


def _check_bytes(client, headers, token, frames: list[bytes]) -> dict:
    """A whole face check with these frame bytes, answering a fresh challenge; returns the result."""
    challenge = face_challenge(client, headers, token)
    resp = _upload_bytes(client, headers, token, challenge["challenge_id"], frames)
    assert resp.status_code == 202, resp.get_json()
    return client.get(f"{FACE}/{resp.get_json()['id']}", headers=auth_headers(headers, token)).get_json()


def _jpeg(image: Image.Image, quality: int = 70) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _image(name: str) -> Image.Image:
    return ImageOps.exif_transpose(Image.open(io.BytesIO(face_frame(name)))).convert("RGB")


def _other_order(actions: list[str]) -> tuple[str, ...]:
    return tuple(reversed(actions))


# --- replay ---------------------------------------------------------------------------------------------


def test_frames_accepted_once_are_refused_after_a_revoke_and_a_new_request(client, app, portraits):
    headers, app_id, requests = _household(client)
    member = bound_citizen(client, "13900061001", *LI)
    token = _qr(client, headers, app_id, requests[LI[0]]["id"])
    challenge = face_challenge(client, member, token)
    accepted = LIVE_LIN[tuple(challenge["actions"])]
    queued = face_upload(client, member, token, challenge["challenge_id"], accepted)
    result = client.get(f"{FACE}/{queued.get_json()['id']}", headers=auth_headers(member, token)).get_json()
    assert result["status"] == "passed", result
    assert _sign(client, member, token).status_code == 200
    with app.app_context():
        from core.authorizations.models import Evidence

        evidence = db.session.scalar(select(Evidence).where(Evidence.application_id == app_id))
        assert evidence.payload["face"]["challenge_id"] == challenge["challenge_id"]  # the evidence names it

    # the authorization is revoked; the household asks again with a fresh request
    revoked = client.post(
        f"/api/v1/applications/{app_id}/authorizations/{requests[LI[0]]['id']}/revoke", headers=headers
    )
    assert revoked.status_code == 200 and revoked.get_json()["status"] == "revoked"
    fresh = next(
        r
        for r in client.get(f"/api/v1/applications/{app_id}/authorizations", headers=headers).get_json()
        if r["member_name"] == LI[0]
    )
    assert fresh["id"] != requests[LI[0]]["id"] and fresh["status"] == "pending"
    token = _qr(client, headers, app_id, fresh["id"])

    # the recorded frames, arranged for whatever order the new challenge asks: refused as replay
    again = _face(client, member, token, LIVE_LIN)
    assert (again["status"], again["reason"], again["message"]) == (
        "failed",
        "replay",
        "照片与以前的核验重复，请按提示实时拍摄",
    )
    assert _sign(client, member, token).get_json()["status"] == "face_not_verified"
    # re-encoded and slightly brightened copies, then mirror images (which answer the opposite order)
    altered = [_jpeg(ImageEnhance.Brightness(_image(n)).enhance(1.08), quality=60) for n in accepted]
    assert _check_bytes(client, member, token, altered)["reason"] == "replay"
    mirrored = [_jpeg(ImageOps.mirror(_image(n)), quality=85) for n in reversed(accepted)]
    assert _check_bytes(client, member, token, mirrored)["reason"] == "replay"
    states = {
        r["member_name"]: r["status"]
        for r in client.get(f"/api/v1/applications/{app_id}/authorizations", headers=headers).get_json()
    }
    assert states[LI[0]] == "locked"  # three refused attempts lock the remote path, as any failure does


def test_the_replay_memory_is_per_person_and_tolerates_only_small_changes(app, ctx):
    from core.liveness import services as liveness

    seen = HAMILTON[0:1] + HAMILTON[4:5]  # f0132 and f0160
    key, other = liveness.person_key(LI[1]), liveness.person_key(ZHANG[1])
    assert LI[1] not in key and len(key) == 64  # a keyed hash, never the number
    liveness.remember_accepted(key, liveness.hash_frames(face_frame(n) for n in seen), purpose="t", challenge_id=None)

    def replay(frames, person=key):
        return liveness.is_replay(person, liveness.hash_frames(frames), max_distance=3)

    assert replay([face_frame(HAMILTON[0])])  # the same bytes
    assert replay([_jpeg(_image(HAMILTON[4]).resize((320, 180)), quality=50)])  # rescaled, re-encoded
    assert replay([_jpeg(ImageOps.mirror(_image(HAMILTON[0])))])  # mirrored
    assert not replay([face_frame(n) for n in HAMILTON[1:4]])  # other frames of the same clip
    assert not replay([face_frame("obama1.jpg"), face_frame("obama2.jpg")])
    assert not replay([face_frame(HAMILTON[0])], person=other)  # another person's memory


# --- still photos and the order of the turns ------------------------------------------------------------


@pytest.mark.parametrize(
    ("turns", "actions", "expected"),
    [
        ([0.26, 0.59, 0.39], ["turn_left", "turn_right"], True),  # up 0.33, down 0.20
        ([0.26, 0.59, 0.39], ["turn_right", "turn_left"], False),  # the same frames, the other order
        ([0.59, 0.26, 0.55], ["turn_right", "turn_left"], True),
        ([0.26, 0.39, 0.52, 0.55, 0.59], ["turn_left", "turn_right"], False),  # a one-way sweep
        ([0.40, 0.50, 0.45, 0.56], ["turn_left", "turn_right"], False),  # each move below the threshold
        ([0.50, 0.45, 0.40, 0.60, 0.44], ["turn_left", "turn_right"], True),  # counted from the lowest point
        ([0.40, None, 0.60, 0.41], ["turn_left", "turn_right"], True),  # a frame without landmarks is skipped
        ([None, None], ["turn_left", "turn_right"], False),
    ],
)
def test_the_action_order(turns, actions, expected):
    from core.liveness.services import follows

    assert follows(turns, actions, 0.15) is expected


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: [face_frame("obama2.jpg")] * 3, id="the same photo three times"),
        pytest.param(
            lambda: [face_frame("obama1.jpg"), face_frame("mirror:obama1.jpg"), face_frame("obama2.jpg")],
            id="a photo next to its mirror image",
        ),
        pytest.param(
            lambda: [_jpeg(_image("obama2.jpg"), 90), _jpeg(_image("obama2.jpg"), 60), _jpeg(_image("obama2.jpg"), 40)],
            id="one photo re-encoded",
        ),
        pytest.param(
            lambda: [
                face_frame("obama2.jpg"),
                _jpeg(_image("obama2.jpg").crop((40, 60, 626, 1200))),
                _jpeg(_image("obama2.jpg").rotate(6, expand=True, fillcolor=(255, 255, 255))),
            ],
            id="one photo moved and tilted",
        ),
    ],
)
def test_a_still_photo_is_refused(client, portraits, make):
    headers, app_id, requests = _household(client)
    token = _handover(client, headers, app_id, requests[ZHANG[0]]["id"], ZHANG[1])
    result = _check_bytes(client, headers, token, make())
    assert (result["status"], result["reason"], result["message"]) == ("failed", "no_liveness", "请按提示缓慢转动头部")
    assert _sign(client, headers, token).get_json()["status"] == "face_not_verified"


def test_frames_in_the_wrong_order_for_the_challenge(client, portraits):
    headers, app_id, requests = _household(client)
    token = _handover(client, headers, app_id, requests[ZHANG[0]]["id"], ZHANG[1])
    challenge = face_challenge(client, headers, token)
    wrong = LIVE_OBAMA[_other_order(challenge["actions"])]  # a real turn and back, the other way round
    queued = face_upload(client, headers, token, challenge["challenge_id"], wrong)
    result = client.get(f"{FACE}/{queued.get_json()['id']}", headers=auth_headers(headers, token)).get_json()
    assert (result["status"], result["reason"]) == ("failed", "wrong_sequence")
    assert result["message"] == "未按提示的顺序转头，请重新获取提示后按顺序缓慢转头"
    assert _sign(client, headers, token).get_json()["status"] == "face_not_verified"
    # a recorded one-way sweep (the real clip, in order) answers neither order
    member_token = _handover(client, headers, app_id, requests[LI[0]]["id"], LI[1])
    assert _face(client, headers, member_token, HAMILTON)["reason"] == "wrong_sequence"


def test_the_right_frames_pass_either_order(client, app, portraits, monkeypatch):
    """The live sets used by the tests really perform both orders (so the random choice cannot flake)."""
    from core.liveness import services as liveness

    headers, app_id, requests = _household(client)
    for order in (("turn_left", "turn_right"), ("turn_right", "turn_left")):
        monkeypatch.setattr(liveness, "random_actions", lambda order=order: list(order))
        token = _handover(client, headers, app_id, requests[ZHANG[0]]["id"], ZHANG[1])
        challenge = face_challenge(client, headers, token)
        assert tuple(challenge["actions"]) == order
        assert challenge["instructions"] == [{"turn_left": "向左转头", "turn_right": "向右转头"}[a] for a in order]
        result = _face(client, headers, token, {order: LIVE_OBAMA[order]})
        assert result["status"] == "passed", result
        with app.app_context():
            from core.liveness.models import AcceptedFrame

            assert db.session.query(AcceptedFrame).count() == len(LIVE_OBAMA[order])
            db.session.execute(delete(AcceptedFrame))  # the next order starts from an empty replay memory
            db.session.commit()


# --- the challenge: expired, used, other session, other request -----------------------------------------


def test_misused_challenges_are_refused(client, app, portraits):
    headers, app_id, requests = _household(client)
    zhang = _handover(client, headers, app_id, requests[ZHANG[0]]["id"], ZHANG[1])
    li = _handover(client, headers, app_id, requests[LI[0]]["id"], LI[1])
    frames = LIVE_OBAMA[("turn_right", "turn_left")]

    missing = client.post(
        FACE,
        headers=auth_headers(headers, zhang),
        data={"frames": [(io.BytesIO(face_frame(n)), n) for n in frames]},
        content_type="multipart/form-data",
    )
    assert missing.status_code == 422, missing.get_json()
    assert missing.get_json()["errors"]["challenge_id"] == ["此项为必填项"], missing.get_json()
    unknown = face_upload(client, headers, zhang, "x" * 24, frames)
    assert unknown.status_code == 404 and unknown.get_json()["status"] == "challenge_invalid"

    # a challenge issued for another member's request
    for_li = face_challenge(client, headers, li)["challenge_id"]
    other_request = face_upload(client, headers, zhang, for_li, frames)
    assert other_request.status_code == 404 and other_request.get_json()["message"] == "动作提示无效，请重新获取"

    # the same account on another device (another log-in session) cannot answer this session's challenge
    challenge = face_challenge(client, headers, zhang)["challenge_id"]
    clock.set_offset(timedelta(seconds=61))  # the SMS resend interval
    other_device = citizen_headers(client, "13900060000")
    assert other_device["Authorization"] != headers["Authorization"]
    assert face_upload(client, other_device, zhang, challenge, frames).get_json()["status"] == "challenge_invalid"

    # expired
    clock.set_offset(timedelta(seconds=181))
    expired = face_upload(client, headers, zhang, challenge, frames)
    assert expired.status_code == 409 and expired.get_json()["status"] == "challenge_expired"
    clock.set_offset(timedelta(0))

    # used once, never again (refused uploads above consumed nothing)
    assert (
        face_upload(client, headers, zhang, challenge, LIVE_OBAMA[tuple(_actions(app, challenge))]).status_code == 202
    )
    used = face_upload(client, headers, zhang, challenge, frames)
    assert used.status_code == 409 and used.get_json()["status"] == "challenge_used"
    with app.app_context():
        from core.authorizations.models import FaceVerification

        assert db.session.query(FaceVerification).count() == 1  # only the one real upload was queued


def test_a_challenge_answers_only_its_own_purpose(app, ctx):
    """A real-name challenge (subject: the user id) is no authorization challenge for a request that happens
    to carry the same id, from the same session, and the other way round."""
    from core.errors import NotFound
    from core.liveness import services as liveness

    for issued, taken in (("real_name", "authorization"), ("authorization", "real_name")):
        challenge = liveness.issue_challenge(issued, 7, "session-1", ttl_seconds=180)
        with pytest.raises(NotFound):
            liveness.take_challenge(challenge.id, taken, 7, "session-1")
        assert liveness.take_challenge(challenge.id, issued, 7, "session-1").used_at is not None


def _actions(app, challenge_id: str) -> list[str]:
    with app.app_context():
        from core.liveness.models import FaceChallenge

        return db.session.get(FaceChallenge, challenge_id).actions


# --- the signature follows the latest check, within the window ------------------------------------------


def test_sign_after_a_later_failed_check_is_refused(client, portraits):
    headers, app_id, requests = _household(client)
    token = _handover(client, headers, app_id, requests[ZHANG[0]]["id"], ZHANG[1])
    assert _face(client, headers, token, LIVE_OBAMA)["status"] == "passed"
    # someone else then tries on the same hand-over and fails
    someone_else = ["biden.jpg", "biden2.jpg", "kit_harington_john1.jpeg"]
    assert _face(client, headers, token, someone_else)["reason"] == "mismatch"
    refused = _sign(client, headers, token)
    assert refused.status_code == 409 and refused.get_json()["status"] == "face_not_verified"
    assert client.get(LETTER, headers=auth_headers(headers, token)).get_json()["face_passed"] is False


def test_sign_outside_the_window_is_refused(client, app, portraits):
    headers, app_id, requests = _household(client)
    token = _handover(client, headers, app_id, requests[ZHANG[0]]["id"], ZHANG[1])
    assert _face(client, headers, token, LIVE_OBAMA)["status"] == "passed"
    clock.set_offset(timedelta(seconds=app.config["FACE_SIGN_WINDOW_SECONDS"] + 1))
    late = _sign(client, headers, token)
    assert late.status_code == 409 and late.get_json()["status"] == "face_check_expired"
    assert late.get_json()["message"] == "人脸核验已超过10分钟，请重新核验后签名"
    clock.set_offset(timedelta(seconds=app.config["FACE_SIGN_WINDOW_SECONDS"] - 10))
    assert _sign(client, headers, token).status_code == 200  # inside the window the same pass counts


# --- PostgreSQL: concurrent signatures and concurrent use of one challenge ------------------------------


@pytest.fixture(scope="module")
def _postgres_app(app):
    """The suite's own app when it runs on PostgreSQL, else an app on a scratch PostgreSQL database."""
    if app.config["DATABASE_URL"].startswith("postgresql"):
        yield app
        return
    server = postgres_server_url()
    if not postgres_reachable(server):
        unavailable(f"PostgreSQL not reachable at {server}")
    from core.regions import services as region_services
    from tests.core.test_migrations import migrate_database
    from wsgi import create_app

    url = scratch_database_url(server, "relieflink_consent_test")
    migrate_database(url, "upgrade")
    pg = create_app("testing", DATABASE_URL=url)
    with pg.app_context():
        region_services.load_demo_regions()
        db.session.commit()
    try:
        yield pg
    finally:
        with pg.app_context():
            db.engine.dispose()
        drop_postgres_database(url)


@pytest.fixture
def pg_app(app, _postgres_app, tmp_path):
    from tests.conftest import _empty_tables
    from wsgi import activate

    if _postgres_app is not app:
        activate(_postgres_app)  # tasks, keys and storage of the PostgreSQL app
    try:
        _import_portraits(_postgres_app, tmp_path)
        yield _postgres_app
    finally:
        if _postgres_app is not app:
            _empty_tables(_postgres_app)
            activate(app)


def _at_once(*calls):
    """Run the calls in threads released together; returns their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        barrier.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=(n, c)) for n, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def _two_members_ready(pg):
    """The applicant (same phone) and a member (own phone, QR) have both passed their face checks."""
    client = pg.test_client()
    headers, app_id, requests = _household(client)
    zhang = _handover(client, headers, app_id, requests[ZHANG[0]]["id"], ZHANG[1])
    assert _face(client, headers, zhang, LIVE_OBAMA)["status"] == "passed"
    member = bound_citizen(client, "13900061002", *LI)
    li = _qr(client, headers, app_id, requests[LI[0]]["id"])
    assert _face(client, member, li, LIVE_LIN)["status"] == "passed"
    return app_id, [(headers, zhang), (member, li)]


def _sign_call(pg, headers, token):
    def call():
        resp = pg.test_client().post(
            SIGNATURE,
            headers=auth_headers(headers, token),
            data={"signature": (io.BytesIO(_signature_png()), "s.png")},
            content_type="multipart/form-data",
        )
        return resp.status_code, resp.get_json()

    return call


def _slow_chain_head(monkeypatch):
    """Widen the race: every signature waits a moment after reading the chain head."""
    from core.authorizations import evidence

    original = evidence._chain_head

    def slow(app_id):
        head = original(app_id)
        time.sleep(0.5)
        return head

    monkeypatch.setattr(evidence, "_chain_head", slow)


def _chain_of(pg, app_id):
    from core.authorizations import services
    from core.authorizations.models import Evidence

    with pg.app_context():
        rows = db.session.scalars(
            select(Evidence).where(Evidence.application_id == app_id).order_by(Evidence.sequence)
        ).all()
        problems = services.verify_chain(app_id)
        db.session.remove()
    return [r.sequence for r in rows], problems


@pytest.mark.postgres
def test_two_members_signing_at_once_keep_one_chain(pg_app, monkeypatch):
    app_id, signers = _two_members_ready(pg_app)
    _slow_chain_head(monkeypatch)
    results = _at_once(*(_sign_call(pg_app, h, t) for h, t in signers))
    assert [status for status, _ in results] == [200, 200], results  # the second waited for the first
    assert {body["status"] for _, body in results} == {"authorized"}
    assert _chain_of(pg_app, app_id) == ([1, 2], [])
    verify = pg_app.test_cli_runner().invoke(args=["authorizations", "verify", str(app_id)])
    assert verify.exit_code == 0 and "evidence intact" in verify.output


@pytest.mark.postgres
def test_without_the_lock_the_constraint_still_refuses_a_fork(pg_app, monkeypatch):
    """Should anything bypass the row lock, unique (application, sequence) turns the loser into a clean,
    retryable 409 — never a second record with the same sequence."""
    from core.authorizations import evidence

    app_id, signers = _two_members_ready(pg_app)
    _slow_chain_head(monkeypatch)
    monkeypatch.setattr(evidence, "lock_application", lambda app_id: None)
    results = _at_once(*(_sign_call(pg_app, h, t) for h, t in signers))
    assert sorted(status for status, _ in results) == [200, 409], results
    loser = next(n for n, (status, _) in enumerate(results) if status == 409)
    assert results[loser][1]["status"] == "evidence_conflict"
    assert results[loser][1]["message"] == "其他家庭成员正在同时授权，请稍后重试"
    assert _chain_of(pg_app, app_id) == ([1], [])
    retried = _sign_call(pg_app, *signers[loser])()  # the member simply tries again
    assert retried[0] == 200, retried
    assert _chain_of(pg_app, app_id) == ([1, 2], [])


@pytest.mark.postgres
def test_one_challenge_used_at_once_from_two_requests(pg_app, monkeypatch):
    from core.files import storage

    client = pg_app.test_client()
    headers, app_id, requests = _household(client)
    token = _handover(client, headers, app_id, requests[ZHANG[0]]["id"], ZHANG[1])
    challenge = face_challenge(client, headers, token)
    frames = LIVE_OBAMA[tuple(challenge["actions"])]
    original = storage.store_upload

    def slow_store(*args, **kwargs):  # hold the first transaction open after it took the challenge
        time.sleep(0.3)
        return original(*args, **kwargs)

    monkeypatch.setattr(storage, "store_upload", slow_store)

    def upload():
        resp = face_upload(pg_app.test_client(), headers, token, challenge["challenge_id"], frames)
        return resp.status_code, resp.get_json()

    results = _at_once(upload, upload)
    assert sorted(status for status, _ in results) == [202, 409], results
    assert next(body for status, body in results if status == 409)["status"] == "challenge_used"


# --- tokens out of URLs and access logs ----------------------------------------------------------------


def test_tokens_stay_out_of_urls_and_access_logs(app, client, portraits, caplog):
    from werkzeug.serving import make_server

    headers, app_id, requests = _household(client)
    qr = client.post(f"/api/v1/applications/{app_id}/authorizations/{requests[LI[0]]['id']}/qrcode", headers=headers)
    link, token = qr.get_json()["link"], qr.get_json()["token"]
    assert link == f"{app.config['AUTH_LINK_BASE']}#token={token}" and "?" not in link  # a fragment is never sent
    spec = client.get("/api/openapi.json").get_json()
    assert not [p for p in spec["paths"] if "token" in p]
    params = spec["paths"]["/api/v1/authorizations/letter"]["get"]["parameters"]
    assert {"in": "header", "name": "X-Authorization-Token"}.items() <= params[0].items()
    member = bound_citizen(client, "13900061003", *LI)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"

    def get(path, extra=None):
        request = urllib.request.Request(base + path, headers={**member, **(extra or {})})
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                return resp.status
        except urllib.error.HTTPError as err:
            return err.code

    caplog.set_level(logging.INFO)
    try:
        assert get("/api/v1/authorizations/letter", {"X-Authorization-Token": token}) == 200
        assert get(f"/api/v1/authorizations/{token}") == 404  # an old client with the token in the path
        assert get(f"/api/v1/authorizations/letter?token={token}") == 422  # or in the query: not accepted
        assert get(f"/api/v1/authorizations/{token}/face/1?access_token={token}") == 404
    finally:
        server.shutdown()
        server.server_close()
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert len([line for line in lines if "/api/v1/authorizations/" in line]) == 4, lines
    assert sum("[redacted]" in line for line in lines) == 3, lines
    assert not [r for r in caplog.records if token in r.getMessage()]
