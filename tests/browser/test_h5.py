"""The citizens' H5 app (h5/) in a real phone-sized Chromium: SMS log-in, real-name verification by face with
the browser camera (Chromium's fake camera playing a Y4M clip made here with ffmpeg from the real head-turn
frames), authorization from a QR link on a second browser context, the one-phone hand-over, large-text mode.
Every test checks the server's state through the API afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from PIL import Image
from werkzeug.serving import make_server

from tests.conftest import ROOT, SHARED, unavailable
from tests.helpers import LIVE_LIN, draft_body, id_number

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
FACES = SHARED / "data" / "faces"
PHONE = {"width": 390, "height": 844}
HOLD_SECONDS = 1  # each photo of the clip stays this long on the fake camera: the page shoots one a second


def make_clip(path: Path, names: list[str]) -> None:
    """A Y4M clip (what Chromium's fake camera plays) showing each frame HOLD_SECONDS, in order."""
    work = path.parent / f"{path.stem}-frames"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    for i, name in enumerate([*names, names[-1]]):  # the last photo once more: it keeps its full second
        shutil.copy(FACES / name, work / f"{i:03d}.jpg")
    tmp = path.with_suffix(".tmp.y4m")
    subprocess.run(
        [
            "ffmpeg", "-y", "-loglevel", "error", "-framerate", str(1 / HOLD_SECONDS), "-i", str(work / "%03d.jpg"),
            "-r", "10", "-pix_fmt", "yuv420p", "-vf", "scale=640:360", str(tmp),
        ],
        check=True,
    )  # fmt: skip
    tmp.replace(path)  # the camera opens the file when the page starts it: never half-written


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    if not shutil.which("ffmpeg"):
        unavailable("ffmpeg is not installed (apt-get install ffmpeg; scripts/ensure-system.sh)")
    if not FACES.exists():
        unavailable(f"{FACES} is absent: no real photos")
    path = tmp_path_factory.mktemp("camera") / "camera.y4m"
    make_clip(path, LIVE_LIN[("turn_left", "turn_right")])  # the device needs a readable clip at launch
    return path


@pytest.fixture(scope="module")
def live_server(app) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def phone_browser(clip):
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        unavailable(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    args = [
        "--no-sandbox",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-gpu",
        "--no-first-run",
        "--disable-quic",
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
    ]
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        yield instance
        instance.close()


class Phone:
    """A phone-sized browser context that records CSP violations and page errors."""

    def __init__(self, browser, base: str, **options):
        self.context = browser.new_context(
            locale="zh-CN", viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, **options
        )
        self.context.grant_permissions(["camera", "geolocation"], origin=base)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on(
            "console",
            lambda msg: (
                self.problems.append(msg.text)
                if msg.type == "error" and "Content Security Policy" in msg.text
                else None
            ),
        )
        self.page.on("pageerror", lambda exc: self.problems.append(str(exc)))

    def close(self):
        self.context.close()


@pytest.fixture
def phones(phone_browser, live_server):
    made: list[Phone] = []

    def new(**options) -> Phone:
        made.append(Phone(phone_browser, live_server, **options))
        return made[-1]

    yield new
    for phone in made:
        phone.page.wait_for_load_state("networkidle")  # no request still running when the tables are emptied
        assert phone.problems == []  # no CSP refusal, no script error on any page
        phone.close()


def import_portrait(app, tmp_path, number: str, photo: str = "lin-manuel-miranda.png") -> None:
    folder = tmp_path / f"portrait-{number}"
    folder.mkdir()
    shutil.copy(FACES / photo, folder / "p.png")
    (folder / "m.csv").write_text(f"id_number,file\n{number},p.png\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(
        args=["identity", "import-portraits", str(folder), "--manifest", str(folder / "m.csv")]
    )
    assert result.exit_code == 0, result.output


def sms_login(page, phone: str) -> None:
    page.wait_for_selector("#phone")
    page.fill("#phone", phone)
    page.click("#send-code")
    page.wait_for_selector("#dev-code")
    page.fill("#code", page.inner_text("#dev-code").split("：")[-1])
    page.click("#login")


def film_face(page, clip: Path) -> None:
    """Read the challenge's actions from the page, put the matching head turn on the fake camera, film."""
    page.wait_for_selector("#start-camera")
    actions = tuple(page.get_attribute("#instruction", "data-actions").split(","))
    make_clip(clip, LIVE_LIN[actions])
    page.click("#start-camera")
    page.wait_for_selector("#camera")


def page_headers(page) -> dict[str, str]:
    """The signed-in person's own API credentials, taken from the page (the check goes through the API)."""
    token = page.evaluate("sessionStorage.getItem('rl_access_token')")
    assert token
    return {"Authorization": f"Bearer {token}"}


def draw_signature(page) -> None:
    box = page.locator("#signature-pad").bounding_box()
    x0, y0, w, hgt = box["x"], box["y"], box["width"], box["height"]
    for stroke in (
        [(0.1, 0.6), (0.25, 0.2), (0.4, 0.75), (0.55, 0.25), (0.75, 0.7), (0.9, 0.3)],
        [(0.15, 0.85), (0.85, 0.8)],
    ):
        page.mouse.move(x0 + stroke[0][0] * w, y0 + stroke[0][1] * hgt)
        page.mouse.down()
        for fx, fy in stroke[1:]:
            page.mouse.move(x0 + fx * w, y0 + fy * hgt, steps=8)
        page.mouse.up()


def test_citizen_verifies_real_name_with_the_phone_camera(phones, live_server, app, client, clip, tmp_path):
    from playwright.sync_api import expect

    person = ("林曼", id_number(date(1980, 1, 16), 93))
    import_portrait(app, tmp_path, person[1])
    phone = phones()
    page = phone.page
    page.goto(f"{live_server}/h5/real-name")
    page.wait_for_url("**/h5/real-name#/login?next=%2Freal-name")
    page.fill("#phone", "1390000")
    page.click("#send-code")
    expect(page.locator(".van-field__error-message")).to_contain_text("手机号")  # next to the field, in Chinese
    sms_login(page, "13900007011")
    page.wait_for_selector("#name")
    page.fill("#name", person[0])
    page.fill("#id-number", person[1][:-1] + ("0" if person[1][-1] != "0" else "1"))  # a typo first
    page.click("#claim")
    expect(page.locator(".van-field__error-message")).to_contain_text("校验位")
    page.fill("#id-number", person[1])
    page.click("#claim")
    expect(page.locator("#instruction")).to_contain_text("转头，再")
    film_face(page, clip)
    page.wait_for_selector("#verified", timeout=60_000)
    assert page.inner_text("#verified").startswith(f"已实名核验：{person[0]}")
    page.click("#apply")
    expect(page.locator("#draft")).to_contain_text("已创建低保申请草稿")

    headers = page_headers(page)
    me = client.get("/api/v1/me", headers=headers).get_json()
    assert me["real_name_status"] == "verified" and me["verification_method"] == "face"
    assert me["real_name"] == person[0]
    drafts = client.get("/api/v1/applications", headers=headers).get_json()
    assert [d["status"] for d in drafts] == ["draft"]


UNLABELLED = """() => [...document.querySelectorAll('input, textarea, select, button, [role=switch], canvas, video')]
  .filter((el) => el.offsetParent !== null || el.tagName === 'VIDEO')
  .filter((el) => {
    const name = (el.getAttribute('aria-label') || el.innerText || '').trim();
    const label = el.id && document.querySelector(`label[for="${el.id}"]`);
    return !name && !(label && label.innerText.trim());
  })
  .map((el) => el.outerHTML.slice(0, 120))"""


def test_large_text_mode_is_persisted_labelled_and_high_contrast(phones, live_server, tmp_path):
    phone = phones()
    page = phone.page
    page.goto(f"{live_server}/h5/")
    page.wait_for_selector("#go-real-name")
    size = "(s) => parseFloat(getComputedStyle(document.querySelector(s)).fontSize)"
    assert page.evaluate(size, "#go-real-name .van-cell__title") < 18
    page.click("#large-text-toggle")
    assert page.get_attribute("#large-text-toggle", "aria-pressed") == "true"
    page.reload()  # persisted on the device
    page.wait_for_selector("#go-real-name")
    assert page.evaluate("document.documentElement.classList.contains('large-text')")
    assert page.get_attribute("#large-text-switch", "aria-checked") == "true"
    for selector in ("#go-real-name .van-cell__title", ".rl-hint", "#large-text-toggle", "#go-login"):
        assert page.evaluate(size, selector) >= 18, selector
    assert page.evaluate("getComputedStyle(document.querySelector('.rl-hint')).color") == "rgb(0, 0, 0)"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"
    assert page.evaluate("document.fonts.check('16px vant-icon')")  # the icon font is the inline one
    assert page.evaluate(UNLABELLED) == []
    page.click("#go-login")
    page.wait_for_selector("#phone")
    assert page.evaluate(size, "#phone") >= 18 and page.evaluate(size, ".van-field__label") >= 18
    assert page.evaluate(UNLABELLED) == []  # every field has its <label for>, every button a name

    shot = Path(os.environ.get("H5_SCREENSHOT_DIR", tmp_path)) / "h5-large-text.png"
    page.screenshot(path=str(shot), full_page=False)
    image = Image.open(shot).convert("L")
    assert image.size == (PHONE["width"] * 2, PHONE["height"] * 2)  # the phone viewport at 2x
    histogram = image.histogram()
    dark, light = sum(histogram[:40]), sum(histogram[235:])
    assert dark > 0.002 * image.size[0] * image.size[1]  # black text on
    assert light > 0.5 * image.size[0] * image.size[1]  # a white page
    # the field labels are large: the "手机号" label's box is at least 18 CSS px high
    assert page.locator("label[for=phone]").bounding_box()["height"] >= 18


def test_h5_shell_paths_headers_and_no_remote_code(client):
    for path in ("/h5/", "/h5/real-name", "/h5/authorize"):
        resp = client.get(path)
        assert resp.status_code == 200 and b'<div id="app">' in resp.data, path
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self';" in csp and "unsafe" not in csp
        assert resp.headers["Cache-Control"] == "no-store"
    assert client.get("/h5/app.js").headers["Content-Security-Policy"]
    for path in ("/h5/../wsgi.py", "/h5/%2e%2e/wsgi.py", "/h5/vendor/../../__init__.py", "/h5/nothing.js"):
        assert client.get(path).status_code == 404, path
    vendor = ROOT / "h5" / "static"
    for file in vendor.rglob("*"):
        if file.suffix in {".js", ".css", ".html"}:
            text = file.read_text(encoding="utf-8")
            for marker in ("alicdn.com", "//cdn", "unpkg.com", "jsdelivr", "googleapis"):
                assert marker not in text, (file, marker)
            if file.suffix == ".css":  # everything a stylesheet loads is inline
                assert text.count("url(") == text.count("url(data:"), file
    listed = (vendor / "vendor" / "VENDORED.md").read_text(encoding="utf-8")
    for name, version in (("vue", "3.5.45"), ("vant", "4.10.2"), ("signature_pad", "5.1.4")):
        assert f"| {name} | {version} | MIT |" in listed
        assert (vendor / "vendor" / name / "LICENSE").exists()


# --- authorization: QR link on the member's own phone, and the one-phone hand-over ------------------------


def applicant_with_household(client, page, live_server, phone: str, applicant, member) -> tuple[dict, int, int]:
    """The applicant logs in on their phone; their real name and a household of three are set up through the
    API with the phone's own token. Returns (headers, application id, the member's authorization id)."""
    page.goto(f"{live_server}/h5/#/login")
    sms_login(page, phone)
    page.wait_for_selector("#go-real-name")
    headers = page_headers(page)
    claimed = client.post(
        "/api/v1/me/real-name", headers=headers, json={"name": applicant[0], "id_number": applicant[1]}
    )
    assert claimed.status_code == 200, claimed.get_json()
    verified = client.post("/api/v1/me/real-name/verify", headers=headers, json={"method": "id_service"})
    assert verified.get_json()["status"] == "passed"
    child = {"name": "张小宝", "id_number": id_number(date(2016, 3, 3), 45), "relation": "child"}
    body = draft_body(
        *applicant,
        extra_members=[
            {
                "name": member[0],
                "id_number": member[1],
                "relation": "spouse",
                "health": "healthy",
                "employment": "farming",
            },
            {**child, "health": "healthy", "employment": "student"},
        ],
    )
    created = client.post("/api/v1/applications", headers=headers, json=body)
    assert created.status_code == 201, created.get_json()
    app_id = created.get_json()["id"]
    requests = client.get(f"/api/v1/applications/{app_id}/authorizations", headers=headers).get_json()
    by_name = {r["member_name"]: r for r in requests}
    assert set(by_name) == {applicant[0], member[0]}  # the child is covered by the applicant
    return headers, app_id, by_name[member[0]]["id"]


def statuses(client, headers, app_id) -> dict[str, tuple[str, str | None]]:
    rows = client.get(f"/api/v1/applications/{app_id}/authorizations", headers=headers).get_json()
    return {r["member_name"]: (r["status"], r["method"]) for r in rows}


def sign_and_finish(page) -> None:
    page.wait_for_selector("#signature-pad", timeout=60_000)
    page.click("#submit-signature")  # nothing written yet: said next to the pad, nothing sent
    assert page.inner_text("#signature-error") == "请用手指在方框内写下您的姓名"
    draw_signature(page)
    page.click("#submit-signature")
    page.wait_for_selector("#auth-done")
    assert page.evaluate("sessionStorage.getItem('rl_authorization_token')") is None  # the token is gone


def test_member_authorizes_from_a_qr_link_on_their_own_phone(phones, live_server, app, client, clip, tmp_path):
    applicant = ("张建国", id_number(date(1962, 4, 18), 51))
    member = ("李四", id_number(date(1965, 9, 2), 52))
    import_portrait(app, tmp_path, member[1])
    applicant_phone = phones()
    headers, app_id, member_request = applicant_with_household(
        client, applicant_phone.page, live_server, "13900007021", applicant, member
    )
    page = applicant_phone.page
    page.goto(f"{live_server}/h5/#/applications")
    page.click(f"[data-testid=qr-{member_request}]")
    page.wait_for_selector(f"[data-testid=qr-image-{member_request}]")
    link = page.inner_text(f"[data-testid=qr-link-{member_request}]")
    assert link.startswith("http://127.0.0.1:5000/h5/authorize#token=")  # AUTH_LINK_BASE + fragment
    qr_png = page.get_attribute(f"[data-testid=qr-image-{member_request}]", "src")
    assert qr_png.startswith("data:image/png;base64,")

    # the member's own phone (another browser context) opens the link on this server
    member_phone = phones()
    mpage = member_phone.page
    requested: list[str] = []
    mpage.on("request", lambda r: requested.append(r.url))
    mpage.goto(live_server + "/h5/authorize#" + link.split("#", 1)[1])
    mpage.wait_for_url("**/h5/authorize#/login?next=%2Fauthorize")
    token = link.split("#token=", 1)[1]
    assert token not in mpage.url  # out of the address bar and history at once
    sms_login(mpage, "13900007022")
    mpage.wait_for_selector("#go-real-name")  # not yet real-name verified: the letter is refused
    assert "请先完成实名认证" in mpage.inner_text("#message")
    mpage.click("#go-real-name")
    mpage.fill("#name", member[0])
    mpage.fill("#id-number", member[1])
    mpage.click("#claim")
    mpage.click("#verify-id-service")
    mpage.click("#continue")
    mpage.wait_for_selector("#letter")
    assert "家庭经济状况核对" in mpage.inner_text("#letter")
    assert "核对本人的户籍、收入、财产等信息" in mpage.inner_text("#letter-text")
    mpage.click("#agree")
    film_face(mpage, clip)
    sign_and_finish(mpage)
    assert not any(token in url for url in requested)  # the token never went into a URL the server saw

    assert statuses(client, headers, app_id) == {applicant[0]: ("pending", None), member[0]: ("authorized", "qr")}
    member_headers = page_headers(mpage)
    again = client.get("/api/v1/authorizations/letter", headers={**member_headers, "X-Authorization-Token": token})
    assert again.status_code == 409 and again.get_json()["status"] == "authorization_token_used"
    page.reload()
    page.wait_for_selector(f"[data-testid=member-status-{member_request}]")
    assert page.inner_text(f"[data-testid=member-status-{member_request}]") == "已授权"


def test_one_phone_hand_over_to_the_member(phones, live_server, app, client, clip, tmp_path):
    from playwright.sync_api import expect

    applicant = ("王芳", id_number(date(1970, 7, 7), 61))
    member = ("李四", id_number(date(1968, 8, 8), 62))
    import_portrait(app, tmp_path, member[1])
    phone = phones()
    page = phone.page
    headers, app_id, member_request = applicant_with_household(
        client, page, live_server, "13900007031", applicant, member
    )
    page.goto(f"{live_server}/h5/#/applications")
    page.click(f"[data-testid=handover-{member_request}]")
    expect(page.locator("#handover-notice")).to_contain_text("请将手机交给李四")
    page.click("#handover-continue")
    page.fill("#member-id-number", applicant[1])  # the applicant's own number does not pass for 李四
    page.click("#confirm-identity")
    expect(page.locator(".van-field__error-message")).to_have_text("身份证号码与该家庭成员不一致")
    page.fill("#member-id-number", member[1])
    page.click("#confirm-identity")
    page.wait_for_selector("#letter")
    page.click("#agree")
    film_face(page, clip)
    sign_and_finish(page)
    assert "请将手机交还申请人" in page.inner_text("#auth-done")
    page.click("#auth-finish")
    page.wait_for_selector(f"[data-testid=member-status-{member_request}]")
    assert page.inner_text(f"[data-testid=member-status-{member_request}]") == "已授权"

    assert statuses(client, headers, app_id) == {
        applicant[0]: ("pending", None),
        member[0]: ("authorized", "same_phone"),
    }


# --- the application wizard and the offline outbox -------------------------------------------------------


def verified_on_phone(client, page, live_server, phone: str, person) -> dict[str, str]:
    """Log in on the phone; the real name is verified through the API with the phone's own token."""
    page.goto(f"{live_server}/h5/#/login")
    sms_login(page, phone)
    page.wait_for_selector("#go-apply")
    headers = page_headers(page)
    claimed = client.post("/api/v1/me/real-name", headers=headers, json={"name": person[0], "id_number": person[1]})
    assert claimed.status_code == 200, claimed.get_json()
    verified = client.post("/api/v1/me/real-name/verify", headers=headers, json={"method": "id_service"})
    assert verified.get_json()["status"] == "passed"
    return headers


def test_citizen_applies_for_a_household_of_three_and_the_outbox_sends_once(phones, live_server, client, tmp_path):
    from playwright.sync_api import expect

    from tests.helpers import jpeg_bytes

    me = ("赵桂兰", id_number(date(1955, 2, 3), 71))
    spouse = ("钱大山", id_number(date(1953, 6, 6), 72))
    grandchild = ("赵小宝", id_number(date(2014, 9, 9), 73))
    phone = phones()
    page = phone.page
    headers = verified_on_phone(client, page, live_server, "13900007041", me)
    page.click("#go-apply")
    page.click("#next")  # nothing chosen: said next to the picker
    expect(page.locator(".rl-field-error")).to_have_text("请选到乡镇（街道）一级")
    for level, code in enumerate(("36", "3601", "360124", "360124100")):
        page.wait_for_selector(f"#region-{level} option[value='{code}']", state="attached")
        page.select_option(f"#region-{level}", code)
    page.click("#next")
    page.check("[data-testid=program-dibao]")  # the programs open to residents of 民和镇
    page.click("#next")
    page.wait_for_selector("#residence-address")
    draft_id = int(page.evaluate("localStorage.getItem('rl_draft_id')"))
    page.fill("#residence-address", "进贤县民和镇解放街12号")
    page.fill("#hardship-reason", "本人患重病，老伴年迈，孙子上学")
    expect(page.locator("#save-state")).to_have_text("已保存草稿")  # saved while typing
    saved = client.get(f"/api/v1/applications/{draft_id}", headers=headers).get_json()
    assert saved["residence_address"] == "进贤县民和镇解放街12号" and saved["residence_township_code"] == "360124100"
    page.click("#next")
    assert page.input_value("#member-0-name") == me[0]  # the applicant, from the verified real name
    page.fill("#member-0-id-number", me[1])
    page.select_option("#member-0-relation", "self")
    page.select_option("#member-0-health", "serious")
    page.select_option("#member-0-employment", "unable")
    for i, (person, relation, health, work) in enumerate(
        ((spouse, "spouse", "chronic", "farming"), (grandchild, "grandchild", "healthy", "student")), start=1
    ):
        page.click("#add-members")
        page.fill(f"#member-{i}-name", person[0])
        page.fill(f"#member-{i}-id-number", person[1][:-1] + "X" if i == 2 else person[1])  # a typo for the child
        page.select_option(f"#member-{i}-relation", relation)
        page.select_option(f"#member-{i}-health", health)
        page.select_option(f"#member-{i}-employment", work)
    expect(page.locator("#save-state")).to_have_text("已保存草稿")

    # the phone is closed and opened again: the draft resumes from the server
    page.goto(f"{live_server}/h5/#/applications")
    page.click(f"[data-testid=resume-{draft_id}]")
    page.wait_for_selector("#residence-address")
    assert page.input_value("#residence-address") == "进贤县民和镇解放街12号"
    page.click("#next")
    assert page.input_value("#member-2-name") == grandchild[0]
    page.fill("#member-2-id-number", grandchild[1])
    page.click("#next")
    page.click("#add-incomes")
    page.select_option("#income-0-category", "pension")
    page.fill("#income-0-amount", "300")
    page.select_option("#income-0-member", "1")
    page.click("#next")
    page.click("#add-assets")
    page.select_option("#asset-0-kind", "housing")
    page.fill("#asset-0-address", "进贤县民和镇解放街12号")
    page.fill("#asset-0-area", "60.5")
    page.click("#next")
    photo = tmp_path / "id.jpg"
    photo.write_bytes(jpeg_bytes(with_gps=True))
    page.set_input_files("#album-id_card", str(photo))
    expect(page.locator("[data-testid=material-done-id_card]")).to_contain_text("已上传1张")
    page.set_input_files("#camera-hukou", str(photo))
    expect(page.locator("[data-testid=material-done-hukou]")).to_contain_text("已上传1张")
    page.click("#next")
    expect(page.locator("#summary")).to_contain_text(f"家庭成员 3 人：{me[0]}、{spouse[0]}、{grandchild[0]}")

    # the network drops as the citizen taps 提交: kept on the phone as 待发送, nothing reached the server
    phone.context.set_offline(True)
    page.click("#submit-application")
    expect(page.locator("#queued")).to_contain_text("待发送")
    expect(page.locator("#outbox")).to_contain_text("待发送 1 项：提交申请")
    assert client.get(f"/api/v1/applications/{draft_id}", headers=headers).get_json()["status"] == "draft"
    phone.context.set_offline(False)  # the network returns: the outbox sends it, once
    expect(page.locator("#outbox")).to_have_count(0, timeout=20_000)
    page.evaluate("RL.outbox.flush()")  # a second flush finds nothing to send

    app = client.get(f"/api/v1/applications/{draft_id}", headers=headers).get_json()
    assert app["status"] == "submitted", client.post(
        f"/api/v1/applications/{draft_id}/submit", headers=headers
    ).get_json()
    assert [(m["name"], m["relation"]) for m in app["members"]] == [
        (me[0], "self"),
        (spouse[0], "spouse"),
        (grandchild[0], "grandchild"),
    ]
    assert [(i["category"], i["monthly_amount"], i["member_index"]) for i in app["incomes"]] == [
        ("pension", "300.00", 1)
    ]
    assert [(a["kind"], a["area_sqm"]) for a in app["assets"]] == [("housing", "60.50")]
    mine = client.get("/api/v1/applications", headers=headers).get_json()
    assert [a["id"] for a in mine] == [draft_id]  # one application, submitted once
    timeline = client.get(f"/api/v1/applications/{draft_id}/timeline", headers=headers).get_json()
    assert [e["status_label"] for e in timeline].count("已提交，待受理") == 1
    page.goto(f"{live_server}/h5/#/application?id={draft_id}")
    expect(page.locator("#application-status")).to_have_text("已提交，待受理")
    expect(page.locator("#timeline")).to_contain_text("已提交")


def _submit_in_the_wizard(page, live_server: str, app_id: int) -> None:
    """Open the filled draft in the H5 wizard, step through to the summary and press submit."""
    page.goto(f"{live_server}/h5/#/apply?id={app_id}")
    page.wait_for_selector("#residence-address")
    for shown in ("#member-0-name", "#add-incomes", "#add-assets", "[data-testid=material-done-hukou]", "#summary"):
        page.click("#next")
        page.wait_for_selector(shown)
    page.click("#submit-application")


def test_a_submit_whose_answer_is_lost_is_retried_with_its_key_and_not_duplicated(phones, live_server, client):
    """The worst case of a flaky network: the server did submit, but the phone never heard back. The outbox
    retries with the same Idempotency-Key and the server answers with the first result."""
    from playwright.sync_api import expect

    from tests.helpers import jpeg_bytes, upload

    me = ("孙秀兰", id_number(date(1957, 3, 4), 81))
    phone = phones()
    page = phone.page
    headers = verified_on_phone(client, page, live_server, "13900007051", me)
    created = client.post("/api/v1/applications", headers=headers, json=draft_body(*me))
    app_id = created.get_json()["id"]
    for material in ("id_card", "hukou"):
        assert upload(client, headers, app_id, material, jpeg_bytes()).status_code == 201

    seen: list[str] = []

    def lose_the_answer(route):
        seen.append(route.request.headers.get("idempotency-key"))
        if len(seen) == 1:
            route.fetch()  # the server submits…
            route.abort("connectionreset")  # …and the answer is lost on the way back
        else:
            route.continue_()

    page.route("**/api/v1/applications/*/submit", lose_the_answer)
    _submit_in_the_wizard(page, live_server, app_id)
    expect(page.locator("#queued")).to_contain_text("待发送")
    assert client.get(f"/api/v1/applications/{app_id}", headers=headers).get_json()["status"] == "submitted"
    page.evaluate("RL.outbox.flush()")  # what the 'online' event and the 15 s timer do
    expect(page.locator("#outbox")).to_have_count(0)
    assert len(seen) == 2 and seen[0] == seen[1] and seen[0]  # the same key both times
    timeline = client.get(f"/api/v1/applications/{app_id}/timeline", headers=headers).get_json()
    assert [e["status_label"] for e in timeline].count("已提交，待受理") == 1
    assert len(client.get("/api/v1/applications", headers=headers).get_json()) == 1
    assert page.inner_text("#message") == ""  # the repeat was not refused


def test_a_submit_answered_503_stays_in_the_outbox_and_is_retried_with_its_key(phones, live_server, client):
    """A 503 (the database restarting; the commit's outcome unknown, the Idempotency-Key kept) says "retry
    later", like a lost connection: the outbox keeps the item and sends it again with the same key, instead
    of dropping it as refused (the citizen would think the submit failed, or lose an offline report)."""
    import json as _json

    from playwright.sync_api import expect

    from tests.helpers import jpeg_bytes, upload

    me = ("孙秀英", id_number(date(1958, 3, 4), 83))
    phone = phones()
    page = phone.page
    headers = verified_on_phone(client, page, live_server, "13900007052", me)
    created = client.post("/api/v1/applications", headers=headers, json=draft_body(*me))
    app_id = created.get_json()["id"]
    for material in ("id_card", "hukou"):
        assert upload(client, headers, app_id, material, jpeg_bytes()).status_code == 201

    seen: list[str] = []

    def unavailable_once(route):
        seen.append(route.request.headers.get("idempotency-key"))
        if len(seen) == 1:
            body = {"code": 503, "status": "service_unavailable", "message": "服务繁忙或暂时不可用，请稍后重试"}
            route.fulfill(
                status=503, headers={"Retry-After": "5"}, content_type="application/json", body=_json.dumps(body)
            )
        else:
            route.continue_()

    page.route("**/api/v1/applications/*/submit", unavailable_once)
    _submit_in_the_wizard(page, live_server, app_id)
    expect(page.locator("#queued")).to_contain_text("待发送")
    assert client.get(f"/api/v1/applications/{app_id}", headers=headers).get_json()["status"] == "draft"
    page.evaluate("RL.outbox.flush()")  # what the 'online' event and the 15 s timer do
    expect(page.locator("#outbox")).to_have_count(0)
    assert len(seen) == 2 and seen[0] == seen[1] and seen[0]  # the same key both times
    assert client.get(f"/api/v1/applications/{app_id}", headers=headers).get_json()["status"] == "submitted"


# --- one-tap report with a photo and the phone's position; my benefits ------------------------------------


def test_grid_worker_reports_with_a_photo_and_the_phone_position(phones, live_server, app, client, tmp_path):
    from playwright.sync_api import expect

    from tests.helpers import jpeg_bytes

    phone = phones(geolocation={"latitude": 28.377123, "longitude": 116.267456})  # a mocked GPS fix
    page = phone.page
    headers = verified_on_phone(client, page, live_server, "13900007061", ("网格员乙", id_number(date(1986, 4, 4), 91)))
    granted = app.test_cli_runner().invoke(
        args=["users", "grant-role", "--phone", "13900007061", "--role", "grid_worker", "--region", "360124100"]
    )
    assert granted.exit_code == 0, granted.output
    page.click("#go-benefits")
    expect(page.locator("#benefits-empty")).to_contain_text("暂无待遇信息")
    page.goto(f"{live_server}/h5/#/report")
    page.wait_for_selector("#report-category option[value=elderly_alone]", state="attached")
    page.click("#send-report")  # nothing chosen: each field says what is missing
    expect(page.locator(".rl-field-error").first).to_have_text("请选择困难类别")
    expect(page.locator(".rl-field-error").nth(1)).to_have_text("请选择乡镇（街道）")
    page.select_option("#report-category", "elderly_alone")
    for level, code in enumerate(("36", "3601", "360124", "360124100", "360124100003")):
        page.wait_for_selector(f"#region-{level} option[value='{code}']", state="attached")
        page.select_option(f"#region-{level}", code)
    page.click("#locate")
    expect(page.locator("#gps")).to_contain_text("纬度 28.377123，经度 116.267456（WGS-84 坐标")
    page.fill("#report-person-name", "孙爷爷")
    page.fill("#report-description", "独居老人，冬天无取暖")
    photo = tmp_path / "scene.jpg"
    photo.write_bytes(jpeg_bytes(with_gps=True, size=(320, 240)))
    page.set_input_files("#report-photos", str(photo))
    page.click("#send-report")
    expect(page.locator("#report-status")).to_have_text("待联系")
    expect(page.locator("#report-photos-count")).to_have_text("照片 1 张")
    page.goto(f"{live_server}/h5/#/reports")
    page.wait_for_selector("[data-testid^=report-]")
    assert "独居老人" in page.inner_text("[data-testid^=report-]")

    mine = client.get("/api/v1/reports", headers=headers).get_json()
    assert len(mine) == 1
    report = client.get(f"/api/v1/reports/{mine[0]['id']}", headers=headers).get_json()
    assert (report["latitude"], report["longitude"], report["coordinate_system"]) == (28.377123, 116.267456, "wgs84")
    assert (report["township_code"], report["village_code"]) == ("360124100", "360124100003")
    assert report["reporter_role"] == "grid_worker" and report["person_name"] == "孙爷爷"
    assert len(report["photos"]) == 1 and report["progress"]


def test_proxy_application_for_someone_else_with_relation_and_reason(phones, live_server, client):
    from playwright.sync_api import expect

    helper = ("周明", id_number(date(1988, 5, 5), 95))
    grandma = ("周奶奶", id_number(date(1940, 1, 2), 96))
    phone = phones()
    page = phone.page
    headers = verified_on_phone(client, page, live_server, "13900007071", helper)
    page.click("#go-apply")
    for level, code in enumerate(("36", "3601", "360124", "360124100")):
        page.wait_for_selector(f"#region-{level} option[value='{code}']", state="attached")
        page.select_option(f"#region-{level}", code)
    page.click("#next")
    page.check("[data-testid=program-dibao]")
    page.check("#proxy")
    page.fill("#proxy-name", grandma[0])
    page.fill("#proxy-id-number", grandma[1][:-1] + ("1" if grandma[1][-1] != "1" else "2"))  # a typo
    page.select_option("#proxy-relation", "relative")
    page.select_option("#proxy-reason", "no_phone")
    page.click("#next")
    expect(page.locator("#proxy-id-number ~ .rl-field-error")).to_contain_text("校验位")  # next to its field
    page.fill("#proxy-id-number", grandma[1])
    page.click("#next")
    page.wait_for_selector("#residence-address")
    mine = client.get("/api/v1/applications", headers=headers).get_json()
    assert len(mine) == 1 and mine[0]["is_proxy"] and mine[0]["applicant_name"] == grandma[0]
    detail = client.get(f"/api/v1/applications/{mine[0]['id']}", headers=headers).get_json()
    assert (detail["proxy_relation"], detail["proxy_reason"]) == ("relative", "no_phone")
    assert detail["applicant_id_number"] == grandma[1]


def test_recipient_sees_amount_months_paid_and_history_in_plain_words(phones, live_server, app, client):
    from decimal import Decimal

    from playwright.sync_api import expect

    from core.actor import Actor
    from core.database import db
    from core.registry import services as registry
    from core.registry.models import Enrollment
    from tests.registry.factory import make_enrollment

    phone = phones()
    page = phone.page
    verified_on_phone(client, page, live_server, "13900007081", ("王大明", id_number(date(1970, 5, 6), 701)))
    with app.app_context():
        eid = make_enrollment(seq=700, amount="905.00", members=3)  # the head is the phone's person
        county = Actor(kind="officer", id=None, roles=("county_officer",), region_code="360124")
        registry.change(
            county, db.session.get(Enrollment, eid), "adjusted", reason="家庭收入增加", amount=Decimal("700")
        )
        db.session.commit()
    page.click("#go-benefits")
    card = page.locator(f"[data-testid=benefit-{eid}]")
    expect(card.locator("[data-field=amount]")).to_have_text("700.00 元/月")
    expect(card.locator("[data-field=status]")).to_have_text("在保")
    expect(card.locator("[data-field=paid]")).to_contain_text("尚未发放")
    expect(card).to_contain_text("最低生活保障（3 人）")
    expect(card).to_contain_text("****0123")
    assert page.locator("#benefits-empty").count() == 0
    card.click()
    history = page.locator("#benefit-history li")
    expect(history).to_have_count(2)
    expect(history.first).to_contain_text("由905.00元调整为700.00元")
    expect(history.first).to_contain_text("原因：家庭收入增加")
    expect(page.locator("#appeal-route")).to_contain_text("行政复议")
    assert not phone.problems, phone.problems


def test_recipient_asks_for_a_transfer_with_the_new_hukou_page_and_withdraws_it(
    phones, live_server, app, client, tmp_path
):
    from playwright.sync_api import expect

    from tests.helpers import jpeg_bytes
    from tests.registry.factory import make_enrollment

    phone = phones()
    page = phone.page
    headers = verified_on_phone(client, page, live_server, "13900007082", ("王大明", id_number(date(1970, 5, 6), 711)))
    with app.app_context():
        eid = make_enrollment(seq=710, amount="905.00", members=2)
    page.goto(f"{live_server}/h5/#/benefit?id={eid}")
    page.click("#start-transfer")
    page.click("#send-transfer")  # nothing chosen: each field says what is missing
    expect(page.locator("#transfer-township-error")).to_have_text("请选到新户籍所在的乡镇（街道）")
    expect(page.locator("#transfer-file-error")).to_have_text("请上传新户口簿本人页的照片")
    for level, code in enumerate(("36", "3601", "360121", "360121100", "360121100001")):
        page.wait_for_selector(f"#region-{level} option[value='{code}']", state="attached")
        page.select_option(f"#region-{level}", code)
    page.fill("#transfer-reason", "随子女迁入南昌县")
    hukou = tmp_path / "hukou.jpg"
    hukou.write_bytes(jpeg_bytes(size=(320, 240)))
    page.set_input_files("#transfer-file", str(hukou))
    page.click("#send-transfer")
    expect(page.locator("#transfer-status")).to_have_text("待原县确认")
    expect(page.locator("#transfer-text")).to_contain_text("原县民政部门确认")
    mine = client.get("/api/v1/me/transfers", headers=headers).get_json()
    assert len(mine) == 1 and mine[0]["to_village_code"] == "360121100001" and mine[0]["enrollment_id"] == eid
    page.click("#cancel-transfer")
    expect(page.locator("#transfer-status")).to_have_text("已撤回")
    assert client.get("/api/v1/me/transfers", headers=headers).get_json()[0]["status"] == "cancelled"
    expect(page.locator("#start-transfer")).to_be_visible()  # may ask again
    assert not phone.problems, phone.problems
