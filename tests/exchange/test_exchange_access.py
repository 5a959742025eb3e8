"""Who may look at department data: scope by region, purpose required, every look-up audited; the
error report never runs a formula; retention purges files and keeps the provenance."""

from __future__ import annotations

import csv
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from core import clock
from core.audit.models import AuditEntry
from core.database import commit, db
from core.errors import NotFound, ValidationFailed
from core.exchange import catalogue, ingest, lookups, reports, retention, store
from core.exchange.catalogue import DataLoad
from core.idnumber import make_id_number
from core.registry.models import Person
from tests.exchange import factory

JX_ID = make_id_number("360124", date(1950, 5, 5), 11)
NC_ID = make_id_number("360121", date(1951, 6, 6), 12)


@pytest.fixture
def world(ctx):
    jx = factory.department("jx-gongan", region="360124")
    nc = factory.department("nc-gongan", region="360121")
    province = factory.department("jx-province-hrss", kind="human_resources", region="36")
    db.session.add_all(
        [
            Person(id_number=JX_ID, name="张三", residence_township_code="360124100"),
            Person(id_number=NC_ID, name="李四", residence_township_code="360121100"),
        ]
    )
    for dept, cat, rows in (
        (
            jx,
            "deaths",
            [{"id_number": JX_ID, "death_date": "2026-03-01"}, {"id_number": NC_ID, "death_date": "2026-03-02"}],
        ),
        (
            nc,
            "deaths",
            [{"id_number": JX_ID, "death_date": "2026-03-03"}, {"id_number": NC_ID, "death_date": "2026-03-04"}],
        ),
        (province, "pensions", [{"id_number": JX_ID, "month": "2026-03", "amount": "100"}]),
    ):
        cl = factory.client(dept, [cat])
        ingest.ingest_rows(
            factory.department_actor(cl, dept),
            category=cat,
            rows=rows,
            batch_id="b1",
            department_id=dept.id,
            client_id=cl.id,
        )
    jx_officer = factory.officer("jxcounty", "county_officer", "360124")
    nc_officer = factory.officer("nccounty", "county_officer", "360121")
    commit()
    return {"jx": jx, "nc": nc, "province": province, "jx_officer": jx_officer, "nc_officer": nc_officer}


def test_a_county_officer_sees_own_and_higher_departments_for_own_people(world):
    found = lookups.person_records(world["jx_officer"], id_number=JX_ID, purpose="低保复核入户前核对")
    commit()
    by_cat = {r["category"].code: r["rows"] for r in found["results"]}
    # the county's own 公安 and the province's 人社; never 南昌县's 公安 (another county), even about this person
    assert [r["effective_date"] for r in by_cat["deaths"]] == [date(2026, 3, 1)]
    assert len(by_cat["pensions"]) == 1
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "exchange.person_lookup"))
    assert entry.detail["purpose"] == "低保复核入户前核对" and entry.actor_id == world["jx_officer"].id
    assert entry.detail["rows"] == 2


def test_an_officer_of_another_county_sees_nothing_of_this_countys_people(world):
    with pytest.raises(NotFound):
        lookups.person_records(world["nc_officer"], id_number=JX_ID, purpose="核对死亡信息")
    commit()  # the refusal is audited (keep_changes)
    refused = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "exchange.person_lookup_refused")).all()
    assert len(refused) == 1 and refused[0].actor_id == world["nc_officer"].id
    # its own person: its own department's data only (not 进贤县's 公安, not a province load it has none of)
    own = lookups.person_records(world["nc_officer"], id_number=NC_ID, purpose="核对死亡信息")
    assert [r["effective_date"] for r in own["results"][0]["rows"]] == [date(2026, 3, 4)]
    # the catalogue and the loads follow the same rule
    visible = {d.code for d in catalogue.visible_departments(world["nc_officer"])}
    assert visible == {"nc-gongan", "jx-province-hrss"}
    jx_load = db.session.scalar(select(DataLoad).where(DataLoad.department_id == world["jx"].id))
    with pytest.raises(NotFound):
        catalogue.get_load_for_officer(world["nc_officer"], jx_load.id)


def test_a_look_up_needs_a_purpose_and_a_role(world):
    with pytest.raises(ValidationFailed) as err:
        lookups.person_records(world["jx_officer"], id_number=JX_ID, purpose="  ")
    assert "purpose" in err.value.errors
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "exchange.person_lookup")) is None


def test_error_report_neutralizes_formulas(world):
    officer = factory.officer("jxdata", "data_officer", "360124")
    data = (
        "身份证号,姓名,死亡日期\n"
        "=cmd|' /C calc'!A0,张三,2026-03-01\n"
        f"{JX_ID},+SUM(A1:A2),2026-13-01\n"
        f"{JX_ID},@evil,-2+3\n"
    ).encode("gbk")
    load = ingest.start_file_load(
        officer,
        category="deaths",
        path=factory.temp_file(data),
        filename="x.csv",
        department_id=world["jx"].id,
        client_id=None,
        batch_id=None,
    )
    commit()
    db.session.refresh(load)
    assert load.rows_rejected == 3
    path, name, _ = reports.write_error_report(officer, load.id, "xlsx")
    sheet = load_workbook(path).active
    cells = [c.value for row in sheet.iter_rows() for c in row if c.value is not None]
    assert "'=cmd|' /C calc'!A0" in cells and "'-2+3" in cells
    assert not any(isinstance(v, str) and v.startswith(("=", "+", "-", "@")) for v in cells)
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    path, name, _ = reports.write_error_report(officer, load.id, "csv")
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["行号", "列", "原因", "原始内容"]
    assert [r[0] for r in rows[1:]] == ["2", "3", "4"]
    assert not any(v.startswith(("=", "+", "-", "@")) for r in rows for v in r)
    assert "身份证号码应为18位" in rows[1][2] and name.endswith(".csv")
    with pytest.raises(NotFound):  # another county's officer cannot download it
        reports.write_error_report(world["nc_officer"], load.id, "csv")


def test_retention_purges_files_and_keeps_the_provenance(world):
    load = db.session.scalar(select(DataLoad).where(DataLoad.department_id == world["jx"].id))
    directory, errors = load.storage_path, load.error_report_key
    assert store.load_files(directory)
    assert retention.purge_expired() == 0  # nothing is old yet
    clock.set_offset(timedelta(days=1096))  # deaths: 1,095 days
    assert store.current_paths("deaths") == []  # past retention, even before the purge ran
    count = retention.purge_expired()
    commit()
    assert count == 3  # both deaths loads (1,095 days) and the pension load (730 days)
    db.session.refresh(load)
    assert load.status == "purged" and load.rows_accepted == 2 and load.sha256
    assert not store.load_files(directory)
    import os

    assert not os.path.exists(errors)
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "exchange.load.purge")).all()
    assert {e.target_id for e in entries} >= {str(load.id)}


def test_an_officer_without_a_region_sees_nothing(world):
    from core.actor import Actor

    nowhere = Actor("officer", 999, ("county_officer",), None)
    assert catalogue.visible_departments(nowhere) == []
    assert all(r["freshness"].loads == 0 for r in catalogue.catalogue_rows(nowhere))
    with pytest.raises(NotFound):
        lookups.person_records(nowhere, id_number=JX_ID, purpose="核对死亡信息")
    load = db.session.scalar(select(DataLoad).limit(1))
    with pytest.raises(NotFound):
        catalogue.get_load_for_officer(nowhere, load.id)
