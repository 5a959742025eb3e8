"""Reports in the portal: the township's queue, the report page, the response, reporter roles."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, send_file, url_for

from core.accounts import services as accounts
from core.accounts.roles import REPORTER_ROLES as GRANTABLE_ROLES
from core.applications.programs import PROGRAMS
from core.errors import DomainError
from core.files import storage
from core.idnumber import mask
from core.regions import services as regions
from core.reports import rules
from core.reports import services as reports
from core.reports.vocabulary import AGE_GROUPS, CATEGORIES, OUTCOMES, REPORTER_ROLES, STATUSES, URGENCY
from portal.feedback import act, flash_error
from portal.params import id_value, page_value

bp = Blueprint("portal_reports", __name__, url_prefix="/portal", template_folder="../templates")

LABELS = {
    "categories": CATEGORIES,
    "outcomes": OUTCOMES,
    "roles": REPORTER_ROLES,
    "statuses": STATUSES,
    "urgency": URGENCY,
    "age_groups": AGE_GROUPS,
}


@bp.route("/reports")
def index():
    args = request.args
    page = page_value(args.get("page"))
    result = reports.officer_queue(
        g.actor,
        page=page,
        page_size=current_app.config["PORTAL_PAGE_SIZE"],
        category=args.get("category") or None,
        urgency=args.get("urgency") or None,
        reporter_role=args.get("role") or None,
        overdue=args.get("overdue") == "1",
        include_closed=args.get("closed") == "1",
        township_code=args.get("township") or None,
    )
    scope = g.actor.region_code
    townships = regions.list_children(scope) if scope and len(scope) == 6 else []
    names = regions.names_for({r.township_code for r in result.items})
    pages = max(1, -(-result.total // current_app.config["PORTAL_PAGE_SIZE"]))
    return render_template(
        "reports/index.html",
        result=result,
        page=page,
        pages=pages,
        names=names,
        townships=townships,
        filters=args,
        is_overdue=reports.is_overdue,
        **LABELS,
    )


@bp.route("/reports/overdue")
def overdue():
    rows = reports.county_overdue(g.actor)
    return render_template(
        "reports/overdue.html", rows=rows, names=regions.names_for({r.township_code for r in rows}), **LABELS
    )


def _page(report_id: int, status: int = 200, *, errors: dict | None = None, values: dict | None = None):
    report = reports.get_for_officer(g.actor, report_id)
    codes = {report.township_code, report.village_code} - {None}
    original = reports.get_for_officer(g.actor, report.duplicate_of_id) if report.duplicate_of_id else None
    return render_template(
        "reports/detail.html",
        report=report,
        photos=reports.photos_of(report),
        events=reports.officer_events(report),
        duplicates=reports.duplicates_of(report),
        original=original,
        names=regions.names_for(codes),
        masked_id=mask(report.person_id_number),
        overdue=reports.is_overdue(report),
        programs=PROGRAMS,
        actions=rules.next_actions(report),
        field_errors=errors or {},
        form_values=values or {},
        **LABELS,
    ), status


@bp.route("/reports/<int:report_id>")
def detail(report_id: int):
    return _page(report_id)


def _act(report_id: int, action: Callable[[], object], success: str):
    return act(
        action,
        success,
        on_error=lambda status: _page(report_id, status=status),
        done_url=url_for("portal_reports.detail", report_id=report_id),
    )


@bp.route("/reports/<int:report_id>/step", methods=["POST"])
def step(report_id: int):
    name = request.form.get("step", "")
    return _act(
        report_id,
        lambda: reports.record_step(g.actor, report_id, name, request.form.get("note")),
        f"已记录：{STATUSES.get(name, name)}",
    )


@bp.route("/reports/<int:report_id>/close", methods=["POST"])
def close(report_id: int):
    """Close with an outcome the officer chose (there is no default); errors shown next to the fields."""
    outcome, note = request.form.get("outcome", ""), request.form.get("note")
    try:
        reports.close(g.actor, report_id, outcome, note)
    except DomainError as err:
        flash_error(err)
        return _page(report_id, err.status, errors=err.errors, values={"outcome": outcome, "note": note or ""})
    flash("已办结", "info")
    return redirect(url_for("portal_reports.detail", report_id=report_id))


@bp.route("/reports/<int:report_id>/refer", methods=["POST"])
def refer(report_id: int):
    program = request.form.get("program", "")
    return _act(
        report_id,
        lambda: reports.refer_to_application(g.actor, report_id, program),
        "已转入救助申请，申请已进入待受理队列",
    )


@bp.route("/reports/<int:report_id>/person", methods=["POST"])
def person(report_id: int):
    return _act(
        report_id,
        lambda: reports.set_person(
            g.actor, report_id, request.form.get("person_name"), request.form.get("person_id_number")
        ),
        "已更新当事人信息",
    )


@bp.route("/reports/<int:report_id>/duplicate", methods=["POST"])
def duplicate(report_id: int):
    if request.form.get("action") == "unmark":
        return _act(report_id, lambda: reports.unmark_duplicate(g.actor, report_id), "已取消重复标记")
    reference = request.form.get("of_reference", "")
    return _act(report_id, lambda: reports.mark_duplicate(g.actor, report_id, reference), "已标记为重复报告")


@bp.route("/reports/<int:report_id>/photos/<int:photo_id>")
def photo(report_id: int, photo_id: int):
    item = reports.get_photo(reports.get_for_officer(g.actor, report_id), photo_id)
    return send_file(
        storage.open_path(item.storage_key),
        mimetype=item.content_type,
        download_name=f"photo-{item.id}.{storage.EXTENSIONS.get(item.content_type, 'bin')}",
        as_attachment=True,  # an <img> still shows it; opened directly it is a download, never inline
    )


@bp.route("/reporters", methods=["GET", "POST"])
def reporters():
    status = 200
    if request.method == "POST":
        try:
            if request.form.get("revoke"):
                accounts.revoke_reporter_role(g.actor, id_value(request.form["revoke"]) or 0)
                flash("已撤销", "info")
            else:
                user = accounts.find_user_by_phone(request.form.get("phone", ""))
                accounts.grant_reporter_role(
                    g.actor, user, request.form.get("role", ""), request.form.get("region", "").strip()
                )
                flash("已授予报告人身份", "info")
            return redirect(url_for("portal_reports.reporters"))
        except DomainError as err:
            flash_error(err)
            status = err.status
    grants = accounts.reporter_grants_in_scope(g.actor)
    return render_template(
        "reports/reporters.html",
        grants=grants,
        roles=GRANTABLE_ROLES,
        names=regions.names_for({grant.region_code for grant, _ in grants}),
    ), status
