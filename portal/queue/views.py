"""The officers' queue: buckets with counts, filters, search, sort by due date, bulk assignment, export."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for

from core import clock
from core.accounts.services import officer_display_names
from core.applications import conflicts
from core.applications.programs import PROGRAMS
from core.casework import services as casework
from core.casework.models import CASE_KINDS, CASE_STATUSES
from core.desk import dashboard, queues
from core.errors import DomainError
from core.regions import services as regions
from portal.exports import xlsx_response
from portal.feedback import flash_error
from portal.params import id_value, page_value
from portal.redirects import safe_target

bp = Blueprint("portal_queue", __name__, url_prefix="/portal", template_folder="../templates")


def _filters() -> dict:
    args = request.args
    return {
        "bucket": args.get("bucket") if args.get("bucket") in queues.BUCKETS else "all",
        "township": args.get("township") or None,
        "program": args.get("program") if args.get("program") in PROGRAMS else None,
        "assignee": id_value(args.get("assignee")) if args.get("assignee") else None,
        "q": (args.get("q") or "").strip() or None,
        "sort": args.get("sort") if args.get("sort") in queues.SORTS else "due",
        "conflict": "1" if args.get("conflict") == "1" else None,
    }


@bp.route("/")
@bp.route("/queue")
def index():
    f = _filters()
    page = page_value(request.args.get("page"))
    export = request.args.get("format") == "xlsx"
    size = 5000 if export else current_app.config["PORTAL_PAGE_SIZE"]
    result = queues.queue(
        g.actor,
        bucket=f["bucket"],
        page=1 if export else page,
        page_size=size,
        township_code=f["township"],
        program=f["program"],
        assignee=f["assignee"],
        q=f["q"],
        sort=f["sort"],
        application_ids=conflicts.flagged_application_ids() if f["conflict"] else None,
    )
    scope = g.actor.region_code
    names = regions.names_for({c.township_code for c in result.items} | ({scope} if scope else set()))
    officer_names = officer_display_names({c.assignee_officer_id for c in result.items if c.assignee_officer_id})
    if export:
        label = queues.BUCKETS[f["bucket"]]
        return xlsx_response(
            {label: queues.export_rows(result, names, officer_names)},
            f"待办队列-{label}",
            title=f"{names.get(scope, '') if scope else '全部辖区'} 待办队列（{label}）",
        )
    townships = regions.list_children(scope) if scope and len(scope) == 6 else []
    return render_template(
        "queue/index.html",
        page=result,
        townships=townships,
        names=names,
        kinds=CASE_KINDS,
        statuses=CASE_STATUSES,
        programs=PROGRAMS,
        today=clock.local_today(),
        filters=f,
        buckets=queues.BUCKETS,
        counts=queues.counts(g.actor),
        desk=dashboard.township_desk(g.actor) if len(g.actor.region_code or "") == 9 else None,
        sorts=queues.SORTS,
        officers=queues.officers_in_scope(g.actor),
        officer_names=officer_names,
        flagged=conflicts.flagged_among(c.subject_id for c in result.items if c.subject_type == "application"),
    )


@bp.route("/queue/assign", methods=["POST"])
def assign():
    case_ids = [n for n in (id_value(v) for v in request.form.getlist("case_id")) if n is not None]
    back = safe_target(request.form.get("back"), url_for("portal_queue.index"))
    try:
        count = queues.assign(g.actor, case_ids, id_value(request.form.get("officer_id")) or 0)
    except DomainError as err:
        flash_error(err)
        return redirect(back, 303)
    flash(f"已分配{count}件", "info")
    return redirect(back, 303)


@bp.route("/cases/<int:case_id>")
def case_detail(case_id: int):
    case = casework.get_case_for_officer(g.actor, case_id)
    if case.subject_type == "application":
        return redirect(url_for("portal_applications.detail", application_id=case.subject_id))
    if case.subject_type == "report":
        return redirect(url_for("portal_reports.detail", report_id=case.subject_id))
    if case.subject_type == "transfer":
        return redirect(url_for("portal_transfers.detail", transfer_id=case.subject_id))
    if case.subject_type == "review_task":
        return redirect(url_for("portal_reviews.task", task_id=case.subject_id))
    if case.subject_type == "warning":
        return redirect(url_for("portal_warnings.detail", warning_id=case.subject_id))
    names = regions.names_for({case.township_code})
    return render_template("queue/case.html", case=case, kinds=CASE_KINDS, statuses=CASE_STATUSES, names=names)
