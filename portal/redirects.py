"""Where a ``next``/``back`` parameter may send the browser: a path of this portal, nothing else."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

_MAX_LENGTH = 2000
_DECODE_LAYERS = 3  # %2F%2F, %252F%252F, ... — browsers and proxies decode again


def _control_chars(text: str) -> bool:
    return any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text)


def _bad_chars(text: str) -> bool:
    return _control_chars(text) or any(ch in " \\" for ch in text)


def _portal_path(candidate: str) -> bool:
    if _control_chars(candidate):  # urlsplit silently drops tabs and new lines: look before it does
        return False
    parts = urlsplit(candidate)
    if parts.scheme or parts.netloc:
        return False
    path = parts.path
    if not path.startswith("/") or path.startswith("//") or _bad_chars(path):
        return False
    if any(segment in (".", "..") for segment in path.split("/")):
        return False
    return path == "/portal" or path.startswith("/portal/")


def safe_target(value: str | None, default: str) -> str:
    """``value`` when it is an on-site portal path (checked as given and as decoded), else ``default``.

    Refused: absolute URLs and any scheme, ``//host``, ``/\\host``, control characters or whitespace
    (browsers drop tabs and new lines), dot segments, and the same encoded (once or repeatedly).
    """
    if not value or not isinstance(value, str) or len(value) > _MAX_LENGTH:
        return default
    if "\\" in value:
        return default
    candidate = value
    for _ in range(_DECODE_LAYERS + 1):
        if not _portal_path(candidate):
            return default
        decoded = unquote(candidate)
        if decoded == candidate:
            return value
        candidate = decoded
    return default  # still changing after several decodings: not a plain path
