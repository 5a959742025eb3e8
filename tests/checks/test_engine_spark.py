"""The same anti-fraud expressions on DuckDB and on a local Spark give identical hits."""

from __future__ import annotations

import shutil
from datetime import date

import pyarrow as pa
import pytest

from core.bulk import antifraud, crosscheck
from tests.checks.parquet_fixtures import write
from tests.conftest import unavailable

pytestmark = pytest.mark.spark

IDS = [f"36012419800101{n:03d}{'X' if n % 7 == 0 else n % 10}" for n in range(1, 13)]


def _roster() -> pa.Table:
    n = len(IDS)
    return pa.table(
        {
            "person_id": list(range(1, n + 1)),
            "id_number": IDS,
            "name": ["王大明"] * n,
            "enrollment_id": list(range(101, 101 + n)),
            "household_id": list(range(201, 201 + n)),
            "township_code": ["360124100"] * n,
            "program": ["dibao"] * n,
            "start_date": [date(2026, 1, 1)] * n,
            "is_payee": [True] * n,
        },
        schema=antifraud.ROSTER_SCHEMA,
    )


def _sources(root: str) -> dict[str, list[str]]:
    a, b, c, d, e, f, g, h = IDS[:8]
    stranger = "110101199001011234"
    return {
        "deaths": [
            write(
                root,
                "deaths",
                [{"id_number": a, "death_date": "2026-03-05"}, {"id_number": stranger, "death_date": "2026-03-05"}],
                load_id=1,
            )
        ],
        "cremations": [
            write(
                root,
                "cremations",
                [{"id_number": a, "cremation_date": "2026-03-08"}, {"id_number": b, "cremation_date": "2026-04-01"}],
                load_id=2,
            )
        ],
        "pensions": [
            write(
                root,
                "pensions",
                [{"id_number": a, "month": f"2026-{m:02d}-01", "amount": "980.10"} for m in range(1, 7)],
                load_id=3,
            )
        ],
        "imprisonment": [
            write(
                root,
                "imprisonment",
                [
                    {"id_number": c, "status": "serving", "start_date": "2025-06-01", "end_date": "2028-01-01"},
                    {"id_number": d, "status": "released", "start_date": "2024-01-01", "end_date": "2025-01-01"},
                    {"id_number": d, "status": "detained", "start_date": "2026-10-01"},
                ],
                load_id=4,
            )
        ],
        "public_servants": [
            write(
                root,
                "public_servants",
                [
                    {
                        "id_number": e,
                        "employer": "某县某局",
                        "position": "科员",
                        "start_date": "2019-07-01",
                        "status": "serving",
                    },
                    {"id_number": f, "employer": "某乡政府", "start_date": "1990-01-01", "status": "retired"},
                ],
                load_id=5,
            )
        ],
        "vehicles": [
            write(
                root,
                "vehicles",
                [
                    {
                        "id_number": f,
                        "plate_no": "赣A1",
                        "vehicle_type": "car",
                        "registered_on": "2026-05-01",
                        "status": "normal",
                    },
                    {"id_number": f, "plate_no": "赣A2", "vehicle_type": "motorcycle", "registered_on": "2026-05-01"},
                ],
                load_id=6,
            )
        ],
        "property": [
            write(
                root,
                "property",
                [
                    {
                        "id_number": g,
                        "certificate_no": "赣(2026)进贤县不动产权第1号",
                        "area": "88.50",
                        "usage": "residential",
                        "registered_on": "2026-02-01",
                    },
                    {"id_number": g, "certificate_no": "旧证", "area": "60", "registered_on": "2010-01-01"},
                ],
                load_id=7,
            )
        ],
        "business_registration": [
            write(
                root,
                "business_registration",
                [
                    {
                        "id_number": h,
                        "enterprise_name": "某某商店",
                        "role": "owner",
                        "registered_capital": "5",
                        "established_on": "2022-01-01",
                        "status": "active",
                    },
                    {
                        "id_number": a,
                        "enterprise_name": "已注销公司",
                        "role": "legal_rep",
                        "established_on": "2015-01-01",
                        "status": "cancelled",
                    },
                ],
                load_id=8,
            )
        ],
    }


def _rows(table: pa.Table) -> list[tuple]:
    return [
        (
            r["person_id"],
            r["reason"],
            r["category"],
            r["load_id"],
            r["row_no"],
            r["effective_date"],
            r["ref"],
            r["info"],
            None if r["amount"] is None else round(r["amount"], 2),
        )
        for r in table.to_pylist()
    ]


def test_duckdb_and_spark_find_identical_hits(tmp_path):
    if shutil.which("java") is None:
        unavailable("java (openjdk-17-jre-headless) is not installed")
    src = _sources(str(tmp_path))
    roster = _roster()
    today = date(2026, 12, 1)
    on_duckdb = crosscheck.find_hits(src, roster, today=today, engine="duckdb")
    on_spark = crosscheck.find_hits(src, roster, today=today, engine="spark")
    assert _rows(on_duckdb) == _rows(on_spark)
    reasons = {(r[0], r[1]) for r in _rows(on_duckdb)}
    assert reasons == {
        (1, "deceased"),
        (2, "deceased"),
        (1, "pension_after_death"),
        (3, "imprisoned"),
        (4, "imprisoned"),
        (5, "public_servant"),
        (6, "new_vehicle"),
        (7, "new_property"),
        (8, "business_owner"),
    }
    # and the warnings they make are the same too
    hits_d = [(h.person_id, h.reason, h.fingerprint, h.values) for h in crosscheck.to_hits(on_duckdb, roster)]
    hits_s = [(h.person_id, h.reason, h.fingerprint, h.values) for h in crosscheck.to_hits(on_spark, roster)]
    assert hits_d == hits_s
