"""Workflow definitions, one per program, declarative: steps, what each waits for, who acts, deadlines.

A step becomes ready when every step in ``after`` is done (steps with the same ``after`` run in
parallel). ``validate_all()`` runs at start-up and refuses a broken definition.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STEP_LABELS = {
    "accept": "受理",
    "data_check": "信息核对",
    "home_visit": "入户调查",
    "appraisal": "民主评议",
    "review": "乡镇审核",
    "public_notice": "公示",
    "confirmation": "县级确认",
    "decision": "审批决定",
}
TOWNSHIP = ("township_officer", "county_officer")
COUNTY = ("county_officer",)


@dataclass(frozen=True)
class StepDef:
    code: str
    after: tuple[str, ...] = ()
    working_days: int | None = None  # deadline once ready
    calendar_days: int | None = None  # fixed duration (public notice)
    roles: tuple[str, ...] = TOWNSHIP
    optional: str | None = None  # a county setting that switches the step on (e.g. appraisal)
    delegable: bool = False  # the county may delegate it to the township

    @property
    def label(self) -> str:
        return STEP_LABELS[self.code]


@dataclass(frozen=True)
class Workflow:
    program: str
    steps: tuple[StepDef, ...]
    total_working_days: int = 30
    extension_working_days: int = 15
    decision_step: str = "confirmation"
    step_index: dict[str, StepDef] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "step_index", {s.code: s for s in self.steps})

    def step(self, code: str) -> StepDef:
        return self.step_index[code]


DIBAO = Workflow(
    "dibao",
    (
        StepDef("accept", working_days=3),
        StepDef("data_check", after=("accept",), working_days=10),
        StepDef("home_visit", after=("accept",), working_days=10),
        StepDef("appraisal", after=("accept",), working_days=10, optional="appraisal_enabled"),
        StepDef("review", after=("data_check", "home_visit", "appraisal"), working_days=5),
        StepDef("public_notice", after=("review",), calendar_days=7),
        StepDef("confirmation", after=("public_notice",), working_days=10, roles=COUNTY, delegable=True),
    ),
)
TEKUN = Workflow(
    "tekun",
    (
        StepDef("accept", working_days=3),
        StepDef("data_check", after=("accept",), working_days=10),
        StepDef("home_visit", after=("accept",), working_days=10),
        StepDef("review", after=("data_check", "home_visit"), working_days=5),
        StepDef("public_notice", after=("review",), calendar_days=7),
        StepDef("confirmation", after=("public_notice",), working_days=10, roles=COUNTY, delegable=True),
    ),
)
SHORT = (
    StepDef("accept", working_days=1),
    StepDef("data_check", after=("accept",), working_days=3),
    StepDef("decision", after=("data_check",), working_days=2),
)
LINSHI = Workflow("linshi", SHORT, total_working_days=10, extension_working_days=5, decision_step="decision")
YILIAO = Workflow("yiliao", SHORT, total_working_days=10, extension_working_days=5, decision_step="decision")

WORKFLOWS: dict[str, Workflow] = {w.program: w for w in (DIBAO, TEKUN, LINSHI, YILIAO)}


class WorkflowDefinitionError(RuntimeError):
    pass


def validate(workflow: Workflow) -> None:
    codes = [s.code for s in workflow.steps]
    if len(set(codes)) != len(codes):
        raise WorkflowDefinitionError(f"{workflow.program}: duplicate step codes")
    if codes[0] != "accept":
        raise WorkflowDefinitionError(f"{workflow.program}: the first step must be accept")
    if workflow.decision_step not in codes:
        raise WorkflowDefinitionError(f"{workflow.program}: decision step {workflow.decision_step} missing")
    seen: set[str] = set()
    for step in workflow.steps:  # listed in an order where every dependency comes first: no cycles
        if step.code not in STEP_LABELS:
            raise WorkflowDefinitionError(f"{workflow.program}: unknown step {step.code}")
        missing = [d for d in step.after if d not in seen]
        if missing:
            raise WorkflowDefinitionError(f"{workflow.program}: {step.code} waits for {missing}, not defined before it")
        if (step.working_days is None) == (step.calendar_days is None) and step.code != "accept":
            raise WorkflowDefinitionError(f"{workflow.program}: {step.code} needs exactly one kind of deadline")
        seen.add(step.code)
    dependents = {d for s in workflow.steps for d in s.after}
    terminal = [s.code for s in workflow.steps if s.code not in dependents]
    if terminal != [workflow.decision_step]:
        raise WorkflowDefinitionError(
            f"{workflow.program}: the decision step must be the only last step, not {terminal}"
        )


def validate_all() -> None:
    from core.applications.programs import PROGRAMS

    for program in PROGRAMS:
        if program not in WORKFLOWS:
            raise WorkflowDefinitionError(f"no workflow for program {program}")
        validate(WORKFLOWS[program])
