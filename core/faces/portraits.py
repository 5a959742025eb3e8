"""Reference portraits: the identity registry's imported portraits, or a provincial verification service."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
import requests
from sqlalchemy import select

from core import crypto
from core.database import db
from core.errors import ValidationFailed
from core.faces.models import ReferencePortrait
from core.idnumber import validate_id_number


class PortraitUnavailable(Exception):
    """The source could not answer now (network, circuit open); try again later."""


class PortraitSource(Protocol):
    def reference_encoding(self, id_number: str) -> np.ndarray | None:
        """The member's reference encoding, or None when the source has no portrait."""


def _key(id_number: str) -> str:
    return crypto.token_hash(f"portrait:{id_number}")


class RegistrySource:
    """Portraits imported from the population/identity department (stored encrypted, encodings precomputed)."""

    def reference_encoding(self, id_number: str) -> np.ndarray | None:
        row = db.session.scalar(select(ReferencePortrait).where(ReferencePortrait.id_number_hash == _key(id_number)))
        if row is None:
            return None
        return np.frombuffer(crypto.decrypt_bytes(row.encoding_encrypted), dtype=np.float64)


class HttpSource:
    """A provincial identity-verification service: GET {base}/portraits/{id_number} -> image bytes (404 = none).

    Timeout per call; after ``failures`` consecutive errors the circuit opens for ``cooldown`` seconds and
    calls fail fast (PortraitUnavailable) instead of piling up behind a dead service.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        encoder: Callable[[bytes], np.ndarray | None],
        *,
        timeout: float = 3.0,
        failures: int = 3,
        cooldown: float = 60.0,
    ):
        self.base_url, self.api_key, self.encoder = base_url.rstrip("/"), api_key, encoder
        self.timeout, self.failures, self.cooldown = timeout, failures, cooldown
        self._consecutive = 0
        self._open_until = 0.0

    @property
    def circuit_open(self) -> bool:
        return time.monotonic() < self._open_until

    def reference_encoding(self, id_number: str) -> np.ndarray | None:
        if self.circuit_open:
            raise PortraitUnavailable("circuit open")
        try:
            resp = requests.get(
                f"{self.base_url}/portraits/{id_number}",
                timeout=self.timeout,
                headers={"Authorization": f"Bearer {self.api_key}"},
            )
            if resp.status_code >= 500:
                raise requests.HTTPError(f"HTTP {resp.status_code}")
        except requests.RequestException as exc:
            self._consecutive += 1
            if self._consecutive >= self.failures:
                self._open_until = time.monotonic() + self.cooldown
            raise PortraitUnavailable(type(exc).__name__) from exc
        self._consecutive = 0
        if resp.status_code == 404:
            return None
        return self.encoder(resp.content)


def import_portraits(directory: Path, manifest: Path, encoder: Callable[[bytes], np.ndarray | None]) -> dict[str, int]:
    """Load portraits named in ``manifest`` (columns id_number, file). Idempotent (replaces by ID number)."""
    done = {"imported": 0, "no_face": 0}
    with manifest.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    errors: dict[str, list[str]] = {}
    for n, row in enumerate(rows, start=2):
        number, messages = validate_id_number(row.get("id_number", ""))
        path = directory / (row.get("file") or "")
        if messages:
            errors[f"第{n}行.id_number"] = messages
        elif not path.is_file() or directory.resolve() not in path.resolve().parents:
            errors[f"第{n}行.file"] = [f"文件不存在：{row.get('file')}"]
    if errors:
        raise ValidationFailed("参考照片清单有误，未导入", errors=errors)
    for row in rows:
        number = validate_id_number(row["id_number"])[0]
        data = (directory / row["file"]).read_bytes()
        encoding = encoder(data)
        if encoding is None:
            done["no_face"] += 1
            continue
        record = db.session.scalar(select(ReferencePortrait).where(ReferencePortrait.id_number_hash == _key(number)))
        if record is None:
            record = ReferencePortrait(id_number_hash=_key(number))
            db.session.add(record)
        record.image_encrypted = crypto.encrypt_bytes(data)
        record.encoding_encrypted = crypto.encrypt_bytes(np.asarray(encoding, dtype=np.float64).tobytes())
        record.source = "registry"
        done["imported"] += 1
    db.session.flush()
    return done
