"""Departments and their API clients in the portal (system and city administrators): register a
department, issue a key (the secret is shown once), rotate it, change its data categories, revoke it.
The logic is core.exchange.clients; these views parse, call and render."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from core.database import commit, rollback
from core.errors import DomainError
from core.exchange import clients
from core.exchange.models import CLIENT_STATUSES, DEPARTMENT_KINDS, SIGNATURE_ALGORITHMS
from core.regions import services as regions
from portal.feedback import flash_error

bp = Blueprint("portal_departments", __name__, url_prefix="/portal/departments", template_folder="../templates")
LABELS = {"kinds": DEPARTMENT_KINDS, "algorithms": SIGNATURE_ALGORITHMS, "client_statuses": CLIENT_STATUSES}


def _index_page(status: int = 200, errors: dict | None = None, values: dict | None = None):
    departments = clients.list_departments(g.actor)
    names = regions.names_for({d.region_code for d in departments})
    return render_template(
        "departments/index.html",
        departments=departments,
        names=names,
        field_errors=errors or {},
        values=values or {},
        **LABELS,
    ), status


@bp.route("")
def index():
    return _index_page()


@bp.route("", methods=["POST"])
def create():
    form = request.form
    values = {k: (form.get(k) or "")[:120] for k in ("code", "name", "kind", "region_code")}
    try:
        department = clients.create_department(g.actor, values)
    except DomainError as err:
        if err.status == 403:
            raise
        rollback()
        flash_error(err)
        return _index_page(err.status, err.errors, values)
    flash(f"已登记部门：{department.name}", "info")
    return redirect(url_for(".detail", department_id=department.id), 303)


def _detail_page(
    department_id: int,
    status: int = 200,
    errors: dict | None = None,
    values: dict | None = None,
    issued: clients.IssuedKey | None = None,
):
    department = clients.get_department(g.actor, department_id)
    names = regions.names_for({department.region_code})
    return render_template(
        "departments/detail.html",
        department=department,
        api_clients=clients.clients_of(department),
        categories=clients.category_choices(),
        names=names,
        issued=issued,
        field_errors=errors or {},
        values=values or {},
        **LABELS,
    ), status


@bp.route("/<int:department_id>")
def detail(department_id: int):
    return _detail_page(department_id)


def _secret_page(department_id: int, issued: clients.IssuedKey, message: str):
    """The secret is shown on this response only (never stored readable, never shown again)."""
    commit()
    flash(message, "info")
    response, status = _detail_page(department_id, issued=issued)
    return response, status, {"Cache-Control": "no-store"}


def _run(department_id: int, action: Callable[[], Any], values: dict | None = None) -> tuple[Any, Any]:
    """``(result, None)`` or ``(None, the detail page re-rendered with the error)``; 403/404 propagate."""
    try:
        return action(), None
    except DomainError as err:
        if err.status in (403, 404):
            raise
        rollback()
        flash_error(err)
        return None, _detail_page(department_id, err.status, err.errors, values)


@bp.route("/<int:department_id>/clients", methods=["POST"])
def issue(department_id: int):
    form = request.form
    values = {
        "name": (form.get("name") or "")[:120],
        "algorithm": form.get("algorithm") or "hmac-sha256",
        "categories": [c[:40] for c in form.getlist("categories")][:50],
    }
    department = clients.get_department(g.actor, department_id)
    issued, page = _run(department_id, lambda: clients.issue_client(g.actor, department, values), values)
    if page is not None:
        return page
    return _secret_page(department_id, issued, "已生成接入密钥，请立即复制并安全交给部门，离开本页后将无法再次查看")


@bp.route("/clients/<int:client_id>/rotate", methods=["POST"])
def rotate(client_id: int):
    _, department = clients.get_client(g.actor, client_id)
    issued, page = _run(department.id, lambda: clients.rotate(g.actor, client_id))
    if page is not None:
        return page
    return _secret_page(department.id, issued, "已更换密钥；旧密钥在24小时内仍可使用，请部门尽快切换")


@bp.route("/clients/<int:client_id>/categories", methods=["POST"])
def set_categories(client_id: int):
    _, department = clients.get_client(g.actor, client_id)
    chosen = [c[:40] for c in request.form.getlist("categories")][:50]
    _, page = _run(department.id, lambda: clients.set_categories(g.actor, client_id, chosen))
    if page is not None:
        return page
    flash("已更新可报送的数据类别", "info")
    return redirect(url_for(".detail", department_id=department.id), 303)


@bp.route("/clients/<int:client_id>/revoke", methods=["POST"])
def revoke(client_id: int):
    _, department = clients.get_client(g.actor, client_id)
    reason = (request.form.get("reason") or "")[:300]
    _, page = _run(department.id, lambda: clients.revoke(g.actor, client_id, reason))
    if page is not None:
        return page
    flash("已吊销该接入系统的密钥", "info")
    return redirect(url_for(".detail", department_id=department.id), 303)
