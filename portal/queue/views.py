"""The township queue (county officers see all townships of their county)."""

from __future__ import annotations

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for

from core import clock
from core.applications.programs import PROGRAMS
from core.casework import services as casework
from core.casework.models import CASE_KINDS, CASE_STATUSES
from core.regions import services as regions

bp = Blueprint("portal_queue", __name__, url_prefix="/portal", template_folder="../templates")


@bp.route("/")
@bp.route("/queue")
def index():
    page = max(1, request.args.get("page", 1, type=int) or 1)
    township = request.args.get("township") or None
    result = casework.queue(
        g.actor, page=page, page_size=current_app.config["PORTAL_PAGE_SIZE"], township_code=township
    )
    scope = g.actor.region_code
    townships = regions.list_children(scope) if scope and len(scope) == 6 else []
    names = regions.names_for({c.township_code for c in result.items} | ({scope} if scope else set()))
    return render_template(
        "queue/index.html",
        page=result,
        townships=townships,
        township=township,
        names=names,
        kinds=CASE_KINDS,
        statuses=CASE_STATUSES,
        programs=PROGRAMS,
        today=clock.local_today(),
    )


@bp.route("/cases/<int:case_id>")
def case_detail(case_id: int):
    case = casework.get_case_for_officer(g.actor, case_id)
    if case.subject_type == "application":
        return redirect(url_for("portal_applications.detail", application_id=case.subject_id))
    if case.subject_type == "report":
        return redirect(url_for("portal_reports.detail", report_id=case.subject_id))
    names = regions.names_for({case.township_code})
    return render_template("queue/case.html", case=case, kinds=CASE_KINDS, statuses=CASE_STATUSES, names=names)
