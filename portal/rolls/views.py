"""Payment rolls (发放名册) in the portal: the county's rolls, a roll's page (summary per township and per
change, lines paginated and filtered), draft / re-draft / submit / lock / send back, and the exports (Excel;
the bank file of a locked roll). Township officers read their own township's lines; every action and
export is the county's."""

from __future__ import annotations

import io
from collections.abc import Callable
from urllib.parse import quote

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, send_file, url_for

from core.database import commit, rollback
from core.errors import DomainError
from core.regions import services as regions
from core.registry import roll_exports, rolls
from core.registry.models import ROLL_CHANGES, ROLL_STATUSES, PaymentRoll
from portal.feedback import act, flash_error
from portal.params import page_value

bp = Blueprint("portal_rolls", __name__, url_prefix="/portal/rolls", template_folder="../templates")


def _version() -> int | None:
    raw = request.form.get("version", "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 9 else None


def _index_page(status: int = 200, month: str | None = None):
    items = rolls.list_rolls(g.actor)
    scope = g.actor.region_code or ""
    return render_template(
        "rolls/index.html",
        rolls=items,
        officers=rolls.officer_names(items),
        names=regions.names_for({r.county_code for r in items} | ({scope} if scope else set())),
        may_act=rolls.is_county(g.actor),
        county_code=scope if len(scope) == 6 else "",
        month=month or rolls.next_month(),
        statuses=ROLL_STATUSES,
    ), status


@bp.route("")
def index():
    return _index_page()


@bp.route("/draft", methods=["POST"])
def draft():
    month = (request.form.get("month") or "").strip()[:7]
    try:
        roll = rolls.officer_draft(g.actor, (request.form.get("county_code") or "").strip()[:6] or None, month)
    except DomainError as err:
        rollback()
        flash_error(err)
        return _index_page(err.status, month=month)
    commit()
    flash(f"已生成{roll.month}发放名册草稿：{roll.line_count}条，合计{roll.total_amount}元", "info")
    return redirect(url_for(".roll", roll_id=roll.id))


def _filters() -> dict[str, str]:
    change = (request.args.get("change") or "").strip()
    township = (request.args.get("township") or "").strip()[:12]
    values = {}
    if change in ROLL_CHANGES:
        values["change"] = change
    if township.isascii() and township.isdigit():
        values["township"] = township
    return values


def _roll_page(roll_id: int, status: int = 200):
    roll = rolls.get_for_officer(g.actor, roll_id)
    filters = _filters()
    page = page_value(request.args.get("page"))
    size = current_app.config["PORTAL_PAGE_SIZE"]
    result = rolls.lines(g.actor, roll, page=page, page_size=size, **filters)
    summary = rolls.summary(g.actor, roll)
    codes = {roll.county_code} | {t["township_code"] for t in summary["by_township"]}
    codes |= {item["line"].village_code for item in result.items if item["line"].village_code}
    return render_template(
        "rolls/roll.html",
        roll=roll,
        result=result,
        summary=summary,
        filters=filters,
        page=page,
        pages=max(1, -(-result.total // size)),
        names=regions.names_for(codes),
        officers=rolls.officer_names([roll]),
        may_act=rolls.is_county(g.actor),
        partial=len(g.actor.region_code or "") > 6,
        statuses=ROLL_STATUSES,
        changes=ROLL_CHANGES,
    ), status


@bp.route("/<int:roll_id>")
def roll(roll_id: int):
    return _roll_page(roll_id)


def _action(roll_id: int, action: Callable[[], object], success: str):
    return act(
        action,
        success,
        on_error=lambda status: _roll_page(roll_id, status),
        done_url=url_for(".roll", roll_id=roll_id),
    )


@bp.route("/<int:roll_id>/redraft", methods=["POST"])
def redraft(roll_id: int):
    return _action(roll_id, lambda: rolls.officer_redraft(g.actor, roll_id, version=_version()), "已重新生成草稿")


@bp.route("/<int:roll_id>/submit", methods=["POST"])
def submit(roll_id: int):
    return _action(
        roll_id, lambda: rolls.submit(g.actor, roll_id, version=_version()), "已提交审核，请另一名县级经办人员审核锁定"
    )


@bp.route("/<int:roll_id>/lock", methods=["POST"])
def lock(roll_id: int):
    return _action(roll_id, lambda: rolls.lock(g.actor, roll_id, version=_version()), "已审核锁定，名册不可再修改")


@bp.route("/<int:roll_id>/reopen", methods=["POST"])
def reopen(roll_id: int):
    return _action(
        roll_id,
        lambda: rolls.reopen(g.actor, roll_id, version=_version(), reason=(request.form.get("reason") or "")[:300]),
        "已退回修改，名册恢复为草稿",
    )


def _download(data: bytes, filename: str, mimetype: str, fallback: str):
    response = send_file(io.BytesIO(data), download_name=filename, as_attachment=True, mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"
    return response


def _export(roll_id: int, build: Callable[[PaymentRoll], tuple[bytes, str, str, str]]):
    """Run an export; a refusal (status, encoding, role) is shown on the roll page as a message."""
    roll = rolls.get_for_officer(g.actor, roll_id)
    try:
        data, filename, mimetype, fallback = build(roll)
    except DomainError as err:
        rollback()
        flash_error(err)
        return _roll_page(roll_id, err.status)
    return _download(data, filename, mimetype, fallback)


@bp.route("/<int:roll_id>/export.xlsx")
def export_excel(roll_id: int):
    def build(roll: PaymentRoll) -> tuple[bytes, str, str, str]:
        data, name, _ = roll_exports.excel(g.actor, roll)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return data, f"{name}.xlsx", mimetype, f"roll-{roll.county_code}-{roll.month}.xlsx"

    return _export(roll_id, build)


@bp.route("/<int:roll_id>/bank.csv")
def export_bank(roll_id: int):
    encoding = (request.args.get("encoding") or "utf-8")[:10]
    charset = "gbk" if encoding.lower() == "gbk" else "utf-8"

    def build(roll: PaymentRoll) -> tuple[bytes, str, str, str]:
        data, name, _ = roll_exports.bank_csv(g.actor, roll, encoding)
        return data, f"{name}.csv", f"text/csv; charset={charset}", f"{name}.csv"

    return _export(roll_id, build)
