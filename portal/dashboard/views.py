"""Dashboard for townships and counties: charts (ECharts from static files) and an Excel export."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, render_template, request

from core.desk import dashboard
from portal.exports import xlsx_response

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
    return xlsx_response(
        {
            "在办案件": [["环节", "件数"], *([r["label"], r["count"]] for r in data["open_by_stage"])],
            "办结用时": [
                ["月份", "办结件数", "中位数（工作日）"],
                *([r["month"], r["decided"], r["median_working_days"]] for r in data["decisions"]["trend"]),
            ],
            "报告首次联系": [
                ["乡镇（街道）", "报告数", "按时联系", "按时比例"],
                *([r["township"], r["reports"], r["answered_in_time"], r["share"]] for r in data["reports"]),
            ],
        },
        "dashboard",
    )
