"""Monitoring (动态监测) in the portal: the dashboard (charts beside their tables, Excel export), the
county's rules (edit as a new version, preview on last month's data, switch on), and the township's
disposition of a monitoring warning (shown on the warning page). Logic: core.monitoring."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for

from core.applications.programs import PROGRAMS
from core.database import commit, rollback
from core.errors import DomainError
from core.monitoring import dashboard, dispositions, rules, rulesets
from core.monitoring.models import DISPOSITIONS, REFERRAL_TARGETS, RULE_SET_STATUSES
from core.regions.services import names_for
from core.warnings.models import WARNING_LEVELS
from portal.exports import xlsx_response
from portal.feedback import flash_error

bp = Blueprint("portal_monitoring", __name__, url_prefix="/portal/monitoring", template_folder="../templates")

EDITABLE = ("enabled", "window_months", "threshold", "min_amount", "level", "due_days")


@bp.app_template_global("monitoring_form")
def _monitoring_form(warning: Any) -> dict[str, Any]:
    """What the warning page needs for a monitoring warning's disposition form."""
    return {
        "related": dispositions.related(warning),
        "kinds": DISPOSITIONS,
        "referrals": REFERRAL_TARGETS,
        "programs": {k: PROGRAMS[k]["label"] for k in dispositions.APPLY_PROGRAMS},
    }


def _region_name() -> str:
    code = g.actor.region_code
    return names_for({code}).get(code, code) if code else "全部辖区"


@bp.route("")
def index():
    data = dashboard.build(g.actor)
    if request.args.get("format") == "xlsx":
        return _xlsx(data)
    return render_template("monitoring/index.html", data=data, region_name=_region_name())


@bp.route("/data.json")
def data():
    return jsonify(dashboard.build(g.actor))


def _xlsx(data: dict):
    c = data["conversion"]
    sheets = {
        "按场景": [["预警场景", "预警数"], *([r["label"], r["count"]] for r in data["by_scenario"])],
        "按等级": [["等级", "预警数"], *([r["label"], r["count"]] for r in data["by_level"])],
        "按乡镇": [
            ["乡镇（街道）", "预警数", "待核查", "期限内核查处置", "期限内比例（%）"],
            *(
                [r["township"], r["warnings"], r["open"], r["visited_on_time"], r["on_time_percent"]]
                for r in data["townships"]
            ),
        ],
        "处置结果": [["处置结果", "件数"], *([r["label"], r["count"]] for r in data["dispositions"])],
        "转化": [
            ["预警", "代为申请", "已批准", "纳入救助", "申请转化率（%）", "纳入救助转化率（%）"],
            [
                c["warnings"],
                c["applications"],
                c["approved"],
                c["enrollments"],
                c["application_percent"],
                c["enrollment_percent"],
            ],
        ],
        "规则核实率": [
            ["规则", "已处置", "核实属实", "不符合", "核实属实比例（%）"],
            *(
                [r["label"], r["disposed"], r["confirmed"], r["not_eligible"], r["confirmed_percent"]]
                for r in data["rules"]
            ),
        ],
    }
    region = _region_name()
    return xlsx_response(sheets, f"动态监测-{region}", title=f"{region} 低收入人口动态监测预警")


# --- rules -------------------------------------------------------------------------------------------


def _county() -> str:
    county = (request.values.get("county") or (g.actor.region_code or "")[:6]).strip()
    if not (county.isascii() and county.isdigit() and len(county) == 6):
        abort(404)
    return county


def _rules_page(county: str, *, status: int = 200, errors: dict | None = None, draft: list | None = None):
    rulesets.require_rule_admin(g.actor, county)
    current, version = rulesets.active_rules(county)
    return render_template(
        "monitoring/rules.html",
        county=county,
        county_name=names_for({county}).get(county, county),
        rules=draft or current,
        version=version,
        versions=rulesets.versions(g.actor, county),
        field_errors=errors or {},
        scenarios=rules.SCENARIOS,
        kinds=rules.KINDS,
        levels=WARNING_LEVELS,
        statuses=RULE_SET_STATUSES,
    ), status


@bp.route("/rules")
def rules_index():
    return _rules_page(_county())


def _posted_rules(county: str) -> list[dict[str, Any]]:
    """The rules in force with the posted edits of their editable fields (everything else unchanged)."""
    current, _ = rulesets.active_rules(county)
    form = request.form
    out = []
    for rule in current:
        edited = dict(rule)
        code = rule["code"]
        edited["enabled"] = form.get(f"{code}.enabled") == "1"
        for name in EDITABLE[1:]:
            key = f"{code}.{name}"
            if key in form:
                value = form.get(key, "")[:40].strip()
                edited[name] = value if name == "level" else (value or None)
        if edited.get("threshold") is None and rule.get("threshold") is None:
            edited.pop("threshold", None)
        if "min_amount" in edited and edited["min_amount"] is None:
            edited["min_amount"] = 0
        if edited.get("window_months") is None:
            edited["window_months"] = 0
        out.append(edited)
    return out


@bp.route("/rules", methods=["POST"])
def rules_save():
    county = _county()
    posted = _posted_rules(county)
    try:
        row = rulesets.save_draft(g.actor, county, posted, note=request.form.get("note"))
    except DomainError as err:
        if err.status == 404:
            raise
        rollback()
        flash_error(err)
        return _rules_page(county, status=err.status, errors=err.errors, draft=posted)
    commit()
    flash(f"已保存为第 {row.version} 版（草稿），请先用上月数据试算再启用", "info")
    return redirect(url_for(".rules_version", ruleset_id=row.id), 303)


@bp.route("/rules/<int:ruleset_id>")
def rules_version(ruleset_id: int):
    row = rulesets.get(g.actor, ruleset_id)
    return render_template(
        "monitoring/version.html",
        row=row,
        county_name=names_for({row.county_code}).get(row.county_code, row.county_code),
        scenarios=rules.SCENARIOS,
        levels=WARNING_LEVELS,
        statuses=RULE_SET_STATUSES,
        field_errors={},
    )


def _version_post(ruleset_id: int, action, success: str):  # noqa: ANN001
    try:
        action(g.actor, ruleset_id)
    except DomainError as err:
        if err.status == 404:
            raise
        rollback()
        flash_error(err)
        return redirect(url_for(".rules_version", ruleset_id=ruleset_id), 303)
    commit()
    flash(success, "info")
    return redirect(url_for(".rules_version", ruleset_id=ruleset_id), 303)


@bp.route("/rules/<int:ruleset_id>/preview", methods=["POST"])
def rules_preview(ruleset_id: int):
    return _version_post(ruleset_id, rulesets.preview, "已用上月数据试算（未产生预警）")


@bp.route("/rules/<int:ruleset_id>/activate", methods=["POST"])
def rules_activate(ruleset_id: int):
    return _version_post(ruleset_id, rulesets.activate, "规则已启用，下次评估起生效")


# --- disposition ---------------------------------------------------------------------------------------


@bp.route("/warnings/<int:warning_id>/dispose", methods=["POST"])
def dispose(warning_id: int):
    form = request.form
    try:
        row = dispositions.dispose(
            g.actor,
            warning_id,
            kind=form.get("kind") or "",
            note=(form.get("note") or "")[:600],
            program=form.get("program") or None,
            referral_to=form.get("referral_to") or None,
        )
    except DomainError as err:
        if err.status == 404:
            raise
        rollback()
        flash_error(err)
        return redirect(url_for("portal_warnings.detail", warning_id=warning_id), 303)
    commit()
    if row.application_id:
        flash("已记录核查结论，并已代为发起救助申请", "info")
        return redirect(url_for("portal_applications.detail", application_id=row.application_id), 303)
    flash("已记录核查结论", "info")
    return redirect(url_for("portal_warnings.detail", warning_id=warning_id), 303)
