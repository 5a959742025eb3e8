"""实名核验 for officers: find an account by phone, see who verified its person how and when, and record a
verification at the township window (the person and their ID card seen in person)."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from core.accounts import services as accounts
from core.errors import DomainError
from core.identity import services as identity
from core.identity.models import METHODS, STATUSES, reason_message
from portal.feedback import flash_error

bp = Blueprint("portal_identity", __name__, url_prefix="/portal/identity", template_folder="../templates")


@bp.route("", methods=["GET"])
def index():
    phone = (request.args.get("phone") or "").strip()
    person, status = None, 200
    if phone:
        try:
            person = identity.person_view(g.actor, accounts.find_user_by_phone(phone))
        except DomainError as err:
            flash_error(err)
            status = err.status
    return render_template(
        "identity/index.html",
        phone=phone,
        person=person,
        methods=METHODS,
        statuses=STATUSES,
        reason_message=reason_message,
        can_verify=identity.can_verify_at_window(g.actor),
    ), status


@bp.route("/window", methods=["POST"])
def window():
    phone = (request.form.get("phone") or "").strip()
    try:
        user = accounts.find_user_by_phone(phone)
        identity.verify_at_window(
            g.actor,
            user,
            request.form.get("name", ""),
            request.form.get("id_number", ""),
            document_checked=request.form.get("document_checked") == "1",
            note=request.form.get("note"),
        )
    except DomainError as err:
        flash_error(err)
        return redirect(url_for("portal_identity.index", phone=phone)), 303
    flash("已记录窗口实名核验", "info")
    return redirect(url_for("portal_identity.index", phone=phone))
