"""A long bulk job (the anti-fraud cross-check): its stage and progress, shown in the portal and the CLI."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.database import UTCDateTime, db

JOB_KINDS = {"antifraud": "在保对象比对"}
JOB_STATUSES = {"queued": "排队中", "running": "运行中", "done": "已完成", "failed": "失败"}
STAGES = {
    "queued": "排队中",
    "roster": "读取在保名单",
    "joining": "比对部门数据",
    "warnings": "生成预警",
    "done": "已完成",
}


class BulkJob(db.Model):
    __tablename__ = "bulk_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # JOB_KINDS
    engine: Mapped[str] = mapped_column(String(10), default="duckdb")
    trigger: Mapped[str] = mapped_column(String(20))  # schedule | load | officer | cli
    status: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    stage: Mapped[str] = mapped_column(String(20), default="queued")
    progress: Mapped[int] = mapped_column(Integer, default=0)  # percent
    requested_by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    region_code: Mapped[str | None] = mapped_column(String(12))  # who asked (their scope), None = system
    result: Mapped[dict | None] = mapped_column(JSON)  # counts: persons, records, hits, warnings by reason
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
