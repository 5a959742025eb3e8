"""Rules as data: the default set is valid and covers the four scenarios with ≥ 10 indicators; bad rules
are refused with the field (Chinese); a county's versions are previewed before they are switched on, and
a county officer cannot touch another county's rules."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.database import commit, db
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.monitoring import rules, rulesets
from tests.exchange import factory


def _with(code: str, **changes):
    out = rules.default_rules()
    for r in out:
        if r["code"] == code:
            r.update(changes)
    return out


def test_default_set_is_valid_and_covers_the_scenarios():
    clean = rules.validate(rules.default_rules())
    assert len(clean) >= 10
    assert {r["scenario"] for r in clean} == set(rules.SCENARIOS)
    assert all(r["due_days"] == rules.DEFAULT_DUE_DAYS[r["level"]] for r in clean)


@pytest.mark.parametrize(
    ("code", "changes", "field", "message"),
    [
        ("medical_12m", {"category": "lottery_wins"}, "category", "不在数据目录中"),
        ("medical_12m", {"window_months": -3}, "window_months", "不能为负数"),
        ("medical_12m", {"window_months": "abc"}, "window_months", "整数"),
        ("medical_12m", {"threshold": -5}, "threshold", "大于0"),
        ("medical_12m", {"threshold": 1e15}, "threshold", "不可能达到"),
        ("wages_qoq", {"threshold": 150}, "threshold", "不能超过100%"),
        ("medical_12m", {"columns": ["hospital"]}, "columns", "不是该数据类别的数值字段"),
        ("disability_new", {"filters": {"grade": ["9"]}}, "filters", "取值不正确"),
        ("disability_new", {"filters": {"colour": ["1"]}}, "filters", "没有字段"),
        ("medical_12m", {"level": "purple"}, "level", "红色、橙色或黄色"),
        ("medical_12m", {"due_days": 0}, "due_days", "1-30个工作日"),
        ("earner_death", {"min_age": 70, "max_age": 60}, "max_age", "大于下限"),
        ("medical_12m", {"window_months": 0}, "window_months", "大于0"),
        ("wages_qoq", {"compare": "sideways"}, "compare", "环比或同比"),
    ],
)
def test_bad_rules_are_refused_with_the_field(code, changes, field, message):
    with pytest.raises(ValidationFailed) as err:
        rules.validate(_with(code, **changes))
    key = f"rules.{code}.{field}"
    assert key in err.value.errors, err.value.errors
    assert any(message in m for m in err.value.errors[key])


def test_odd_shapes_are_refused():
    for bad in (None, [], "rules", [1, 2], [{"code": "x" * 300}]):
        with pytest.raises(ValidationFailed):
            rules.validate(bad)
    twice = rules.default_rules()
    twice.append(copy.deepcopy(twice[0]))
    with pytest.raises(ValidationFailed) as err:
        rules.validate(twice)
    assert "规则代码重复" in str(err.value.errors)
    nested = _with("medical_12m", filters={"out_of_pocket": [{"a": [1] * 1000}]})
    with pytest.raises(ValidationFailed):
        rules.validate(nested)
    with pytest.raises(ValidationFailed):
        rules.validate(rules.default_rules() * 10)  # more than MAX_RULES


def test_county_versions_preview_then_activate(ctx):
    county = factory.officer("jx-rules", "county_officer", "360124")
    assert rulesets.active_rules("360124") == (rules.default_rules(), None)
    draft = rulesets.save_draft(county, "360124", _with("medical_12m", threshold=20000), note="提高灵敏度")
    commit()
    assert (draft.version, draft.status) == (1, "draft")
    with pytest.raises(ValidationFailed) as err:
        rulesets.activate(county, draft.id)
    assert "preview" in err.value.errors
    rulesets.preview(county, draft.id)
    assert draft.preview["hits"]["medical_12m"] == 0 and "as_of" in draft.preview
    rulesets.activate(county, draft.id)
    commit()
    active, version = rulesets.active_rules("360124")
    assert version == 1 and next(r for r in active if r["code"] == "medical_12m")["threshold"] == 20000
    second = rulesets.save_draft(county, "360124", rules.default_rules())
    rulesets.preview(county, second.id)
    rulesets.activate(county, second.id)
    commit()
    assert db.session.get(type(draft), draft.id).status == "retired"
    actions = set(db.session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("monitoring.rules.%"))))
    assert actions == {"monitoring.rules.save", "monitoring.rules.preview", "monitoring.rules.activate"}
    saved = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "monitoring.rules.save"))
    assert saved is not None


def test_no_one_else_edits_a_countys_rules(ctx):
    other = factory.officer("nc-rules", "county_officer", "360121")
    township = factory.officer("minhe-rules", "township_officer", "360124100")
    with pytest.raises(NotFound):
        rulesets.save_draft(other, "360124", rules.default_rules())
    with pytest.raises(PermissionDenied):
        rulesets.save_draft(township, "360124", rules.default_rules())
    own = factory.officer("jx-rules2", "county_officer", "360124")
    draft = rulesets.save_draft(own, "360124", rules.default_rules())
    for attempt in (rulesets.preview, rulesets.activate, rulesets.get):
        with pytest.raises(NotFound):
            attempt(other, draft.id)
    with pytest.raises(NotFound):
        rulesets.save_draft(own, "36012", rules.default_rules())


def test_the_database_keeps_one_active_version_per_county(ctx):
    from sqlalchemy.exc import IntegrityError

    from core.monitoring.models import MonitoringRuleSet

    for version in (1, 2):
        db.session.add(
            MonitoringRuleSet(county_code="360124", version=version, status="active", rules=rules.default_rules())
        )
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
