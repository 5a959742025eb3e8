"""One-tap reports (主动发现), one module per lifecycle step: ``settings`` (contact deadlines per county),
``intake`` (who may report what, caps, validation, duplicates, photos), ``feedback`` (events and what the reporter
may read), ``response`` (the township's steps, close, refer, duplicates by hand), ``queries`` (the reporter's
and the officer's lists and look-ups), ``escalation`` (overdue first contact to the county). This module is the
area's public surface for the edges."""

from core.reports.escalation import (
    ESCALATE_TASK,
    county_overdue,
    escalate_overdue,
)
from core.reports.feedback import (
    record_event,
    township_name,
)
from core.reports.intake import (
    MAX_PHOTOS,
    add_photo,
    create_report,
    find_open_duplicate,
    get_photo,
    on_filed,
    photos_of,
)
from core.reports.queries import (
    Page,
    duplicates_of,
    get_for_officer,
    get_for_reporter,
    is_overdue,
    list_for_reporter,
    officer_events,
    officer_queue,
    reporter_events,
    scope_clause,
)
from core.reports.response import (
    TRANSITIONS,
    close,
    mark_duplicate,
    record_step,
    refer_to_application,
    set_person,
    unmark_duplicate,
)
from core.reports.settings import (
    contact_days,
    set_contact_days,
)

__all__ = [
    "ESCALATE_TASK",
    "MAX_PHOTOS",
    "TRANSITIONS",
    "Page",
    "add_photo",
    "close",
    "contact_days",
    "county_overdue",
    "create_report",
    "duplicates_of",
    "escalate_overdue",
    "find_open_duplicate",
    "get_for_officer",
    "get_for_reporter",
    "get_photo",
    "is_overdue",
    "list_for_reporter",
    "mark_duplicate",
    "officer_events",
    "officer_queue",
    "on_filed",
    "photos_of",
    "record_event",
    "record_step",
    "refer_to_application",
    "reporter_events",
    "scope_clause",
    "set_contact_days",
    "set_person",
    "township_name",
    "unmark_duplicate",
]
