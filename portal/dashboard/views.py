"""Dashboard for townships and counties: charts (ECharts from static files) and an Excel export."""

from __future__ import annotations

import io

from flask import Blueprint, g, jsonify, render_template, request, send_file

from core import clock
from core.casework import dashboard

bp = Blueprint("portal_dashboard", __name__, url_prefix="/portal/dashboard", template_folder="../templates")


@bp.route("")
def index():
    data = dashboard.summary(g.actor)
    if request.args.get("format") == "xlsx":
        return _xlsx(data)
    return render_template("dashboard/index.html", data=data)


@bp.route("/data.json")
def data():
    return jsonify(dashboard.summary(g.actor))


def _xlsx(data: dict):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "在办案件"
    sheet.append(["环节", "件数"])
    for row in data["open_by_stage"]:
        sheet.append([row["label"], row["count"]])
    trend = book.create_sheet("办结用时")
    trend.append(["月份", "办结件数", "中位数（工作日）"])
    for row in data["decisions"]["trend"]:
        trend.append([row["month"], row["decided"], row["median_working_days"]])
    reports = book.create_sheet("报告首次联系")
    reports.append(["乡镇（街道）", "报告数", "按时联系", "按时比例"])
    for row in data["reports"]:
        reports.append([row["township"], row["reports"], row["answered_in_time"], row["share"]])
    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    return send_file(
        out,
        download_name=f"dashboard-{clock.local_today():%Y%m%d}.xlsx",
        as_attachment=True,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
