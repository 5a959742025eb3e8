"""Handwritten signatures drawn on a screen (a PNG): size, type and "is there real ink" checks."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from core.errors import ValidationFailed
from core.files import storage


def check_png(data: bytes, max_bytes: int, field: str = "signature") -> bytes:
    """The PNG itself when it is a plausible signature; else a field-level Chinese error."""
    if not data:
        raise ValidationFailed(errors={field: ["请在签名框内签字"]})
    if len(data) > max_bytes:
        raise ValidationFailed(errors={field: [f"签名图片不能超过{max_bytes // 1024}KB"]})
    if storage.sniff(data) != storage.PNG:
        raise ValidationFailed(errors={field: ["签名须为PNG图片"]})
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > 4_000_000:
            raise ValidationFailed(errors={field: ["签名图片尺寸过大"]})
        rgba = image.convert("RGBA")
    except ValidationFailed:
        raise
    except Exception:  # noqa: BLE001
        raise ValidationFailed(errors={field: ["签名图片已损坏"]}) from None
    pixels = np.asarray(rgba, dtype=np.int16)
    alpha = pixels[..., 3] > 16
    background = np.median(pixels[..., :3][alpha], axis=0) if alpha.any() else np.array([255, 255, 255])
    ink = alpha & (np.abs(pixels[..., :3] - background).sum(axis=2) > 96)
    xs = np.nonzero(ink)[1]
    if ink.mean() < 0.003 or len(xs) == 0 or (xs.max() - xs.min()) < 0.15 * rgba.width:
        raise ValidationFailed(errors={field: ["签名过于简单或为空白，请用手指完整书写姓名"]})
    return data
