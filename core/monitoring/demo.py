"""Demo monitoring data (``make run``): the demo county's roster from its register, then synthetic
department loads that trigger each of the four scenarios at least once, evaluated as after any load.
Idempotent: nothing is done when the demo departments exist."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from core import clock, idnumber
from core.actor import SYSTEM
from core.exchange import ingest
from core.exchange.models import Department
from core.monitoring import evaluation, roster
from core.monitoring.engine import months_before

DEMO_DEPARTMENT = "demo-monitoring-platform"


def _households(members: list[dict[str, Any]], today: date) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for m in members:
        m["age"] = idnumber.age_on(m["id_number"], today)
        out[m["household_key"]].append(m)
    return out


def load(county: str, say: Callable[[str], None] | None = None) -> str | None:
    """Roster + one load per category that makes warnings in each scenario; returns what was done."""
    say = say or (lambda _text: None)
    from core.database import db

    if db.session.scalar(select(Department.id).where(Department.code == DEMO_DEPARTMENT)) is not None:
        return None
    today = clock.local_today()
    say("monitoring: roster of the low-income population")
    roster.rebuild(SYSTEM, county=county)
    members = roster.snapshot(today, counties=[county]).to_pylist()
    households = sorted(_households(members, today).values(), key=lambda hh: hh[0]["household_key"])
    if not households:
        return None
    with_child = [hh for hh in households if any(m["age"] < 18 for m in hh) and any(m["age"] >= 18 for m in hh)]
    with_earner = [hh for hh in households if len(hh) >= 2 and any(18 <= m["age"] < 60 for m in hh)]
    adults = [m for hh in households for m in hh if 18 <= m["age"] < 60]
    department = Department(
        code=DEMO_DEPARTMENT, name="进贤县大数据共享平台（演示）", kind="data_platform", region_code=county
    )
    db.session.add(department)
    db.session.flush()
    loads: dict[str, list[dict[str, Any]]] = defaultdict(list)
    # 特殊群体: a child whose parents are in prison; three newly disabled persons (grade 1-2)
    for hh in with_child[:2]:
        for m in hh:
            if m["age"] >= 18:
                loads["imprisonment"].append(
                    {
                        "id_number": m["id_number"],
                        "name": m["name"],
                        "status": "服刑",
                        "start_date": str(today - timedelta(days=90)),
                        "facility": "江西省南昌监狱",
                    }
                )
    for m in adults[5:8]:
        loads["disability_certificates"].append(
            {
                "id_number": m["id_number"],
                "name": m["name"],
                "disability_type": "肢体",
                "grade": "一级",
                "issued_on": str(today - timedelta(days=20)),
            }
        )
    # 刚性支出: families whose out-of-pocket medical costs exploded; heavy education costs
    for n, hh in enumerate(households[10:14]):
        for k, m in enumerate(hh[:2]):
            loads["medical_costs"].append(
                {
                    "id_number": m["id_number"],
                    "name": m["name"],
                    "settled_on": str(today - timedelta(days=30 + 40 * k)),
                    "hospital": "南昌大学第一附属医院",
                    "total_cost": str(60000 + 5000 * n),
                    "out_of_pocket": "21000",
                }
            )
    for m in [m for hh in households[20:40] for m in hh if 6 <= m["age"] < 23][:2]:
        loads["education_costs"].append(
            {
                "id_number": m["id_number"],
                "name": m["name"],
                "school": "南昌职业大学",
                "term_start": str(today - timedelta(days=60)),
                "tuition": "6500",
                "accommodation": "1800",
            }
        )
    # 收入骤减: wages fallen by more than half this quarter; newly registered unemployed
    for m in adults[12:15]:
        for back in range(1, 7):
            month = months_before(today, back).replace(day=1)
            loads["wages"].append(
                {
                    "id_number": m["id_number"],
                    "name": m["name"],
                    "employer": "进贤县某纺织有限公司",
                    "month": str(month),
                    "amount": "3200" if back > 3 else "600",
                }
            )
    for m in adults[16:18]:
        loads["unemployment"].append(
            {
                "id_number": m["id_number"],
                "name": m["name"],
                "registered_on": str(today - timedelta(days=15)),
                "status": "登记失业",
                "benefit_amount": "1380",
            }
        )
    # 突发事件: the main earner of a household died last month
    for hh in with_earner[30:32]:
        earner = next(m for m in hh if 18 <= m["age"] < 60)
        loads["deaths"].append(
            {
                "id_number": earner["id_number"],
                "name": earner["name"],
                "death_date": str(today - timedelta(days=25)),
                "place": "进贤县人民医院",
            }
        )
    created = 0
    for category, rows in loads.items():
        if not rows:
            continue
        say(f"monitoring: department load {category} ({len(rows)} rows)")
        batch = ingest.ingest_rows(
            SYSTEM,
            category=category,
            rows=rows,
            batch_id=f"demo-{category}",
            department_id=department.id,
            client_id=None,
        )
        run = evaluation.run_load(batch.id)
        created += run.created if run else 0
    rows = sum(map(len, loads.values()))
    return f"monitoring: {len(members):,} persons monitored, {rows} department rows, {created} warnings"
