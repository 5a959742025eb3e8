"""Excel downloads for the portal (openpyxl), formatted like something a county office sends upward:
a title row with the region and export time, a bold frozen header with an auto-filter, column widths
from the content, dates as dates (no 00:00:00), numbers as numbers, Chinese file and sheet names."""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from flask import Response, send_file

from core import clock

DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
PERCENT_HEADER = re.compile(r"(比例|率)[（(]?%?[)）]?$")
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def _width(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    text = str(value)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)  # CJK characters are two columns wide


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell_value(value: Any) -> Any:
    """Text that Excel would run as a formula (=, +, -, @ …: citizens type titles and names) is kept as text."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def sheet_title(name: str) -> str:
    return _SHEET_FORBIDDEN.sub("-", name)[:31] or "Sheet"


def build_workbook(sheets: dict[str, list[list[Any]]], title: str) -> bytes:
    """One sheet per entry (first row = header); a title row above each header."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    exported = f"导出时间：{clock.to_local(clock.utcnow()):%Y-%m-%d %H:%M}"
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(sheet_title(name))
        header = rows[0] if rows else []
        ncols = max(1, len(header))
        sheet.append([f"{title}　{exported}"])
        sheet.cell(row=1, column=1).font = Font(bold=True, size=13)
        if ncols > 1:
            sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncols)
        for row in rows:
            sheet.append([cell_value(v) for v in row])
        bold = Font(bold=True)
        fill = PatternFill("solid", fgColor="DDE6F3")
        for cell in sheet[2][:ncols]:
            cell.font, cell.fill = bold, fill
            cell.alignment = Alignment(vertical="center", wrap_text=False)
        widths = [_width(h) for h in header]
        for row in sheet.iter_rows(min_row=3, max_col=ncols):
            for index, cell in enumerate(row):
                value = cell.value
                if isinstance(value, datetime):
                    cell.number_format = DATETIME_FORMAT
                elif isinstance(value, date):
                    cell.number_format = DATE_FORMAT
                elif isinstance(value, float) and PERCENT_HEADER.search(str(header[index] or "")):
                    cell.number_format = "0.0"
                widths[index] = max(widths[index], _width(value))
        for index, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = min(60, max(8, width + 2))
        sheet.freeze_panes = "A3"  # the title and the header stay in view
        if header:
            sheet.auto_filter.ref = f"A2:{get_column_letter(ncols)}{max(2, len(rows) + 1)}"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def xlsx_response(sheets: dict[str, list[list[Any]]], name: str, *, title: str | None = None) -> Response:
    """A workbook named ``name-YYYYMMDD.xlsx`` (Chinese names are sent RFC 5987-encoded)."""
    data = build_workbook(sheets, title or name)
    filename = f"{name}-{clock.local_today():%Y%m%d}.xlsx"
    response = send_file(
        io.BytesIO(data),
        download_name=filename,
        as_attachment=True,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"export-{clock.local_today():%Y%m%d}.xlsx\"; filename*=UTF-8''{quote(filename)}"
    )
    return response
