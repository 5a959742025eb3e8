"""The registry's public surface (一人一档, enrollments; rolls, reviews, transfers and imports in their modules).

Edges and other areas import from here; the modules are split by lifecycle: ``persons`` (persons,
households, facts), ``enrollments`` (creation once per decision, state changes as events, notices).
"""

from core.registry.enrollments import (
    COUNTY_ROLES,
    ENROLLED_PROGRAMS,
    TRANSITIONS,
    add_months,
    change,
    create,
    enroll_approved,
    events_of,
    get_for_officer,
    month_of,
    officer_change,
    parse_amount,
)
from core.registry.enrollments import members_of as enrollment_members
from core.registry.persons import (
    LINK_TASK,
    find_person,
    get_household_for_officer,
    get_person_for_officer,
    household_from_application,
    join_household,
    link_application,
    members_of,
    person_for,
    record_facts,
    register_application,
    register_report,
    schedule_link,
)

__all__ = [
    "COUNTY_ROLES",
    "ENROLLED_PROGRAMS",
    "LINK_TASK",
    "TRANSITIONS",
    "add_months",
    "change",
    "create",
    "enroll_approved",
    "enrollment_members",
    "events_of",
    "find_person",
    "get_for_officer",
    "get_household_for_officer",
    "get_person_for_officer",
    "household_from_application",
    "join_household",
    "link_application",
    "members_of",
    "month_of",
    "officer_change",
    "parse_amount",
    "person_for",
    "record_facts",
    "register_application",
    "register_report",
    "schedule_link",
]
