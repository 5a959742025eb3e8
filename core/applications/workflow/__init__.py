"""Programme workflows: the declarative definitions (``definitions``) and the engine that runs them on an
application's handling case (``engine``). Case state itself changes only through ``core.casework``."""

from core.applications.workflow.definitions import STEP_LABELS, WORKFLOWS, StepDef, Workflow, validate_all
from core.applications.workflow.engine import (
    HomeVisitFiles,
    claim,
    complete_investigation,
    complete_review,
    decide,
    extend,
    finish_notice,
    get_step,
    get_step_file,
    record_objection,
    register_gate,
    start,
    start_notice,
    step_files,
    steps_of,
    steps_of_application,
    workflow_for,
)

__all__ = [
    "STEP_LABELS",
    "WORKFLOWS",
    "HomeVisitFiles",
    "StepDef",
    "Workflow",
    "claim",
    "complete_investigation",
    "complete_review",
    "decide",
    "extend",
    "finish_notice",
    "get_step",
    "get_step_file",
    "record_objection",
    "register_gate",
    "start",
    "start_notice",
    "step_files",
    "steps_of",
    "steps_of_application",
    "validate_all",
    "workflow_for",
]
