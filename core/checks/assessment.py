"""The assessment model (评估模型): household findings → a grade, with every reason traceable to the
department rows that caused it. The rules are data (``DEFAULT_MODEL``, overridden per province or county
in ``check_assessment_models``); this module only interprets them."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from core.database import db

LEVELS = {"green": 0, "yellow": 1, "red": 2}

DEFAULT_MODEL: dict[str, Any] = {
    "monthly_standard": 800,  # yuan per person and month, when the county set none (program settings)
    "income_months": 12,  # wages, pensions: the average over the last N months of data
    "income_tolerance": 0.2,  # found income above the declared by more than this share of the standard: 黄
    "limits": {
        "vehicles": 0,  # cars and trucks (motorcycles do not count)
        "property_count": 1,  # residential properties
        "property_area_per_capita": 45,  # m² per member
        "deposits_months_of_standard": 24,  # deposits per member above N months of the standard: 红
        "provident_fund_per_capita": 30000,  # yuan per member
    },
    "exclusions": {
        "public_servant": "red",  # a member serving as a public servant
        "business_capital_wan": 10,  # a business registered above this capital (万元): 红; below: 黄
        "imprisoned": "yellow",  # a member in prison: the household composition changes
        "deceased": "yellow",
    },
    "stale_source": "yellow",  # a source used by the grade is older than its refresh period
}

INCOME_CATEGORIES = ("wages", "pensions", "unemployment")
CATEGORIES = (
    "deaths",
    "imprisonment",
    "community_corrections",
    "vehicles",
    "property",
    "pensions",
    "wages",
    "unemployment",
    "medical_costs",
    "business_registration",
    "public_servants",
    "provident_fund",
    "disability_certificates",
    "education_costs",
    "deposits",
)


def merged(base: Mapping[str, Any], override: Mapping[str, Any] | None) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for key, value in (override or {}).items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def model_for(county_code: str) -> tuple[str, int, dict[str, Any]]:
    """(region it comes from, version, rules): the county's, else its province's, else the default."""
    from core.checks.models import AssessmentModel

    rows = {
        m.region_code: m
        for m in db.session.scalars(
            select(AssessmentModel).where(AssessmentModel.region_code.in_([county_code[:2], county_code]))
        )
    }
    config = dict(DEFAULT_MODEL)
    region, version = "default", 0
    for code in (county_code[:2], county_code):
        if code in rows:
            config = merged(config, rows[code].config)
            region, version = code, rows[code].version
    return region, version, config


def _ref(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"category": row["category"], "load_id": row["load_id"], "row_no": row["row_no"], "member": row["member"]}


def _num(value: Any) -> float:
    if value is None:
        return 0.0
    return float(Decimal(str(value)))


def _recent(rows: list[dict[str, Any]], months: int, today: date) -> list[dict[str, Any]]:
    y, m = today.year, today.month - months
    while m <= 0:
        y, m = y - 1, m + 12
    since = date(y, m, 1)
    return [r for r in rows if r["effective_date"] and date.fromisoformat(r["effective_date"]) >= since]


def assess(
    *,
    rows: list[dict[str, Any]],
    members: int,
    declared_monthly_income: float,
    declared_assets: list[dict[str, Any]],
    standard: float | None,
    model: Mapping[str, Any],
    freshness: list[dict[str, Any]],
    today: date,
) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """(grade, reasons, figures). ``rows``: department rows found for the members, each with its
    ``category``, ``member`` (position), ``load_id``, ``row_no``, ``effective_date`` and fields."""
    members = max(int(members or 1), 1)
    standard = float(standard if standard is not None else model["monthly_standard"])
    limits, exclusions = model["limits"], model["exclusions"]
    reasons: list[dict[str, Any]] = []

    def reason(code: str, level: str, text: str, evidence: list[dict[str, Any]]) -> None:
        reasons.append({"code": code, "level": level, "text": text, "rows": [_ref(r) for r in evidence]})

    by_cat: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_cat.setdefault(r["category"], []).append(r)

    # income: the average month of the last N months' wages and pensions, plus unemployment benefit
    months = int(model["income_months"])
    income_rows: list[dict[str, Any]] = []
    found = 0.0
    for category in ("wages", "pensions"):
        recent = _recent(by_cat.get(category, []), months, today)
        income_rows += recent
        found += sum(_num(r.get("amount")) for r in recent) / months
    for r in by_cat.get("unemployment", []):
        if r.get("status") == "registered" and r.get("benefit_amount") is not None:
            income_rows.append(r)
            found += _num(r.get("benefit_amount"))
    per_capita_found = round(found / members, 2)
    per_capita_declared = round(float(declared_monthly_income) / members, 2)
    if per_capita_found >= standard and income_rows:
        reason(
            "income_above_standard",
            "red",
            f"核对到的家庭月人均收入{per_capita_found:.2f}元，不低于当地低保标准{standard:.2f}元",
            income_rows,
        )
    elif per_capita_found - per_capita_declared > float(model["income_tolerance"]) * standard and income_rows:
        reason(
            "income_above_declared",
            "yellow",
            f"核对到的家庭月人均收入{per_capita_found:.2f}元，高于申报的{per_capita_declared:.2f}元",
            income_rows,
        )

    cars = [
        r
        for r in by_cat.get("vehicles", [])
        if r.get("vehicle_type") != "motorcycle" and r.get("status") in (None, "normal")
    ]
    if len(cars) > int(limits["vehicles"]):
        reason("vehicles", "red", f"家庭成员名下有机动车{len(cars)}辆（限额{limits['vehicles']}辆）", cars)
    homes = [r for r in by_cat.get("property", []) if r.get("usage") in (None, "residential")]
    if len(homes) > int(limits["property_count"]):
        reason("property_count", "red", f"家庭成员名下有住房{len(homes)}处（限额{limits['property_count']}处）", homes)
    area = sum(_num(r.get("area")) for r in homes)
    if homes and area / members > float(limits["property_area_per_capita"]):
        reason(
            "property_area",
            "red",
            f"人均住房面积{area / members:.1f}平方米，超过{limits['property_area_per_capita']}平方米",
            homes,
        )
    others = [r for r in by_cat.get("property", []) if r.get("usage") not in (None, "residential")]
    if others:
        reason("property_other", "yellow", f"家庭成员名下有非住宅不动产{len(others)}处", others)

    latest_deposits: dict[tuple[int, str], dict[str, Any]] = {}
    for r in by_cat.get("deposits", []):
        key = (r["member"], r.get("bank_name") or "")
        if key not in latest_deposits or (r["effective_date"] or "") > (latest_deposits[key]["effective_date"] or ""):
            latest_deposits[key] = r
    deposits = sum(_num(r.get("balance")) for r in latest_deposits.values())
    deposit_limit = float(limits["deposits_months_of_standard"]) * standard
    if latest_deposits and deposits / members > deposit_limit:
        reason(
            "deposits",
            "red",
            f"人均存款{deposits / members:.2f}元，超过{deposit_limit:.2f}元"
            f"（{limits['deposits_months_of_standard']}个月低保标准）",
            list(latest_deposits.values()),
        )
    latest_fund: dict[int, dict[str, Any]] = {}
    for r in by_cat.get("provident_fund", []):
        if r["member"] not in latest_fund or (r["effective_date"] or "") > (
            latest_fund[r["member"]]["effective_date"] or ""
        ):
            latest_fund[r["member"]] = r
    fund = sum(_num(r.get("balance")) for r in latest_fund.values())
    if latest_fund and fund / members > float(limits["provident_fund_per_capita"]):
        reason(
            "provident_fund",
            "red",
            f"人均公积金余额{fund / members:.2f}元，超过{limits['provident_fund_per_capita']}元",
            list(latest_fund.values()),
        )

    servants = [r for r in by_cat.get("public_servants", []) if r.get("status") in (None, "serving")]
    if servants and exclusions.get("public_servant"):
        reason("public_servant", exclusions["public_servant"], f"家庭成员中有在职公职人员{len(servants)}人", servants)
    business = [r for r in by_cat.get("business_registration", []) if r.get("status") in (None, "active")]
    big = [r for r in business if _num(r.get("registered_capital")) > float(exclusions["business_capital_wan"])]
    if big:
        reason("business_owner", "red", f"家庭成员登记的企业注册资本超过{exclusions['business_capital_wan']}万元", big)
    elif business:
        reason("business_small", "yellow", f"家庭成员登记经营个体户或企业{len(business)}户", business)
    jailed = [r for r in by_cat.get("imprisonment", []) if r.get("status") in ("serving", "detained")]
    if jailed and exclusions.get("imprisoned"):
        reason("imprisoned", exclusions["imprisoned"], "家庭成员处于服刑或羁押状态，家庭人口需核实", jailed)
    dead = by_cat.get("deaths", [])
    if dead and exclusions.get("deceased"):
        reason("deceased", exclusions["deceased"], "家庭成员有死亡登记，家庭人口需核实", dead)

    used = {r["category"] for reason_ in reasons for r in reason_["rows"]} | set(INCOME_CATEGORIES)
    for f in freshness:
        if f.get("available") and f.get("stale") and f["category"] in used and model.get("stale_source"):
            reasons.append(
                {
                    "code": "stale_source",
                    "level": model["stale_source"],
                    "text": f"{f['name']}数据超过更新周期（最新{f.get('latest_effective_date') or '无'}），"
                    "结论需结合入户核实",
                    "rows": [],
                }
            )
    grade = max((r["level"] for r in reasons), key=lambda lv: LEVELS[lv], default="green")
    figures = {
        "members": members,
        "monthly_standard": standard,
        "income_found_per_capita": per_capita_found,
        "income_declared_per_capita": per_capita_declared,
        "vehicles": len(cars),
        "homes": len(homes),
        "home_area": round(area, 2),
        "deposits": round(deposits, 2),
        "provident_fund": round(fund, 2),
        "declared_assets": len(declared_assets),
    }
    return grade, reasons, figures
