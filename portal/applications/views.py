"""Application cases in the portal: the case page and the acceptance-stage actions."""

from __future__ import annotations

import io
from collections.abc import Callable

from flask import Blueprint, current_app, g, render_template, request, send_file, url_for

from core import clock, workdays
from core.accounts.services import officer_display_names
from core.applications import conflicts, workflow
from core.applications import services as applications
from core.applications.models import STATUSES
from core.applications.programs import MATERIALS, PROGRAMS
from core.applications.workflow.definitions import STEP_LABELS
from core.authorizations import services as authorizations
from core.authorizations.models import METHODS as AUTH_METHODS
from core.authorizations.models import STATUSES as AUTH_STATUSES
from core.casework.models import STEP_FILE_KINDS, STEP_STATUSES
from core.files import storage
from core.households import vocabulary
from core.identity import services as identity
from core.identity.models import METHODS as IDENTITY_METHODS
from core.idnumber import mask
from core.regions.services import names_for
from portal.feedback import act

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
    steps = workflow.steps_of_application(app)
    officer_ids = {i for s in steps for i in (s.claimed_by_officer_id, s.completed_by_officer_id) if i}
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
        steps=steps,
        step_files=workflow.step_files([s.id for s in steps]),
        step_file_kinds=STEP_FILE_KINDS,
        step_labels=STEP_LABELS,
        step_statuses=STEP_STATUSES,
        officer_names=officer_display_names(officer_ids),
        today=clock.local_today(),
        auth_requests=authorizations.requests_of(app),
        auth_statuses=AUTH_STATUSES,
        auth_methods=AUTH_METHODS,
        evidence_problems=authorizations.verify_chain(app.id),
        submitter_verification=identity.last_passed(app.created_by_user_id, app.created_by_identity_id),
        identity_methods=IDENTITY_METHODS,
        calendar_estimated=bool(case.limit_date and workdays.is_estimated(case.limit_date)),
        conflicts=applications.conflicts_for_officer(g.actor, app, case),
        conflict_states=conflicts.STATE_LABELS,
        conflict_choices=conflicts.CHOICES,
    ), status


@bp.route("/<int:application_id>")
def detail(application_id: int):
    return _page(application_id)


@bp.route("/<int:application_id>/reveal", methods=["POST"])
def reveal(application_id: int):
    """Show full ID numbers (audited)."""
    return _page(application_id, reveal=True)


def _act(application_id: int, action: Callable[[], object], success: str):
    return act(
        action,
        success,
        on_error=lambda status: _page(application_id, status=status),
        done_url=url_for("portal_applications.detail", application_id=application_id),
    )


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


@bp.route("/<int:application_id>/conflicts/<int:conflict_id>/resolve", methods=["POST"])
def resolve_conflict(application_id: int, conflict_id: int):
    """Decide which household a member named in two applications belongs to (reason required, audited)."""
    choice, reason = request.form.get("choice", ""), request.form.get("reason", "")
    return _act(
        application_id,
        lambda: applications.resolve_conflict(g.actor, application_id, conflict_id, choice, reason),
        "核实结果已保存",
    )


@bp.route("/<int:application_id>/attachments/<int:attachment_id>")
def attachment(application_id: int, attachment_id: int):
    app, _ = applications.get_for_officer(g.actor, application_id)
    item = applications.get_attachment(app, attachment_id)
    return send_file(
        storage.open_path(item.storage_key),
        mimetype=item.content_type,
        download_name=item.original_name,
        as_attachment=True,  # uploads are never rendered inline (nosniff is set for every response)
    )


def _home_visit_files() -> workflow.HomeVisitFiles:
    """Photos from the camera and signatures drawn on screen, read within the configured limits."""
    cfg = current_app.config
    photo_limit, signature_limit = cfg["MAX_UPLOAD_BYTES"], cfg["SIGNATURE_MAX_BYTES"]
    photos = [
        (f.read(photo_limit + 1), f.filename)
        for f in request.files.getlist("photos")[: workflow.MAX_HOME_VISIT_PHOTOS + 1]
        if f.filename
    ]
    signatures = {}
    for kind in workflow.HOME_VISIT_SIGNATURES:
        upload = request.files.get(kind)
        signatures[kind] = upload.read(signature_limit + 1) if upload else b""
    return workflow.HomeVisitFiles(photos, signatures, photo_limit, signature_limit)


STEP_ACTIONS = {
    "claim": lambda actor, step_id, form, version: workflow.claim(actor, step_id, version=version),
    "investigate": lambda actor, step_id, form, version: workflow.complete_investigation(
        actor, step_id, form, version=version, files=_home_visit_files()
    ),
    "review": lambda actor, step_id, form, version: workflow.complete_review(actor, step_id, form, version=version),
    "notice_start": lambda actor, step_id, form, version: workflow.start_notice(actor, step_id, version=version),
    "objection": lambda actor, step_id, form, version: workflow.record_objection(
        actor, step_id, form.get("objection", ""), upheld=form.get("upheld") == "1", version=version
    ),
    "notice_finish": lambda actor, step_id, form, version: workflow.finish_notice(actor, step_id, version=version),
    "decide": lambda actor, step_id, form, version: workflow.decide(actor, step_id, form, version=version),
}
ACTION_MESSAGES = {
    "claim": "已领取",
    "investigate": "已记录",
    "review": "审核意见已保存",
    "notice_start": "公示已开始",
    "objection": "异议已登记",
    "notice_finish": "公示已结束",
    "decide": "审批结果已保存",
}


@bp.route("/<int:application_id>/steps/<int:step_id>/<action>", methods=["POST"])
def step_action(application_id: int, step_id: int, action: str):
    if action not in STEP_ACTIONS:
        return _page(application_id, status=404)
    applications.get_for_officer(g.actor, application_id)
    form = request.form.to_dict()
    version = request.form.get("version", type=int)
    return _act(application_id, lambda: STEP_ACTIONS[action](g.actor, step_id, form, version), ACTION_MESSAGES[action])


@bp.route("/<int:application_id>/step-files/<int:file_id>")
def step_file(application_id: int, file_id: int):
    """A home-visit photo or signature (an <img> shows it; opened directly it is a download)."""
    applications.get_for_officer(g.actor, application_id)
    item = workflow.get_step_file(g.actor, application_id, file_id)
    return send_file(
        storage.open_path(item.storage_key),
        mimetype=item.content_type,
        download_name=f"{item.kind}-{item.id}.{storage.EXTENSIONS.get(item.content_type, 'bin')}",
        as_attachment=True,
    )


@bp.route("/<int:application_id>/extend", methods=["POST"])
def extend(application_id: int):
    _, case = applications.get_for_officer(g.actor, application_id)
    reason = request.form.get("reason", "")
    return _act(application_id, lambda: workflow.extend(g.actor, case.id, reason), "办理期限已延长")


@bp.route("/<int:application_id>/authorizations/<int:request_id>/window", methods=["POST"])
def window_authorization(application_id: int, request_id: int):
    """The member signed the paper letter at the window: record it with the scan (audited)."""
    app, case = applications.get_for_officer(g.actor, application_id)
    scan = request.files.get("scan")
    data = scan.read(current_app.config["MAX_UPLOAD_BYTES"] + 1) if scan else b""
    filename = scan.filename if scan else None
    if case.is_info_copy:
        return _page(application_id, status=403)
    return _act(
        application_id,
        lambda: authorizations.window_authorize(
            g.actor, app, request_id, data, filename, max_bytes=current_app.config["MAX_UPLOAD_BYTES"]
        ),
        "已记录窗口授权",
    )


@bp.route("/<int:application_id>/authorizations.pdf")
def authorization_pdf(application_id: int):
    """The 授权书 for the case file (audited: it shows names and signatures)."""
    from core.audit import services as audit
    from core.authorizations import letter_pdf

    app, _ = applications.get_for_officer(g.actor, application_id)
    chain = authorizations.evidence_of(app)
    data = letter_pdf.render(
        app,
        authorizations.requests_of(app),
        authorizations.signatures_of(app),
        chain[-1].record_hash[:16] if chain else None,
        font_path=current_app.config["PDF_CJK_FONT"],
        font_index=current_app.config["PDF_CJK_FONT_INDEX"],
    )
    audit.record(g.actor, "authorization.pdf", app, region=app.residence_township_code)
    return send_file(io.BytesIO(data), mimetype="application/pdf", download_name=f"授权书-{app.reference}.pdf")
