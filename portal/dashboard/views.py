"""Dashboard for townships and counties: what is late first, the table by township with links into the
queue, charts (ECharts from static files) each beside its data table, and an Excel export."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, render_template, request

from core.desk import dashboard
from core.regions.services import names_for
from portal.exports import xlsx_response

bp = Blueprint("portal_dashboard", __name__, url_prefix="/portal/dashboard", template_folder="../templates")


def _region_name() -> str:
    code = g.actor.region_code
    return names_for({code}).get(code, code) if code else "全部辖区"


@bp.route("")
def index():
    data = dashboard.summary(g.actor)
    if request.args.get("format") == "xlsx":
        return _xlsx(data)
    return render_template("dashboard/index.html", data=data, desk=data["desk"], region_name=_region_name())


@bp.route("/data.json")
def data():
    return jsonify(dashboard.summary(g.actor))


def _xlsx(data: dict):
    sheets = {}
    if "townships" in data:
        sheets["分乡镇情况"] = [
            [
                "乡镇（街道）",
                "在办件数",
                "已超期件数",
                "近12个月办结件数",
                "法定时限内办结比例（%）",
                "办结用时中位数（工作日）",
                "已到期报告数",
                "报告按时联系比例（%）",
            ],
            *(
                [
                    r["township"],
                    r["open"],
                    r["overdue"],
                    r["decided"],
                    r["on_time_percent"],
                    r["median_working_days"],
                    r["reports_due"],
                    r["reports_on_time_percent"],
                ]
                for r in data["townships"]
            ),
        ]
    sheets["在办案件"] = [["环节", "件数"], *([r["label"], r["count"]] for r in data["open_by_stage"])]
    sheets["办结用时"] = [
        ["月份", "办结件数", "用时中位数（工作日）"],
        *([r["month"], r["decided"], r["median_working_days"]] for r in data["decisions"]["trend"]),
    ]
    sheets["报告首次联系"] = [
        ["乡镇（街道）", "已到期报告数", "按时联系数", "按时联系比例（%）"],
        *([r["township"], r["reports"], r["answered_in_time"], r["percent"]] for r in data["reports"]),
    ]
    region = _region_name()
    return xlsx_response(sheets, f"数据看板-{region}", title=f"{region} 社会救助经办数据看板")
