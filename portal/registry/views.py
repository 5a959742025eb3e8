"""The registry in the portal: 救助对象 (enrollment list, filters, export), the enrollment page with the
county's changes, the person page (一人一档) and the household page."""

from __future__ import annotations

from flask import Blueprint, current_app, g, render_template, request, url_for

from core import clock
from core.applications.programs import PROGRAMS
from core.regions import services as regions
from core.registry import officer as registry_views
from core.registry import services as registry
from core.registry.models import ENROLLMENT_EVENTS, ENROLLMENT_STATUSES, REVIEW_OUTCOMES, TRANSFER_STATUSES
from portal.exports import xlsx_response
from portal.feedback import act
from portal.params import page_value

bp = Blueprint("portal_registry", __name__, url_prefix="/portal/registry", template_folder="../templates")

LABELS = {
    "programs": {k: v["label"] for k, v in PROGRAMS.items() if k in registry.ENROLLED_PROGRAMS},
    "statuses": ENROLLMENT_STATUSES,
    "event_kinds": ENROLLMENT_EVENTS,
    "outcomes": REVIEW_OUTCOMES,
    "transfer_statuses": TRANSFER_STATUSES,
}
FILTER_KEYS = ("township", "program", "status", "q")


def _filters() -> dict[str, str | None]:
    args = request.args
    values = {k: (args.get(k) or "").strip()[:40] or None for k in FILTER_KEYS}
    if values["program"] not in LABELS["programs"]:
        values["program"] = None
    if values["status"] not in ENROLLMENT_STATUSES:
        values["status"] = None
    if values["township"] and not (values["township"].isascii() and values["township"].isdigit()):
        values["township"] = None
    return values


@bp.route("")
def index():
    filters = _filters()
    page = page_value(request.args.get("page"))
    size = current_app.config["PORTAL_PAGE_SIZE"]
    result = registry_views.list_enrollments(g.actor, page=page, page_size=size, **filters)
    scope = g.actor.region_code
    townships = regions.list_children(scope) if scope and len(scope) == 6 else []
    names = regions.names_for({e.township_code for e in result.items} | {e.village_code for e in result.items} - {None})
    return render_template(
        "registry/index.html",
        result=result,
        page=page,
        pages=max(1, -(-result.total // size)),
        filters={k: v for k, v in filters.items() if v},
        townships=townships,
        names=names,
        **LABELS,
    )


@bp.route("/export")
def export():
    filters = _filters()
    scope = g.actor.region_code
    names = regions.names_for({scope} if scope else set())
    where = names.get(scope, "全部辖区") if scope else "全部辖区"
    rows = registry_views.enrollment_export_rows(g.actor, **filters)
    return xlsx_response(
        {"救助对象": rows},
        f"救助对象名册-{clock.to_local(clock.utcnow()):%Y%m%d}",
        title=f"{where} 救助对象名册",
    )


def _enrollment_page(enrollment_id: int, status: int = 200):
    enrollment = registry.get_for_officer(g.actor, enrollment_id)
    view = registry_views.enrollment_view(g.actor, enrollment)
    names = regions.names_for({enrollment.township_code, enrollment.village_code} - {None})
    return render_template(
        "registry/enrollment.html",
        **view,
        names=names,
        may_change=bool(registry.COUNTY_ROLES & set(g.actor.roles)),
        **LABELS,
    ), status


@bp.route("/enrollments/<int:enrollment_id>")
def enrollment(enrollment_id: int):
    return _enrollment_page(enrollment_id)


@bp.route("/enrollments/<int:enrollment_id>/change", methods=["POST"])
def change(enrollment_id: int):
    form = request.form
    version = form.get("version", "")
    kind = form.get("kind", "")
    return act(
        lambda: registry.officer_change(
            g.actor,
            enrollment_id,
            kind,
            reason=form.get("reason"),
            amount=form.get("amount"),
            month=(form.get("month") or "").strip(),
            version=int(version) if version.isdigit() and len(version) < 9 else None,
        ),
        f"已{ENROLLMENT_EVENTS.get(kind, '变更')}",
        on_error=lambda status: _enrollment_page(enrollment_id, status),
        done_url=url_for(".enrollment", enrollment_id=enrollment_id),
    )


def _person_page(person_id: int, *, revealed: str | None = None):
    view = registry_views.person_view(g.actor, person_id)
    person = view["person"]
    codes = {person.residence_township_code, person.residence_village_code, person.hukou_township_code}
    codes |= {h["household"].residence_township_code for h in view["households"]}
    return render_template(
        "registry/person.html",
        **view,
        revealed=revealed,
        names=regions.names_for(codes - {None}),
        **LABELS,
    )


@bp.route("/persons/<int:person_id>")
def person(person_id: int):
    return _person_page(person_id)


@bp.route("/persons/<int:person_id>/reveal", methods=["POST"])
def reveal(person_id: int):
    number = registry_views.reveal_id_number(
        g.actor, person_id, purpose=(request.form.get("purpose") or "核实身份")[:100]
    )
    return _person_page(person_id, revealed=number)


@bp.route("/households/<int:household_id>")
def household(household_id: int):
    view = registry_views.household_view(g.actor, household_id)
    h = view["household"]
    names = regions.names_for({h.residence_township_code, h.residence_village_code, h.hukou_township_code} - {None})
    return render_template("registry/household.html", **view, names=names, **LABELS)
