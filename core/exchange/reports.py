"""The error report of a load: its rejected rows (row, column, reason in Chinese, the value as sent) as
XLSX or CSV, streamed to a temporary file. Cells that a spreadsheet would run as a formula (``=cmd|…``,
``+``, ``-``, ``@``, tab, CR) are written as text with a leading apostrophe: never executed."""

from __future__ import annotations

import csv
import os
import secrets
from typing import Any

from core.actor import Actor
from core.audit import services as audit
from core.database import db
from core.errors import NotFound
from core.exchange import catalogue, store
from core.exchange.catalogue import DataCategory
from core.exchange.models import Department

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HEADER = ["行号", "列", "原因", "原始内容"]
XLSX_MAX_ROWS = 1_000_000
FORMATS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _rows(path: str) -> Any:
    con = store.connect(threads=1)
    try:
        cursor = con.execute("SELECT row_no, column_label, reason, value FROM read_parquet(?) ORDER BY row_no", [path])
        while batch := cursor.fetchmany(10_000):
            yield from batch
    finally:
        con.close()


def write_error_report(actor: Actor, load_id: int, fmt: str) -> tuple[str, str, str]:
    """``(path, download name, mimetype)`` of a load's error report; the caller removes the file."""
    return write_report_of(actor, catalogue.get_load_for_officer(actor, load_id), fmt)


def write_report_of(actor: Actor, load: Any, fmt: str) -> tuple[str, str, str]:
    """The same for a load already loaded and authorized (a department client's own load)."""
    if fmt not in FORMATS:
        raise NotFound("不支持的格式")
    if not load.error_report_key or not os.path.exists(load.error_report_key):
        raise NotFound("该批次没有错误报告（未处理完成或已按保存期限删除）")
    category = db.session.get(DataCategory, load.category_id)
    department = db.session.get(Department, load.department_id)
    out = str(store.work_dir("reports") / f"{secrets.token_hex(12)}.{fmt}")
    count = 0
    if fmt == "csv":
        with open(out, "w", encoding="utf-8-sig", newline="") as fh:  # the BOM makes Excel read UTF-8
            writer = csv.writer(fh)
            writer.writerow(HEADER)
            for row in _rows(load.error_report_key):
                writer.writerow([safe_cell(v) for v in row])
                count += 1
    else:
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("错误明细")
        sheet.append(HEADER)
        for row in _rows(load.error_report_key):
            if count >= XLSX_MAX_ROWS:
                sheet.append(["", "", f"错误行超过{XLSX_MAX_ROWS:,}行，其余请下载CSV格式", ""])
                break
            sheet.append([safe_cell(v) for v in row])
            count += 1
        book.save(out)
    audit.record(
        actor,
        "exchange.error_report.download",
        load,
        region=department.region_code if department else None,
        format=fmt,
        rows=count,
    )
    name = f"错误报告-{category.name if category else ''}-批次{load.id}.{fmt}"
    return out, name, FORMATS[fmt]
