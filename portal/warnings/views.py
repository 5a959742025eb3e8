"""Warnings (预警) in the portal: the list in the officer's region, a warning with its evidence (audited),
the township's verification and the county's action. The logic is core.warnings; these views parse,
call and render."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for

from core import clock, idnumber
from core.database import commit, rollback
from core.errors import DomainError
from core.regions import services as regions
from core.warnings import services as warnings
from core.warnings.models import WARNING_LEVELS, WARNING_SOURCES, WARNING_STATUSES
from portal.exports import xlsx_response
from portal.feedback import flash_error
from portal.params import page_value

bp = Blueprint("portal_warnings", __name__, url_prefix="/portal/warnings", template_folder="../templates")

LABELS = {
    "levels": WARNING_LEVELS,
    "sources": WARNING_SOURCES,
    "statuses": WARNING_STATUSES,
    "results": warnings.VERIFY_RESULTS,
    "actions": warnings.ACTIONS,
}
STATUS_FILTERS = {"open": "待处理（待核查、待县级处置）", **WARNING_STATUSES, "all": "全部"}


def _filters() -> dict[str, str | None]:
    args = request.args
    township = (args.get("township") or "").strip()[:12]
    status = args.get("status") or "open"
    return {
        "status": status if status in STATUS_FILTERS else "open",
        "reason": (args.get("reason") or "").strip()[:40] or None,
        "level": args.get("level") if args.get("level") in WARNING_LEVELS else None,
        "source": args.get("source") if args.get("source") in WARNING_SOURCES else None,
        "township": township if township.isascii() and township.isdigit() else None,
    }


def _list(filters: dict[str, str | None], page: int, page_size: int) -> warnings.Page:
    return warnings.list_warnings(
        g.actor,
        status=None if filters["status"] == "all" else filters["status"],
        reason=filters["reason"],
        level=filters["level"],
        source=filters["source"],
        township=filters["township"],
        page=page,
        page_size=page_size,
    )


def _is_county() -> bool:
    return bool(warnings.COUNTY_ROLES & set(g.actor.roles))


@bp.route("")
def index():
    filters = _filters()
    result = _list(filters, page_value(request.args.get("page")), current_app.config["PORTAL_PAGE_SIZE"])
    names = regions.names_for({w.township_code for w in result.items})
    return render_template(
        "warnings/index.html",
        result=result,
        filters={k: v for k, v in filters.items() if v},
        status_filters=STATUS_FILTERS,
        reasons=warnings.reason_counts(g.actor),
        names=names,
        mask=idnumber.mask,
        **LABELS,
    )


@bp.route("/export")
def export():
    filters = _filters()
    rows = [
        ["预警编号", "来源", "原因", "等级", "状态", "姓名", "身份证号", "乡镇（街道）", "摘要", "首次发现", "最近发现"]
    ]
    page, names = 1, {}
    while True:
        result = _list(filters, page, 500)
        names.update(regions.names_for({w.township_code for w in result.items} - set(names)))
        for w in result.items:
            rows.append(
                [
                    w.id,
                    WARNING_SOURCES.get(w.source, w.source),
                    w.reason_label,
                    WARNING_LEVELS.get(w.level, w.level),
                    WARNING_STATUSES.get(w.status, w.status),
                    warnings.mask_name(w.name),
                    idnumber.mask(w.id_number),
                    names.get(w.township_code, w.township_code),
                    w.summary,
                    clock.to_local(w.first_seen_at).strftime("%Y-%m-%d %H:%M"),
                    clock.to_local(w.last_seen_at).strftime("%Y-%m-%d %H:%M"),
                ]
            )
        if page >= result.pages or page >= 200:
            break
        page += 1
    return xlsx_response({"预警": rows}, "预警清单", title="预警清单（身份证号已脱敏）")


def _page(warning_id: int, status: int = 200, errors: dict | None = None, values: dict | None = None):
    warning = warnings.view(g.actor, warning_id)
    enrollment = warnings.enrollment_of(warning)
    names = regions.names_for({warning.township_code, warning.county_code})
    return render_template(
        "warnings/detail.html",
        warning=warning,
        enrollment=enrollment,
        names=names,
        may_verify=warning.status == "open",
        may_act=warning.status == "confirmed" and _is_county(),
        field_errors=errors or {},
        values=values or {},
        mask=idnumber.mask,
        **LABELS,
    ), status


@bp.route("/<int:warning_id>")
def detail(warning_id: int):
    return _page(warning_id)


def _post(warning_id: int, action: Callable[[], object], success: str, values: dict):
    try:
        action()
    except DomainError as err:
        if err.status == 404:
            raise
        commit() if err.keep_changes else rollback()
        flash_error(err)
        return _page(warning_id, err.status, err.errors, values)
    flash(success, "info")
    return redirect(url_for(".detail", warning_id=warning_id), 303)


@bp.route("/<int:warning_id>/verify", methods=["POST"])
def verify(warning_id: int):
    form = request.form
    values = {"result": form.get("result") or "", "note": (form.get("note") or "")[:600]}
    data_wrong = form.get("data_wrong") == "1"
    return _post(
        warning_id,
        lambda: warnings.verify(
            g.actor, warning_id, result=values["result"], note=values["note"], data_wrong=data_wrong
        ),
        "已记录核查结论",
        values,
    )


@bp.route("/<int:warning_id>/act", methods=["POST"])
def act(warning_id: int):
    form = request.form
    values = {
        "action": form.get("action") or "",
        "reason": (form.get("reason") or "")[:400],
        "month": (form.get("month") or "")[:7],
    }
    return _post(
        warning_id,
        lambda: warnings.act(
            g.actor, warning_id, action=values["action"], reason=values["reason"], month=values["month"] or None
        ),
        "已处置",
        values,
    )
