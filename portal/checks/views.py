"""The 核对报告 of an application (信息核对 step) and the county's anti-fraud dashboard. Thin: parse,
call core.checks / core.bulk, commit."""

from __future__ import annotations

import io

from flask import Blueprint, current_app, g, render_template, request, send_file, url_for

from core.bulk import crosscheck
from core.bulk.models import JOB_STATUSES, STAGES
from core.checks import report_pdf
from core.checks import services as checks
from core.checks.models import CHECK_STATUSES, CONCLUSIONS, GRADE_LABELS
from core.database import commit
from core.exchange.defaults import DEFAULTS_BY_CODE
from portal.exports import xlsx_response
from portal.feedback import act

bp = Blueprint("portal_checks", __name__, url_prefix="/portal", template_folder="../templates")


def _report(application_id: int, status: int = 200):
    app, check = checks.report(g.actor, application_id)
    commit()  # the audit of the view
    names = {c: spec["name"] for c, spec in DEFAULTS_BY_CODE.items()}
    return (
        render_template(
            "checks/report.html",
            app=app,
            check=check,
            statuses=CHECK_STATUSES,
            grades=GRADE_LABELS,
            conclusions=CONCLUSIONS,
            names=names,
            running=check is not None and check.status in ("queued", "running"),
        ),
        status,
    )


@bp.route("/applications/<int:application_id>/check")
def report(application_id: int):
    return _report(application_id)


@bp.route("/applications/<int:application_id>/check/conclusion", methods=["POST"])
def conclusion(application_id: int):
    return act(
        lambda: checks.conclude(
            g.actor, application_id, conclusion=request.form.get("conclusion", ""), note=request.form.get("note", "")
        ),
        "已记录核对结论",
        on_error=lambda status: _report(application_id, status),
        done_url=url_for("portal_checks.report", application_id=application_id),
    )


@bp.route("/applications/<int:application_id>/check/recheck", methods=["POST"])
def recheck(application_id: int):
    return act(
        lambda: checks.request_recheck(g.actor, application_id),
        "已重新发起核对",
        on_error=lambda status: _report(application_id, status),
        done_url=url_for("portal_checks.report", application_id=application_id),
    )


@bp.route("/applications/<int:application_id>/check.pdf")
def report_file(application_id: int):
    app, check = checks.finished_report(g.actor, application_id)
    data = report_pdf.render(
        app, check, font_path=current_app.config["PDF_CJK_FONT"], font_index=current_app.config["PDF_CJK_FONT_INDEX"]
    )
    commit()
    return send_file(io.BytesIO(data), mimetype="application/pdf", download_name=f"核对报告-{app.reference}.pdf")


def _dashboard(status: int = 200):
    data = crosscheck.dashboard(g.actor)
    jobs = crosscheck.recent_jobs(g.actor)
    commit()
    return (
        render_template(
            "checks/antifraud.html",
            data=data,
            jobs=jobs,
            job_statuses=JOB_STATUSES,
            stages=STAGES,
            running=any(j.status in ("queued", "running") for j in jobs),
        ),
        status,
    )


@bp.route("/antifraud")
def antifraud():
    return _dashboard()


@bp.route("/antifraud/run", methods=["POST"])
def antifraud_run():
    return act(
        lambda: crosscheck.start(g.actor, trigger="officer"),
        "已发起在保对象比对",
        on_error=lambda status: _dashboard(status),
        done_url=url_for("portal_checks.antifraud"),
    )


@bp.route("/antifraud.xlsx")
def antifraud_export():
    data = crosscheck.dashboard(g.actor)
    commit()
    reasons = [["预警原因", "预警数", "待核查", "核实属实", "核实不属实", "停发月金额（元）"]]
    reasons += [
        [r["label"], r["total"], r["open"], r["confirmed"], r["dismissed"], round(r["stopped_monthly"], 2)]
        for r in data["reasons"]
    ]
    months = [["月份", "新增预警", "核实属实", "停发月金额（元）", "应追回金额（元）"]]
    months += [
        [m["month"], m["raised"], m["confirmed"], round(m["stopped_monthly"], 2), round(m["arrears"], 2)]
        for m in data["months"]
    ]
    return xlsx_response({"按预警原因": reasons, "按月": months}, "在保对象比对统计", title="在保对象比对统计")
