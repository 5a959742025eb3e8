"""Which actions a report allows next (the portal's one action panel shows exactly these)."""

from __future__ import annotations

from core.reports.models import Report

STEP_TRANSITIONS = {"contacted": ("new",), "visited": ("new", "contacted")}


def next_actions(report: Report) -> list[str]:
    """In the order an officer usually takes them: steps, person details, refer, close, duplicate."""
    if report.status == "closed":
        return []
    if report.duplicate_of_id:
        return ["unmark_duplicate"]
    actions = [step for step, allowed in STEP_TRANSITIONS.items() if report.status in allowed]
    actions.append("person")
    if report.person_name and report.person_id_number:
        actions.append("refer")
    actions.append("close")
    actions.append("duplicate")
    return actions
