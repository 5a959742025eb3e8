"""Periodic review (复核) in the portal: campaigns (list, new, progress, export, close), task lists and the
task page with the outcome form. The logic is core.registry.reviews; these views parse, call and render."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for

from core import clock
from core.applications.programs import PROGRAMS
from core.database import commit, rollback
from core.errors import DomainError, PermissionDenied
from core.households.vocabulary import RELATIONS
from core.regions import services as regions
from core.registry import enrollments, reviews
from core.registry.models import CAMPAIGN_STATUSES, ENROLLMENT_EVENTS, ENROLLMENT_STATUSES, REVIEW_OUTCOMES
from portal.exports import xlsx_response
from portal.feedback import act, flash_error
from portal.params import page_value

bp = Blueprint("portal_reviews", __name__, url_prefix="/portal/reviews", template_folder="../templates")

LABELS = {
    "programs": {k: v["label"] for k, v in PROGRAMS.items() if k in enrollments.ENROLLED_PROGRAMS},
    "outcomes": REVIEW_OUTCOMES,
    "campaign_statuses": CAMPAIGN_STATUSES,
    "task_statuses": reviews.TASK_STATUSES,
    "task_filters": reviews.TASK_FILTERS,
    "statuses": ENROLLMENT_STATUSES,
    "event_kinds": ENROLLMENT_EVENTS,
    "relations": RELATIONS,
}


def _is_county() -> bool:
    return bool(enrollments.COUNTY_ROLES & set(g.actor.roles)) and len(g.actor.region_code or "") == 6


def _townships() -> list:
    scope = g.actor.region_code
    return [r for r in regions.list_children(scope) if r.level == "township"] if scope and len(scope) == 6 else []


@bp.route("")
def index():
    campaigns = reviews.list_campaigns(g.actor)
    names = regions.names_for({c.county_code for c in campaigns})
    return render_template("reviews/index.html", campaigns=campaigns, names=names, may_start=_is_county(), **LABELS)


def _new_page(status: int = 200, errors: dict | None = None, values: dict | None = None):
    if not _is_county():
        raise PermissionDenied("复核活动由县级民政部门发起和结束", code="county_only")
    return render_template(
        "reviews/new.html",
        townships=_townships(),
        field_errors=errors or {},
        values=values or {},
        **LABELS,
    ), status


@bp.route("/new", methods=["GET", "POST"])
def new():
    if request.method == "GET":
        return _new_page()
    form = request.form
    values = {
        "name": (form.get("name") or "")[:100],
        "program": form.get("program") or "",
        "township_codes": [c[:12] for c in form.getlist("township_codes")][:200],
        "deadline": (form.get("deadline") or "")[:20],
    }
    try:
        campaign = reviews.start_campaign(
            g.actor,
            name=values["name"],
            program=values["program"],
            township_codes=values["township_codes"],
            deadline=values["deadline"],
        )
    except DomainError as err:
        if err.status == 403:
            raise
        rollback()  # the page re-rendered below shows the stored state
        flash_error(err)
        return _new_page(err.status, err.errors, values)
    flash(f"已发起复核活动，共{campaign.task_count}户，已派发到各乡镇（街道）待办队列", "info")
    return redirect(url_for(".campaign", campaign_id=campaign.id), 303)


def _task_filters() -> dict[str, str | None]:
    args = request.args
    township = (args.get("township") or "").strip()[:12]
    status = args.get("status")
    return {
        "township": township if township.isascii() and township.isdigit() else None,
        "status": status if status in reviews.TASK_FILTERS else None,
    }


@bp.route("/<int:campaign_id>")
def campaign(campaign_id: int):
    return _campaign_page(campaign_id)


def _campaign_page(campaign_id: int, status: int = 200):
    item = reviews.get_campaign(g.actor, campaign_id)
    rows, total = reviews.progress(g.actor, item)
    names = regions.names_for({r["township_code"] for r in rows} | set(item.township_codes or []) | {item.county_code})
    return render_template(
        "reviews/campaign.html",
        campaign=item,
        rows=rows,
        total=total,
        names=names,
        may_close=_is_county() and item.status == "open",
        **LABELS,
    ), status


@bp.route("/<int:campaign_id>/export")
def export(campaign_id: int):
    item = reviews.get_campaign(g.actor, campaign_id)
    rows, total = reviews.progress(g.actor, item)
    names = regions.names_for({r["township_code"] for r in rows} | {item.county_code})
    return xlsx_response(
        {
            "复核进度": reviews.progress_rows(rows, total, names),
            "复核明细": reviews.task_rows(g.actor, item, names),
        },
        f"复核进度-{item.name}",
        title=f"{names.get(item.county_code, '')} {item.name} 复核进度（截止{item.deadline:%Y-%m-%d}）",
    )


@bp.route("/<int:campaign_id>/tasks")
def tasks(campaign_id: int):
    item = reviews.get_campaign(g.actor, campaign_id)
    filters = _task_filters()
    result = reviews.list_tasks(
        g.actor,
        item,
        township=filters["township"],
        status=filters["status"],
        page=page_value(request.args.get("page")),
        page_size=current_app.config["PORTAL_PAGE_SIZE"],
    )
    names = regions.names_for({t.township_code for t, _ in result.items} | set(item.township_codes or []))
    return render_template(
        "reviews/tasks.html",
        campaign=item,
        result=result,
        filters={k: v for k, v in filters.items() if v},
        townships=_townships(),
        names=names,
        today=clock.local_today(),
        **LABELS,
    )


@bp.route("/<int:campaign_id>/close", methods=["POST"])
def close(campaign_id: int):
    return act(
        lambda: reviews.close_campaign(g.actor, campaign_id),
        "复核活动已结束",
        on_error=lambda status: _campaign_page(campaign_id, status),
        done_url=url_for(".campaign", campaign_id=campaign_id),
    )


def _task_page(task_id: int, status: int = 200, errors: dict | None = None, values: dict | None = None):
    view = reviews.task_view(g.actor, task_id)
    e = view["enrollment"]
    names = regions.names_for({e.township_code, e.village_code} - {None})
    return render_template(
        "reviews/task.html", **view, names=names, field_errors=errors or {}, values=values or {}, **LABELS
    ), status


@bp.route("/tasks/<int:task_id>")
def task(task_id: int):
    return _task_page(task_id)


@bp.route("/tasks/<int:task_id>", methods=["POST"])
def record(task_id: int):
    form = request.form
    version = form.get("version", "")
    values = {k: (form.get(k) or "")[:5000] for k in ("outcome", "reason", "visit_record", "new_amount", "month")}
    try:
        reviews.record_outcome(
            g.actor,
            task_id,
            values["outcome"],
            reason=values["reason"],
            visit_record=values["visit_record"],
            new_amount=values["new_amount"],
            month=values["month"][:7],
            version=int(version) if version.isdigit() and len(version) < 9 else None,
        )
    except DomainError as err:
        if err.status == 404:
            raise
        commit() if err.keep_changes else rollback()  # the page re-rendered below shows the stored state
        flash_error(err)
        return _task_page(task_id, err.status, err.errors, values)
    flash(f"已记录复核结果：{REVIEW_OUTCOMES[values['outcome']]}", "info")
    return redirect(url_for(".task", task_id=task_id), 303)
