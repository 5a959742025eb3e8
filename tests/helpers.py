"""Helpers that drive the system through its real entry points."""

from __future__ import annotations

import re
from datetime import date

import pyotp

from core import clock
from core.accounts import services as accounts
from core.actor import SYSTEM
from core.database import commit, db
from core.idnumber import make_id_number

PASSWORD = "Correct-Horse-Battery-9"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login_citizen(client, phone: str) -> dict:
    """Log in through the SMS endpoints; returns the token response."""
    sent = client.post("/api/v1/auth/sms/send", json={"phone": phone})
    assert sent.status_code == 200, sent.get_json()
    code = sent.get_json()["dev_code"]
    resp = client.post("/api/v1/auth/sms/verify", json={"phone": phone, "code": code})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def citizen_headers(client, phone: str) -> dict[str, str]:
    return bearer(login_citizen(client, phone)["access_token"])


def make_officer(app, username: str, role: str, region: str | None) -> str:
    """Create an officer through the service; returns the TOTP secret."""
    with app.app_context():
        _, secret = accounts.create_officer(SYSTEM, username=username, password=PASSWORD, role=role, region_code=region)
        commit()
        db.session.remove()
    return secret


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token in page"
    return match.group(1)


def portal_login(client, username: str, secret: str, password: str = PASSWORD, code: str | None = None):
    page = client.get("/portal/login")
    resp = client.post(
        "/portal/login",
        data={"username": username, "password": password, "csrf_token": csrf_token(page.get_data(as_text=True))},
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    page = client.get("/portal/login/totp")
    return client.post(
        "/portal/login/totp",
        data={
            "code": code or pyotp.TOTP(secret).at(clock.utcnow()),
            "csrf_token": csrf_token(page.get_data(as_text=True)),
        },
    )


def id_number(born: date = date(1980, 1, 1), seq: int = 1, prefix: str = "360124") -> str:
    return make_id_number(prefix, born, seq)


def claim_real_name(client, headers: dict, name: str, number: str) -> None:
    resp = client.post("/api/v1/me/real-name", headers=headers, json={"name": name, "id_number": number})
    assert resp.status_code == 200, resp.get_json()


def bound_citizen(client, phone: str, name: str, number: str) -> dict[str, str]:
    """A logged-in citizen whose real name is verified (claim, then the identity service — the console
    adapter in tests: name + number + the SMS-proven phone); returns auth headers."""
    headers = citizen_headers(client, phone)
    claim_real_name(client, headers, name, number)
    resp = client.post("/api/v1/me/real-name/verify", headers=headers, json={"method": "id_service"})
    assert resp.status_code == 200 and resp.get_json()["status"] == "passed", resp.get_json()
    return headers


def jpeg_bytes(*, with_gps: bool = False, size: tuple[int, int] = (64, 48)) -> bytes:
    import io

    from PIL import Image

    image = Image.new("RGB", size, (200, 120, 40))
    out = io.BytesIO()
    if with_gps:
        exif = Image.Exif()
        exif[0x010F] = "PhoneMaker"  # Make
        gps = exif.get_ifd(0x8825)
        gps[1], gps[2], gps[3], gps[4] = "N", (28.0, 22.0, 30.0), "E", (116.0, 16.0, 0.0)
        image.save(out, format="JPEG", exif=exif)
    else:
        image.save(out, format="JPEG")
    return out.getvalue()


def png_bytes(size: tuple[int, int] = (32, 32)) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (10, 200, 10)).save(out, format="PNG")
    return out.getvalue()


def pdf_bytes(change=None, **save_options) -> bytes:
    """A real one-page PDF written by pikepdf; ``change(pdf)`` may add to it before it is saved."""
    import io

    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    if change is not None:
        change(pdf)
    out = io.BytesIO()
    pdf.save(out, **save_options)
    return out.getvalue()


PDF_BYTES = pdf_bytes()


def upload(client, headers, application_id: int, material: str, data: bytes, filename: str = "photo.jpg"):
    import io

    return client.post(
        f"/api/v1/applications/{application_id}/attachments",
        headers=headers,
        data={"material": material, "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def draft_body(
    applicant_name: str,
    applicant_id: str,
    *,
    township: str = "360124100",
    hukou: str | None = None,
    extra_members: list[dict] | None = None,
) -> dict:
    return {
        "program": "dibao",
        "residence_township_code": township,
        "residence_village_code": township + "001" if township == "360124100" else None,
        "residence_address": "进贤县民和镇解放街12号",
        "hukou_township_code": hukou or township,
        "hardship_reason": "本人患重病，无劳动能力，家庭收入低",
        "members": [
            {
                "name": applicant_name,
                "id_number": applicant_id,
                "relation": "self",
                "health": "serious",
                "employment": "unable",
            },
            *(extra_members or []),
        ],
        "incomes": [{"category": "pension", "monthly_amount": "300.00", "member_index": 0}],
        "assets": [{"kind": "housing", "address": "进贤县民和镇解放街12号", "area_sqm": "60.5"}],
    }


def submitted_application(client, headers, body: dict, key: str | None = None) -> dict:
    """Create, upload the default 低保 materials, submit; returns the submitted application."""
    created = client.post("/api/v1/applications", headers=headers, json=body)
    assert created.status_code == 201, created.get_json()
    app_id = created.get_json()["id"]
    for material in ("id_card", "hukou"):
        assert upload(client, headers, app_id, material, jpeg_bytes()).status_code == 201
    submit_headers = {**headers, "Idempotency-Key": key} if key else headers
    resp = client.post(f"/api/v1/applications/{app_id}/submit", headers=submit_headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


# --- face frames (the real photos in ../shared/data/faces) ---------------------------------------------

# Frames that perform each challenge order. The head-turn measure (nose on the eye line) of each, with the
# 5-point model: hamilton_f0132 0.26, f0140 0.39, f0148 0.52, f0156 0.55, f0160 0.59 (Lin-Manuel Miranda
# turning to his own left); obama1 0.61, obama2 0.40, obama3 0.60, mirrored obama3 0.41. turn_left = the
# measure rises >= 0.15, turn_right = it falls >= 0.15.
LIVE_LIN = {
    ("turn_left", "turn_right"): [
        "hamilton_turn/hamilton_f0132.jpg",
        "hamilton_turn/hamilton_f0148.jpg",
        "hamilton_turn/hamilton_f0160.jpg",
        "hamilton_turn/hamilton_f0140.jpg",
    ],
    ("turn_right", "turn_left"): [
        "hamilton_turn/hamilton_f0160.jpg",
        "hamilton_turn/hamilton_f0140.jpg",
        "hamilton_turn/hamilton_f0132.jpg",
        "hamilton_turn/hamilton_f0156.jpg",
    ],
}
LIVE_OBAMA = {
    ("turn_left", "turn_right"): ["obama2.jpg", "obama1.jpg", "mirror:obama3.jpg"],
    ("turn_right", "turn_left"): ["obama1.jpg", "obama2.jpg", "obama3.jpg"],
}


def face_frame(name: str) -> bytes:
    """A photo's bytes; ``mirror:NAME`` is its horizontal mirror image (a head turned the other way)."""
    import io

    from PIL import Image, ImageOps

    from tests.conftest import SHARED

    faces = SHARED / "data" / "faces"
    if not name.startswith("mirror:"):
        return (faces / name).read_bytes()
    image = ImageOps.exif_transpose(Image.open(faces / name.removeprefix("mirror:"))).convert("RGB")
    out = io.BytesIO()
    ImageOps.mirror(image).save(out, format="JPEG", quality=90)
    return out.getvalue()


def auth_headers(headers: dict[str, str], token: str) -> dict[str, str]:
    """The citizen's headers plus the authorization token (never in the URL)."""
    return {**headers, "X-Authorization-Token": token}


def face_challenge(client, headers: dict[str, str], token: str) -> dict:
    resp = client.post("/api/v1/authorizations/face/challenge", headers=auth_headers(headers, token))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def face_upload(client, headers: dict[str, str], token: str, challenge_id: str, names):
    """Upload frames (names as for face_frame) answering a challenge."""
    import io
    from pathlib import Path

    frames = [(io.BytesIO(face_frame(n)), Path(n.removeprefix("mirror:")).name) for n in names]
    return client.post(
        "/api/v1/authorizations/face",
        headers=auth_headers(headers, token),
        data={"challenge_id": challenge_id, "frames": frames},
        content_type="multipart/form-data",
    )


def signature_png(size: tuple[int, int] = (400, 150), *, blank: bool = False) -> bytes:
    """A drawn signature as a signature pad exports it: dark strokes across a white canvas."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, (255, 255, 255))
    if not blank:
        draw = ImageDraw.Draw(image)
        w, h = size
        draw.line(
            [(w * 0.1, h * 0.6), (w * 0.3, h * 0.2), (w * 0.5, h * 0.7), (w * 0.7, h * 0.3), (w * 0.9, h * 0.6)],
            fill=(20, 20, 20),
            width=6,
        )
        draw.line([(w * 0.15, h * 0.8), (w * 0.85, h * 0.75)], fill=(20, 20, 20), width=5)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def home_visit_files(*, photos: int = 1, with_gps: bool = True) -> dict:
    """Multipart fields of a recorded home visit: camera photos (with EXIF GPS, as phones send them)
    and the three on-screen signatures."""
    import io

    return {
        "photos": [(io.BytesIO(jpeg_bytes(with_gps=with_gps)), f"IMG_{i:04d}.jpg") for i in range(photos)],
        **{
            kind: (io.BytesIO(signature_png()), f"{kind}.png")
            for kind in ("signature_applicant", "signature_investigator_1", "signature_investigator_2")
        },
    }


def draw_signature(page, canvas) -> None:
    """Sign on a signature pad in a real browser: a few strokes across the canvas (pointer events)."""
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box, "signature pad not visible"
    x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
    for y_start, y_end in ((0.3, 0.7), (0.7, 0.3), (0.5, 0.55)):
        page.mouse.move(x0 + w * 0.1, y0 + h * y_start)
        page.mouse.down()
        for step in range(1, 11):
            page.mouse.move(x0 + w * (0.1 + 0.08 * step), y0 + h * (y_start + (y_end - y_start) * step / 10))
        page.mouse.up()


def record_home_visit_in_browser(page, form, photo_path) -> None:
    """Fill the 入户调查 form as an officer does in the household: names, notes, a camera photo, three signatures."""
    form.locator("input[name=investigator_1]").fill("王一")
    form.locator("input[name=investigator_2]").fill("李二")
    form.locator("textarea[name=findings]").fill("独居，无劳动能力")
    form.locator("input[name=photos]").set_input_files(str(photo_path))
    for kind in ("signature_applicant", "signature_investigator_1", "signature_investigator_2"):
        draw_signature(page, form.get_by_test_id(f"pad-{kind}"))
