from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.database import db

LEVELS = ("province", "city", "county", "township", "village")
LEVEL_LABELS = {
    "province": "省级",
    "city": "地级",
    "county": "县级",
    "township": "乡级（乡镇/街道）",
    "village": "村级（村/社区）",
}
# Length of a code at each level in the national statistical division code.
CODE_LENGTH = {"province": 2, "city": 4, "county": 6, "township": 9, "village": 12}


class Region(db.Model):
    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(10))
    parent_code: Mapped[str | None] = mapped_column(
        String(12), ForeignKey("regions.code", ondelete="RESTRICT"), index=True
    )

    __table_args__ = (Index("ix_regions_name", "name"),)

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "name": self.name,
            "level": self.level,
            "parent_code": self.parent_code,
        }
