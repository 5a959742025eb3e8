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

from tests.conftest import SHARED, unavailable
from tests.helpers import LIVE_LIN, id_number

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

    def __init__(self, browser, base: str):
        self.context = browser.new_context(
            locale="zh-CN", viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
        )
        self.context.grant_permissions(["camera"], origin=base)
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

    def new() -> Phone:
        made.append(Phone(phone_browser, live_server))
        return made[-1]

    yield new
    for phone in made:
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
    vendor = Path(__file__).parent.parent / "h5" / "static"
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
