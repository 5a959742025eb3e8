"""Monitoring rules as data (监测规则): the province default set and its validation.

A rule set is a list of rules; each rule names its indicator kind, the department data categories it
reads, a window in months, a comparison with a threshold, a level and the working days allowed for the
first visit. The four trigger scenarios (预警触发场景) are the warning reasons: one open warning per
person × scenario, whatever rules of that scenario hit (core.warnings).

Kinds (how the engine, core.monitoring.engine, evaluates them):

- ``aggregate``: ``agg`` (sum | max | count) of ``columns`` over the rows of ``category`` in the window
  (optionally ``filters`` {column: [codes]}), per person or per ``scope: household``; ``>= threshold``.
- ``share_of_income``: the household's aggregate of ``columns`` in ``category`` as a percentage of its
  income in ``income`` categories (amount columns) over the same window; ``>= threshold`` %, when the
  costs reach ``min_amount`` (no recorded income counts as a hit).
- ``change``: the sum of ``columns`` over the last ``period_months`` against the period before (环比,
  ``compare: previous``) or the same period a year earlier (同比, ``compare: year``): a drop of
  ``>= threshold`` %, when the earlier period reached ``min_amount``.
- ``exists``: a row of ``category`` matching ``filters`` whose ``date_column`` falls in the window
  (``window_months`` 0: any current row); ``open_column``: only rows whose end date is empty or later.
- ``earner_death``: a working-age member (``min_age``..``max_age``) of the household died in the window;
  the warning goes to the household's first surviving member.
- ``carers_absent``: a child (under ``max_age``) whose household's adults are all dead or in custody
  (``category`` imprisonment with ``filters``, plus deaths); the warning goes to each child.
- ``living_alone``: a person aged ``min_age`` or more who is the only member of their household in the
  roster (category ``roster``: the registry, no department data).
"""

from __future__ import annotations

import copy
from typing import Any

from core.exchange.defaults import DEFAULTS_BY_CODE
from core.warnings.models import WARNING_LEVELS

SCENARIOS = {
    "rigid_expenditure": "刚性支出过大",
    "income_drop": "收入骤减",
    "sudden_event": "突发事件",
    "vulnerable": "特殊群体",
}
KINDS = {
    "aggregate": "累计/最高金额",
    "share_of_income": "占家庭收入比例",
    "change": "环比/同比下降",
    "exists": "出现记录",
    "earner_death": "主要劳动力死亡",
    "carers_absent": "事实无人抚养儿童",
    "living_alone": "独居老人",
}
AGGREGATES = {"sum": "累计", "max": "单笔最高", "count": "笔数"}
COMPARES = {"previous": "环比", "year": "同比"}
SCOPES = {"person": "本人", "household": "家庭"}
ROSTER = "roster"  # the registry itself (living_alone)
DEFAULT_DUE_DAYS = {"red": 3, "orange": 5, "yellow": 10}
MAX_WINDOW_MONTHS = 60
MAX_RULES = 60
FIELDS = (
    "code",
    "label",
    "scenario",
    "kind",
    "category",
    "columns",
    "agg",
    "scope",
    "filters",
    "income",
    "compare",
    "period_months",
    "date_column",
    "open_column",
    "window_months",
    "threshold",
    "min_amount",
    "min_age",
    "max_age",
    "level",
    "due_days",
    "enabled",
)


def _rule(code: str, label: str, scenario: str, kind: str, level: str, **kw: Any) -> dict[str, Any]:
    rule = {
        "code": code,
        "label": label,
        "scenario": scenario,
        "kind": kind,
        "level": level,
        "due_days": DEFAULT_DUE_DAYS[level],
        "enabled": True,
        "window_months": 0,
        "threshold": None,
        "filters": {},
    }
    rule.update(kw)
    return rule


# The province's default rule set: 14 indicators over the four scenarios (Jiangxi: 10 core indicators,
# 4 scenarios; Dali: medical costs, disability certificates, education costs, prison, corrections, children).
DEFAULT_RULES: tuple[dict[str, Any], ...] = (
    _rule(
        "medical_12m",
        "近12个月家庭医疗自付费用累计较高",
        "rigid_expenditure",
        "aggregate",
        "red",
        category="medical_costs",
        columns=["out_of_pocket"],
        agg="sum",
        scope="household",
        window_months=12,
        threshold=30000,
    ),
    _rule(
        "medical_share",
        "医疗自付费用占家庭收入比例过高",
        "rigid_expenditure",
        "share_of_income",
        "orange",
        category="medical_costs",
        columns=["out_of_pocket"],
        income=["wages", "pensions"],
        window_months=12,
        threshold=50,
        min_amount=10000,
    ),
    _rule(
        "education_costs",
        "近12个月教育支出较重",
        "rigid_expenditure",
        "aggregate",
        "yellow",
        category="education_costs",
        columns=["tuition", "accommodation"],
        agg="sum",
        scope="household",
        window_months=12,
        threshold=8000,
    ),
    _rule(
        "unemployment",
        "新近登记失业",
        "income_drop",
        "exists",
        "yellow",
        category="unemployment",
        filters={"status": ["registered"]},
        date_column="registered_on",
        window_months=3,
    ),
    _rule(
        "wages_qoq",
        "工资收入环比大幅下降",
        "income_drop",
        "change",
        "orange",
        category="wages",
        columns=["amount"],
        compare="previous",
        period_months=3,
        threshold=50,
        min_amount=3000,
    ),
    _rule(
        "wages_yoy",
        "工资收入同比大幅下降",
        "income_drop",
        "change",
        "yellow",
        category="wages",
        columns=["amount"],
        compare="year",
        period_months=3,
        threshold=50,
        min_amount=3000,
    ),
    _rule(
        "business_closed",
        "经营主体注销或吊销",
        "income_drop",
        "exists",
        "yellow",
        category="business_registration",
        filters={"status": ["cancelled", "revoked"], "role": ["owner", "legal_rep"]},
        window_months=0,
    ),
    _rule(
        "earner_death",
        "家庭主要劳动力死亡",
        "sudden_event",
        "earner_death",
        "red",
        category="deaths",
        window_months=6,
        min_age=18,
        max_age=60,
    ),
    _rule(
        "serious_illness",
        "近3个月发生大额医疗费用（重大疾病）",
        "sudden_event",
        "aggregate",
        "orange",
        category="medical_costs",
        columns=["total_cost"],
        agg="max",
        scope="person",
        window_months=3,
        threshold=50000,
    ),
    _rule(
        "disability_new",
        "新办一、二级残疾人证",
        "vulnerable",
        "exists",
        "orange",
        category="disability_certificates",
        filters={"grade": ["1", "2"]},
        window_months=3,
    ),
    _rule(
        "prison_release",
        "刑满释放",
        "vulnerable",
        "exists",
        "orange",
        category="imprisonment",
        filters={"status": ["released"]},
        date_column="end_date",
        window_months=6,
    ),
    _rule(
        "community_corrections",
        "社区矫正对象",
        "vulnerable",
        "exists",
        "yellow",
        category="community_corrections",
        open_column="end_date",
        window_months=12,
    ),
    _rule(
        "children_without_carers",
        "事实无人抚养儿童（监护人死亡或服刑）",
        "vulnerable",
        "carers_absent",
        "red",
        category="imprisonment",
        filters={"status": ["serving", "detained"]},
        max_age=18,
    ),
    _rule(
        "elderly_alone",
        "高龄独居老人",
        "vulnerable",
        "living_alone",
        "yellow",
        category=ROSTER,
        min_age=80,
    ),
)


def default_rules() -> list[dict[str, Any]]:
    return copy.deepcopy(list(DEFAULT_RULES))


def category_columns(code: str) -> dict[str, dict[str, Any]]:
    spec = DEFAULTS_BY_CODE.get(code)
    return {c["key"]: c for c in spec["columns"]} if spec else {}


def _known_category(code: Any) -> bool:
    return isinstance(code, str) and code in DEFAULTS_BY_CODE


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value.strip():
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _int(value: Any) -> int | None:
    number = _number(value)
    if number is None or number != int(number):
        return None
    return int(number)


def validate_rule(raw: Any, where: str) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """One rule, checked and normalized; errors keyed ``<where>.<field>`` (Chinese messages)."""
    errors: dict[str, list[str]] = {}

    def err(field: str, message: str) -> None:
        errors.setdefault(f"{where}.{field}", []).append(message)

    if not isinstance(raw, dict):
        return None, {where: ["规则格式不正确"]}
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        err("rule", f"未知字段：{'、'.join(str(u)[:30] for u in unknown[:5])}")
    rule: dict[str, Any] = {}
    code = raw.get("code")
    if not isinstance(code, str) or not code.isascii() or not code.replace("_", "").isalnum() or len(code) > 40:
        err("code", "规则代码只能由字母、数字和下划线组成（最多40个字符）")
    rule["code"] = code
    label = (raw.get("label") or "").strip() if isinstance(raw.get("label"), str) else ""
    if not 2 <= len(label) <= 60:
        err("label", "请填写规则名称（2-60字）")
    rule["label"] = label
    scenario, kind = raw.get("scenario"), raw.get("kind")
    if scenario not in SCENARIOS:
        err("scenario", "预警场景不存在")
    if kind not in KINDS:
        err("kind", "指标类型不存在")
    rule["scenario"], rule["kind"] = scenario, kind
    level = raw.get("level")
    if level not in WARNING_LEVELS:
        err("level", "预警等级只能是红色、橙色或黄色")
    rule["level"] = level
    due = _int(raw.get("due_days", DEFAULT_DUE_DAYS.get(level or "", 10)))
    if due is None or not 1 <= due <= 30:
        err("due_days", "首次核查期限应为1-30个工作日")
    rule["due_days"] = due
    rule["enabled"] = raw.get("enabled", True) in (True, "1", 1, "true", "on")
    window = _int(raw.get("window_months", 0))
    if window is None:
        err("window_months", "时间窗口必须是整数（月）")
    elif window < 0:
        err("window_months", "时间窗口不能为负数")
    elif window > MAX_WINDOW_MONTHS:
        err("window_months", f"时间窗口不能超过{MAX_WINDOW_MONTHS}个月")
    rule["window_months"] = window
    category = raw.get("category")
    if kind == "living_alone":
        if category not in (None, ROSTER):
            err("category", "独居老人指标只使用低收入人口库数据")
        rule["category"] = ROSTER
    elif not _known_category(category):
        err("category", f"数据类别「{str(category)[:40]}」不在数据目录中")
        rule["category"] = None
    else:
        rule["category"] = category
    columns_of = category_columns(rule["category"]) if rule["category"] else {}
    # filters: {column: [codes]} on the category's coded columns
    filters = raw.get("filters") or {}
    if not isinstance(filters, dict):
        err("filters", "筛选条件格式不正确")
        filters = {}
    clean_filters: dict[str, list[str]] = {}
    for column, codes in filters.items():
        spec = columns_of.get(column)
        if spec is None:
            err("filters", f"数据类别中没有字段「{str(column)[:30]}」")
            continue
        values = codes if isinstance(codes, list) else [codes]
        allowed = spec.get("codes") or {}
        if not allowed:
            err("filters", f"字段「{spec['label']}」不是代码字段，不能用作筛选条件")
            continue
        bad = [str(v)[:20] for v in values if not isinstance(v, str | int) or str(v) not in allowed]
        if bad or not values or len(values) > len(allowed):
            err("filters", f"字段「{spec['label']}」的取值不正确：{'、'.join(bad) or '空'}")
            continue
        clean_filters[column] = [str(v) for v in values]
    rule["filters"] = clean_filters
    threshold = raw.get("threshold")
    needs_threshold = kind in ("aggregate", "share_of_income", "change")
    if needs_threshold:
        value = _number(threshold)
        if value is None:
            err("threshold", "请填写阈值（数字）")
        elif value <= 0:
            err("threshold", "阈值必须大于0")
        elif kind in ("share_of_income", "change") and value > 100 and kind == "change":
            err("threshold", "下降比例不能超过100%")
        elif kind == "share_of_income" and value > 10000:
            err("threshold", "占收入比例阈值不合理（应不超过10000%）")
        elif kind == "aggregate" and value > 1e10:
            err("threshold", "阈值过大，任何人都不可能达到")
        rule["threshold"] = value
    else:
        rule["threshold"] = None
    if kind in ("aggregate", "share_of_income", "change"):
        columns = raw.get("columns") or []
        if not isinstance(columns, list) or not columns:
            err("columns", "请选择参与计算的金额字段")
            columns = []
        for column in columns:
            spec = columns_of.get(column)
            if spec is None or spec["type"] not in ("decimal", "integer"):
                err("columns", f"「{str(column)[:30]}」不是该数据类别的数值字段")
        rule["columns"] = [str(c) for c in columns]
    if kind == "aggregate":
        agg = raw.get("agg", "sum")
        if agg not in AGGREGATES:
            err("agg", "汇总方式只能是累计、单笔最高或笔数")
        rule["agg"] = agg
        scope = raw.get("scope", "person")
        if scope not in SCOPES:
            err("scope", "统计范围只能是本人或家庭")
        rule["scope"] = scope
        if agg == "count":
            rule["threshold"] = rule["threshold"] and round(rule["threshold"])
    if kind == "share_of_income":
        income = raw.get("income") or []
        if not isinstance(income, list) or not income:
            err("income", "请选择收入数据类别")
            income = []
        for code_ in income:
            if not _known_category(code_) or "amount" not in category_columns(code_):
                err("income", f"「{str(code_)[:30]}」不是含金额的收入数据类别")
        rule["income"] = [str(c) for c in income]
    if kind in ("share_of_income", "change"):
        minimum = _number(raw.get("min_amount", 0))
        if minimum is None or minimum < 0:
            err("min_amount", "最低金额不能为负数")
        rule["min_amount"] = minimum or 0.0
    if kind == "change":
        compare = raw.get("compare")
        if compare not in COMPARES:
            err("compare", "比较方式只能是环比或同比")
        rule["compare"] = compare
        period = _int(raw.get("period_months", 3))
        if period is None or not 1 <= period <= 12:
            err("period_months", "比较周期应为1-12个月")
        rule["period_months"] = period
        if window not in (None, 0) and period is not None:
            pass  # the change compares two periods; the window is not used
    if kind in ("aggregate", "share_of_income", "exists", "earner_death") and window == 0 and kind != "exists":
        err("window_months", "该指标需要大于0的时间窗口")
    if kind == "exists":
        date_column = raw.get("date_column")
        if date_column is not None and (columns_of.get(date_column) or {}).get("type") != "date":
            err("date_column", f"「{str(date_column)[:30]}」不是该数据类别的日期字段")
        rule["date_column"] = date_column
        open_column = raw.get("open_column")
        if open_column is not None and (columns_of.get(open_column) or {}).get("type") != "date":
            err("open_column", f"「{str(open_column)[:30]}」不是该数据类别的日期字段")
        rule["open_column"] = open_column
    if kind in ("earner_death", "carers_absent", "living_alone"):
        min_age, max_age = _int(raw.get("min_age", 0)), _int(raw.get("max_age", 150))
        if min_age is None or not 0 <= min_age <= 120:
            err("min_age", "年龄应为0-120岁")
        if max_age is None or not 0 < max_age <= 150:
            err("max_age", "年龄应为1-150岁")
        if min_age is not None and max_age is not None and min_age >= max_age:
            err("max_age", "年龄上限必须大于下限")
        rule["min_age"], rule["max_age"] = min_age, max_age
        if kind == "earner_death" and rule["category"] not in (None, "deaths"):
            err("category", "主要劳动力死亡指标只使用死亡人员数据")
        if kind == "carers_absent" and rule["category"] not in (None, "imprisonment"):
            err("category", "事实无人抚养儿童指标使用服刑羁押人员数据（另加死亡人员数据）")
    return (None if errors else rule), errors


def validate(raw_rules: Any) -> list[dict[str, Any]]:
    """A whole rule set: every rule valid, codes unique, ≤ MAX_RULES; raises ValidationFailed."""
    from core.errors import ValidationFailed

    if not isinstance(raw_rules, list) or not raw_rules:
        raise ValidationFailed(errors={"rules": ["规则集至少需要一条规则"]})
    if len(raw_rules) > MAX_RULES:
        raise ValidationFailed(errors={"rules": [f"规则不能超过{MAX_RULES}条"]})
    errors: dict[str, list[str]] = {}
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_rules):
        code = raw.get("code") if isinstance(raw, dict) else None
        where = f"rules.{code}" if isinstance(code, str) and code.isascii() and len(code) <= 40 else f"rules.{i}"
        rule, errs = validate_rule(raw, where)
        errors.update(errs)
        if rule is not None:
            if rule["code"] in seen:
                errors.setdefault(f"{where}.code", []).append("规则代码重复")
            seen.add(rule["code"])
            out.append(rule)
    if errors:
        raise ValidationFailed("规则设置有误，请按提示修改", errors=errors)
    return out
