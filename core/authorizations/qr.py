"""QR images for authorization links (PNG and SVG, made with qrcode)."""

from __future__ import annotations

import base64
import io

import qrcode
import qrcode.image.svg


def png_base64(link: str) -> str:
    image = qrcode.make(link, box_size=8, border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def svg(link: str) -> str:
    image = qrcode.make(link, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    return image.to_string(encoding="unicode")
