"""Uploaded files: type by magic bytes, size cap, images re-encoded without EXIF, PDFs parsed and
refused when they carry active content, server-made names.

Files live under ``STORAGE_DIR`` behind this small interface, so an S3-compatible store can replace
the local one later.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import re
import secrets
import stat
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pikepdf
from PIL import Image, ImageOps
from sqlalchemy import select

from core import clock
from core.database import after_commit, after_rollback, db
from core.errors import ValidationFailed

log = logging.getLogger(__name__)

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


# Names that make a PDF do something on its own (scripts, actions run on open or on events, programs
# launched, forms sent elsewhere) or carry other files. Checked as dictionary keys and as name values
# (``/S /JavaScript``, ``/Type /EmbeddedFile``, ``/Subtype /RichMedia``) after qpdf has parsed the file,
# so ``#xx`` name escapes, object streams and compressed object storage change nothing.
PDF_ACTIVE_NAMES = frozenset(
    {
        "/JavaScript",
        "/JS",
        "/Launch",
        "/AA",
        "/EmbeddedFile",
        "/EmbeddedFiles",
        "/EF",
        "/FileAttachment",
        "/RichMedia",
        "/XFA",
        "/SubmitForm",
        "/ImportData",
        "/GoToR",
        "/GoToE",
    }
)
# /OpenAction is refused when it is an action (a dictionary). A destination (an array: "open at page 1,
# fit width") is what most producers write, fpdf2 and office suites included, and does nothing else.
PDF_OPEN_ACTION = "/OpenAction"
PDF_ACTIVE_MESSAGE = "PDF文件包含脚本、自动操作、表单提交或嵌入文件，不能上传。请另存为普通PDF或拍照后上传"
PDF_ENCRYPTED_MESSAGE = "PDF文件已加密或设有密码，请去除密码后重新上传"
PDF_DAMAGED_MESSAGE = "PDF文件已损坏或无法解析，请重新导出后上传"


def _active_pdf_name(obj: pikepdf.Object) -> str | None:
    """The first forbidden name in ``obj`` and the direct objects inside it (indirect ones are
    checked on their own: every object of the file is visited)."""
    stack = [obj]
    while stack:
        current = stack.pop()
        if isinstance(current, pikepdf.Name):
            if str(current) in PDF_ACTIVE_NAMES:
                return str(current)
            continue
        if isinstance(current, (pikepdf.Dictionary, pikepdf.Stream)):
            entries = current.stream_dict if isinstance(current, pikepdf.Stream) else current
            for key in entries:
                if key in PDF_ACTIVE_NAMES:
                    return key
                child = entries.get(key)
                if key == PDF_OPEN_ACTION and not isinstance(child, pikepdf.Array):
                    return key
                if isinstance(child, pikepdf.Object) and not child.is_indirect:
                    stack.append(child)
        elif isinstance(current, pikepdf.Array):
            stack.extend(c for c in current if isinstance(c, pikepdf.Object) and not c.is_indirect)
    return None


def _clean_pdf(data: bytes, field: str) -> bytes:
    """Parse a PDF with qpdf and refuse it when it is encrypted, damaged or active; return it re-written
    (only the objects the document uses, streams copied as they are: nothing is decompressed)."""
    try:
        pdf = pikepdf.open(io.BytesIO(data), attempt_recovery=False)
    except pikepdf.PasswordError:
        raise ValidationFailed(errors={field: [PDF_ENCRYPTED_MESSAGE]}) from None
    except Exception:  # noqa: BLE001 - anything qpdf cannot read without repairing it is refused
        raise ValidationFailed(errors={field: [PDF_DAMAGED_MESSAGE]}) from None
    with pdf:
        if pdf.is_encrypted:
            raise ValidationFailed(errors={field: [PDF_ENCRYPTED_MESSAGE]})
        try:
            found = _active_pdf_name(pdf.trailer)
            for obj in pdf.objects:
                found = found or _active_pdf_name(obj)
                if found:
                    break
            if not found:
                out = io.BytesIO()
                pdf.save(out, stream_decode_level=pikepdf.StreamDecodeLevel.none, deterministic_id=True)
        except Exception:  # noqa: BLE001 - a broken object found while reading
            raise ValidationFailed(errors={field: [PDF_DAMAGED_MESSAGE]}) from None
        if found:
            raise ValidationFailed(errors={field: [PDF_ACTIVE_MESSAGE]}, code="pdf_active_content")
        if pdf.get_warnings():
            raise ValidationFailed(errors={field: [PDF_DAMAGED_MESSAGE]})
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
    data = _clean_pdf(data, field) if content_type == PDF else _reencode(data, content_type, field)
    today = clock.local_today()
    key = f"{area}/{today:%Y/%m}/{secrets.token_hex(16)}.{EXTENSIONS[content_type]}"
    path = root() / key
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(path)
    after_rollback(_unlink, key)  # the row that names this file may never commit: no orphan then
    return StoredFile(
        key, content_type, len(data), hashlib.sha256(data).hexdigest(), _clean_name(filename, content_type)
    )


def open_path(storage_key: str) -> Path:
    path = (root() / storage_key).resolve()
    if root().resolve() not in path.parents:
        raise ValueError("storage key escapes the storage root")
    return path


def delete(storage_key: str) -> None:
    """Delete a stored file once the transaction that stops referring to it has committed."""
    after_commit(_unlink, storage_key)


def _unlink(storage_key: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        open_path(storage_key).unlink()


# --- orphans: files no row names -------------------------------------------------------------------------
#
# A file is written before the row that names it commits. A rolled-back transaction removes its files
# (``after_rollback``), but a process killed between the write and the commit leaves a file nothing refers
# to. ``sweep_orphans`` finds and removes those. Which columns name the files of which storage area is
# declared once, in ``core.setup.wire`` (this low layer imports no model); an area nobody declared is never
# swept, and neither is anything outside the areas (the storage root holds other files too).


@dataclass(frozen=True)
class _Reference:
    column: Any  # a mapped attribute: one storage key, or (many=True) a JSON list of keys
    many: bool


_references: dict[str, list[_Reference]] = {}


def register_references(area: str, column: Any, *, many: bool = False) -> None:
    """Declare that ``column`` names files of ``area`` (idempotent). Every column that stores a key of a
    swept area must be declared, or its files are taken for orphans."""
    refs = _references.setdefault(area, [])
    if not any(r.column is column for r in refs):
        refs.append(_Reference(column, many))


def swept_areas() -> dict[str, list[str]]:
    """The declared areas and the columns naming their files (``table.column``)."""
    return {
        area: [f"{r.column.class_.__tablename__}.{r.column.key}" for r in refs] for area, refs in _references.items()
    }


@dataclass
class SweepResult:
    dry_run: bool
    older_than_hours: float
    scanned: int = 0
    young: int = 0  # unreferenced or not, too recent to judge: a request may be about to commit them
    referenced: int = 0
    orphans: list[str] = field(default_factory=list)  # removed (or, in a dry run, to be removed)
    bytes: int = 0
    # the database names no file at all while old files exist (a wrong or freshly restored-empty
    # DATABASE_URL): nothing was removed, the orphans are only listed
    refused: bool = False


def _files(base: Path) -> Iterator[tuple[str, os.stat_result]]:
    """Regular files under ``base`` (symlinks neither followed nor reported), directory by directory."""
    for directory, _dirs, names in os.walk(base, followlinks=False):
        for name in names:
            path = Path(directory) / name
            try:
                st = path.lstat()
            except FileNotFoundError:
                continue
            if stat.S_ISREG(st.st_mode):
                yield path.relative_to(root()).as_posix(), st


def _listed_keys(refs: list[_Reference], area: str) -> set[str]:
    """Keys held in JSON lists (face frames: kept only until their check has run, so few), streamed."""
    keys: set[str] = set()
    for ref in refs:
        rows = db.session.execute(select(ref.column).execution_options(yield_per=1000)).scalars()
        for value in rows:
            keys.update(k for k in value or () if isinstance(k, str) and k.startswith(f"{area}/"))
    return keys


def _referenced(refs: list[_Reference], batch: list[str]) -> set[str]:
    found: set[str] = set()
    for ref in refs:
        if not ref.many:
            found.update(db.session.scalars(select(ref.column).where(ref.column.in_(batch))))
    return found


def _database_names_files() -> bool:
    for refs in _references.values():
        for ref in refs:
            if db.session.scalar(select(ref.column).where(ref.column.is_not(None)).limit(1)) is not None:
                return True
    return False


def sweep_orphans(
    older_than_hours: float = 24, *, dry_run: bool = False, allow_empty_database: bool = False, batch_size: int = 500
) -> SweepResult:
    """Remove (``dry_run``: only list) the files of the declared storage areas that no row names and that
    were last written more than ``older_than_hours`` ago. Files are walked one directory at a time and
    checked against the database in batches of old candidates (``IN (...)`` on the key columns, which
    are indexed), so neither the file list nor the set of referenced keys is held in memory whole. A file
    younger than the threshold is never removed, referenced or not. When the database names no file at all
    (pointed at the wrong or an empty database, every file would look orphaned) nothing is removed and the
    result says ``refused``, unless ``allow_empty_database``."""
    if older_than_hours < 1:
        raise ValueError("older_than_hours must be at least 1: a younger file may belong to a request in flight")
    refused = not dry_run and not allow_empty_database and not _database_names_files()
    result = SweepResult(dry_run=dry_run or refused, older_than_hours=older_than_hours)
    cutoff = clock.utcnow().timestamp() - older_than_hours * 3600
    for area in sorted(_references):
        base = root() / area
        if not base.is_dir():
            continue
        refs = _references[area]
        listed = _listed_keys([r for r in refs if r.many], area)
        batch: list[tuple[str, os.stat_result]] = []
        for key, st in _files(base):
            result.scanned += 1
            if st.st_mtime > cutoff:
                result.young += 1
                continue
            batch.append((key, st))
            if len(batch) >= batch_size:
                _settle(batch, refs, listed, cutoff, result)
                batch = []
        if batch:
            _settle(batch, refs, listed, cutoff, result)
    result.refused = refused and bool(result.orphans)
    if result.refused:
        log.warning("orphan sweep refused: the database names no stored file, %d old file(s)", len(result.orphans))
    return result


def _settle(
    batch: list[tuple[str, os.stat_result]],
    refs: list[_Reference],
    listed: set[str],
    cutoff: float,
    result: SweepResult,
) -> None:
    referenced = _referenced(refs, [key for key, _ in batch]) | listed
    for key, st in batch:
        if key in referenced:
            result.referenced += 1
            continue
        if not result.dry_run:
            path = root() / key
            try:
                if path.lstat().st_mtime > cutoff:  # written again meanwhile: not ours to judge now
                    result.young += 1
                    continue
                path.unlink()
            except FileNotFoundError:
                continue
            log.info("orphan file removed: %s (%d bytes)", key, st.st_size)
        result.orphans.append(key)
        result.bytes += st.st_size
