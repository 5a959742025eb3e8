"""Application cases in the portal: the case page and the acceptance-stage actions."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, flash, g, redirect, render_template, request, send_file, url_for

from core.applications import services as applications
from core.applications.models import STATUSES
from core.applications.programs import MATERIALS, PROGRAMS
from core.errors import DomainError
from core.files import storage
from core.households import vocabulary
from core.idnumber import mask
from core.regions.services import names_for

bp = Blueprint("portal_applications", __name__, url_prefix="/portal/applications", template_folder="../templates")


def _page(application_id: int, *, reveal: bool = False, status: int = 200):
    app, case = applications.get_for_officer(g.actor, application_id)
    if reveal:
        applications.reveal_id_numbers(g.actor, app)
    members = (
        [
            {
                "name": m.name,
                "id_number": m.id_number,
                "relation": m.relation,
                "health": m.health,
                "disability_grade": m.disability_grade,
                "employment": m.employment,
            }
            for m in app.members
        ]
        if reveal
        else applications.masked_members(app)
    )
    codes = {app.residence_township_code, app.hukou_township_code, app.residence_village_code} - {None}
    return render_template(
        "applications/detail.html",
        app=app,
        case=case,
        members=members,
        revealed=reveal,
        attachments=applications.attachments_of(app),
        events=applications.timeline(app),
        income_total=applications.monthly_income_total(app),
        names=names_for(codes),
        statuses=STATUSES,
        programs=PROGRAMS,
        materials=MATERIALS,
        v=vocabulary,
        applicant_id=(app.applicant_id_number if reveal else mask(app.applicant_id_number)),
    ), status


@bp.route("/<int:application_id>")
def detail(application_id: int):
    return _page(application_id)


@bp.route("/<int:application_id>/reveal", methods=["POST"])
def reveal(application_id: int):
    """Show full ID numbers (audited)."""
    return _page(application_id, reveal=True)


def _act(application_id: int, action: Callable[[], object], success: str):
    try:
        action()
    except DomainError as err:
        flash(err.message if not err.errors else "；".join(m for v in err.errors.values() for m in v), "error")
        return _page(application_id, status=err.status)
    flash(success, "info")
    return redirect(url_for("portal_applications.detail", application_id=application_id))


@bp.route("/<int:application_id>/accept", methods=["POST"])
def accept(application_id: int):
    return _act(application_id, lambda: applications.accept(g.actor, application_id), "已受理")


@bp.route("/<int:application_id>/correction", methods=["POST"])
def correction(application_id: int):
    reason = request.form.get("reason", "")
    return _act(
        application_id,
        lambda: applications.request_correction(g.actor, application_id, reason),
        "已通知申请人补正材料，受理时限暂停计算",
    )


@bp.route("/<int:application_id>/reject", methods=["POST"])
def reject(application_id: int):
    reason = request.form.get("reason", "")
    return _act(
        application_id, lambda: applications.reject_at_acceptance(g.actor, application_id, reason), "已作出不予受理决定"
    )


@bp.route("/<int:application_id>/attachments/<int:attachment_id>")
def attachment(application_id: int, attachment_id: int):
    app, _ = applications.get_for_officer(g.actor, application_id)
    item = applications.get_attachment(app, attachment_id)
    return send_file(storage.open_path(item.storage_key), mimetype=item.content_type, download_name=item.original_name)
