"""资格转移 in the portal: incoming and outgoing transfers of the officer's region, the transfer page (the new
户口簿 page viewable, audited), the old county's release (end month), the new county's accept, refusals with
a reason, and "发起转移" by the new township (the recipient found by the full ID number)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, send_file, url_for

from core.applications.programs import PROGRAMS
from core.database import rollback
from core.errors import DomainError
from core.regions import services as regions
from core.registry import transfers
from core.registry.models import ENROLLMENT_STATUSES, TRANSFER_STATUSES, Enrollment, Person
from portal.feedback import act, flash_error
from portal.params import id_value, page_value

bp = Blueprint("portal_transfers", __name__, url_prefix="/portal/transfers", template_folder="../templates")

LABELS = {
    "programs": {k: v["label"] for k, v in PROGRAMS.items()},
    "statuses": TRANSFER_STATUSES,
    "enrollment_statuses": ENROLLMENT_STATUSES,
    "directions": transfers.DIRECTIONS,
}


def _version() -> int | None:
    raw = request.form.get("version", "")
    return int(raw) if raw.isdigit() and len(raw) < 9 else None


@bp.route("")
def index():
    args = request.args
    direction = args.get("direction") if args.get("direction") in transfers.DIRECTIONS else "incoming"
    status = args.get("status") if args.get("status") in TRANSFER_STATUSES else None
    township = (args.get("township") or "").strip()
    township = township if township.isascii() and township.isdigit() and len(township) == 9 else None
    page = page_value(args.get("page"))
    size = current_app.config["PORTAL_PAGE_SIZE"]
    result = transfers.list_for_officer(
        g.actor, direction=direction, status=status, township=township, page=page, page_size=size
    )
    scope = g.actor.region_code
    codes = {e.township_code for _, e in result.items} | {t.to_township_code for t, _ in result.items}
    codes |= {t.to_county_code for t, _ in result.items} | {t.from_county_code for t, _ in result.items}
    filters = {k: v for k, v in {"direction": direction, "status": status, "township": township}.items() if v}
    return render_template(
        "transfers/index.html",
        result=result,
        page=page,
        pages=max(1, -(-result.total // size)),
        filters=filters,
        direction=direction,
        townships=regions.list_children(scope) if scope and len(scope) == 6 else [],
        names=regions.names_for(codes),
        **LABELS,
    )


def _detail_page(transfer_id: int, status: int = 200):
    transfer = transfers.get_for_officer(g.actor, transfer_id)
    return render_template("transfers/detail.html", **transfers.officer_view(g.actor, transfer), **LABELS), status


@bp.route("/<int:transfer_id>")
def detail(transfer_id: int):
    return _detail_page(transfer_id)


@bp.route("/<int:transfer_id>/hukou")
def hukou(transfer_id: int):
    path, content_type, name = transfers.hukou_file(g.actor, transfer_id)
    response = send_file(path, mimetype=content_type, download_name=name, as_attachment=False)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _step(transfer_id: int, action: Callable[[], object], success: str):
    return act(
        action,
        success,
        on_error=lambda status: _detail_page(transfer_id, status),
        done_url=url_for(".detail", transfer_id=transfer_id),
    )


@bp.route("/<int:transfer_id>/release", methods=["POST"])
def release(transfer_id: int):
    month = request.form.get("end_month")
    return _step(
        transfer_id,
        lambda: transfers.release(g.actor, transfer_id, end_month=month, version=_version()),
        "已确认转出，等待新县接收",
    )


@bp.route("/<int:transfer_id>/accept", methods=["POST"])
def accept(transfer_id: int):
    amount = request.form.get("amount")
    return _step(
        transfer_id,
        lambda: transfers.accept(g.actor, transfer_id, amount=amount, version=_version()),
        "已接收，救助对象已转入本县",
    )


@bp.route("/<int:transfer_id>/refuse", methods=["POST"])
def refuse(transfer_id: int):
    reason = request.form.get("reason")
    return _step(
        transfer_id,
        lambda: transfers.refuse(g.actor, transfer_id, reason=reason, version=_version()),
        "已拒绝该资格转移",
    )


@bp.route("/<int:transfer_id>/cancel", methods=["POST"])
def cancel(transfer_id: int):
    return _step(
        transfer_id,
        lambda: transfers.cancel_by_officer(g.actor, transfer_id, version=_version()),
        "已撤回该资格转移",
    )


def _new_page(
    *, id_number: str = "", found: list[Enrollment] | None = None, person: Person | None = None, status: int = 200
):
    scope = g.actor.region_code or ""
    if len(scope) == 9:
        townships = [regions.get_region(scope)]
    elif len(scope) == 6:
        townships = regions.list_children(scope)
    else:
        townships = []
    codes = {e.township_code for e in found or []} | {e.county_code for e in found or []}
    return render_template(
        "transfers/new.html",
        id_number=id_number,
        person=person,
        found=found,
        townships=townships,
        names=regions.names_for(codes),
        **LABELS,
    ), status


@bp.route("/new", methods=["GET"])
def new():
    return _new_page()


@bp.route("/new/search", methods=["POST"])
def search():
    number = (request.form.get("id_number") or "").strip()[:20]
    try:
        person, found = transfers.enrollments_for_id_number(g.actor, number)
    except DomainError as err:
        rollback()
        flash_error(err)
        return _new_page(id_number=number, status=err.status)
    return _new_page(id_number=number, found=found, person=person)


@bp.route("/new", methods=["POST"])
def create():
    form = request.form
    number = (form.get("id_number") or "").strip()[:20]
    upload = request.files.get("file")
    max_bytes = current_app.config["MAX_UPLOAD_BYTES"]
    try:
        transfer = transfers.request_by_officer(
            g.actor,
            number,
            id_value(form.get("enrollment_id")) or 0,
            to_township_code=form.get("to_township_code"),
            to_village_code=form.get("to_village_code"),
            to_address=form.get("to_address"),
            reason=form.get("reason"),
            data=upload.read(max_bytes + 1) if upload is not None and upload.filename else None,
            filename=upload.filename if upload is not None else None,
            max_bytes=max_bytes,
        )
    except DomainError as err:
        rollback()
        flash_error(err)
        person, found = None, None
        try:
            person, found = transfers.enrollments_for_id_number(g.actor, number)
        except DomainError:
            rollback()
        return _new_page(id_number=number, found=found, person=person, status=err.status)
    flash(f"已发起资格转移（{transfer.reference}），等待原县确认", "info")
    return redirect(url_for(".detail", transfer_id=transfer.id), 303)
