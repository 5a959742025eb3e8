from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.database import UTCDateTime, db

# Why the engine refused a set of frames (Chinese, shown to the person).
ENGINE_REASONS = {
    "no_face": "未检测到人脸，请正对镜头",
    "many_faces": "画面中有多张人脸，请单独拍摄",
    "mismatch": "人脸比对未通过",
    "no_liveness": "请按提示缓慢转动头部",
    "no_reference": "未找到您的参考照片，请到乡镇（街道）窗口办理",
    "bad_image": "照片无法识别，请重新拍摄",
}


class ReferencePortrait(db.Model):
    """A portrait imported from the identity registry: the image encrypted, the encoding precomputed."""

    __tablename__ = "reference_portraits"

    id: Mapped[int] = mapped_column(primary_key=True)
    id_number_hash: Mapped[str] = mapped_column(String(64), unique=True)
    image_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    encoding_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    source: Mapped[str] = mapped_column(String(20), default="registry")
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    note: Mapped[str | None] = mapped_column(Text)
