"""Excel downloads for the portal (openpyxl)."""

from __future__ import annotations

import io
from typing import Any

from flask import Response, send_file

from core import clock


def xlsx_response(sheets: dict[str, list[list[Any]]], name: str) -> Response:
    """One workbook, a sheet per entry (first row = header), named ``name-YYYYMMDD.xlsx``."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title[:31])
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    return send_file(
        out,
        download_name=f"{name}-{clock.local_today():%Y%m%d}.xlsx",
        as_attachment=True,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
