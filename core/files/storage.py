"""Uploaded files: type by magic bytes, size cap, images re-encoded without EXIF, server-made names.

Files live under ``STORAGE_DIR`` behind this small interface, so an S3-compatible store can replace
the local one later.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from core import clock
from core.errors import ValidationFailed

JPEG, PNG, PDF = "image/jpeg", "image/png", "application/pdf"
MAGIC = ((b"\xff\xd8\xff", JPEG), (b"\x89PNG\r\n\x1a\n", PNG), (b"%PDF-", PDF))
EXTENSIONS = {JPEG: "jpg", PNG: "png", PDF: "pdf"}

# Pillow's decompression-bomb guard: refuse images above this many pixels (warning → error).
Image.MAX_IMAGE_PIXELS = 40_000_000
MAX_IMAGE_SIDE = 4096


@dataclass(frozen=True)
class StoredFile:
    storage_key: str
    content_type: str
    size: int
    sha256: str
    original_name: str


_root: Path | None = None


def configure(storage_dir: str) -> None:
    global _root
    _root = Path(storage_dir)


def root() -> Path:
    assert _root is not None, "core.files.storage.configure() not called"
    return _root


def sniff(data: bytes) -> str | None:
    for magic, content_type in MAGIC:
        if data.startswith(magic):
            return content_type
    return None


def _clean_name(name: str | None, content_type: str) -> str:
    base = os.path.basename(name or "").strip()
    base = re.sub(r"[\x00-\x1f/\\:*?\"<>|]", "", base)[:100]
    return base or f"file.{EXTENSIONS[content_type]}"


def _reencode(data: bytes, content_type: str, field: str) -> bytes:
    """Decode and re-encode an image: drops EXIF (incl. GPS) and anything hidden after the image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationFailed(errors={field: ["图片尺寸过大，请压缩后重新上传"]}) from None
    except Exception:  # noqa: BLE001 - any decoder failure means a broken or disguised file
        raise ValidationFailed(errors={field: ["图片文件已损坏或格式不正确"]}) from None
    image = ImageOps.exif_transpose(image)  # keep the visible orientation, then drop EXIF
    if max(image.size) > MAX_IMAGE_SIDE:
        image.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
    out = io.BytesIO()
    if content_type == JPEG:
        image.convert("RGB").save(out, format="JPEG", quality=88, optimize=True)
    else:
        if image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
            image = image.convert("RGBA")
        image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def store_upload(
    data: bytes,
    filename: str | None,
    *,
    allowed: tuple[str, ...] = (JPEG, PNG, PDF),
    max_bytes: int,
    area: str,
    field: str = "file",
) -> StoredFile:
    if not data:
        raise ValidationFailed(errors={field: ["文件为空"]})
    if len(data) > max_bytes:
        raise ValidationFailed(errors={field: [f"文件不能超过{max_bytes // (1024 * 1024)}MB"]})
    content_type = sniff(data)
    if content_type is None or content_type not in allowed:
        kinds = "、".join(EXTENSIONS[t].upper() for t in allowed)
        raise ValidationFailed(errors={field: [f"只能上传{kinds}格式的文件"]})
    if content_type in (JPEG, PNG):
        data = _reencode(data, content_type, field)
    elif b"/JavaScript" in data or b"/JS" in data:
        raise ValidationFailed(errors={field: ["PDF文件包含脚本，不能上传"]})
    today = clock.local_today()
    key = f"{area}/{today:%Y/%m}/{secrets.token_hex(16)}.{EXTENSIONS[content_type]}"
    path = root() / key
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(path)
    return StoredFile(
        key, content_type, len(data), hashlib.sha256(data).hexdigest(), _clean_name(filename, content_type)
    )


def open_path(storage_key: str) -> Path:
    path = (root() / storage_key).resolve()
    if root().resolve() not in path.parents:
        raise ValueError("storage key escapes the storage root")
    return path


def delete(storage_key: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        open_path(storage_key).unlink()
