"""Regions: the picker API, and the import of the national division codes."""

from __future__ import annotations

import shutil

import pytest

from core.database import db
from core.regions import services as regions
from tests.conftest import SHARED, unavailable

REGIONS_DIR = SHARED / "data" / "regions"


def test_top_level_lists_provinces(client):
    resp = client.get("/api/v1/regions")
    assert resp.status_code == 200
    codes = {r["code"] for r in resp.get_json()}
    assert "36" in codes
    assert all(r["level"] == "province" for r in resp.get_json())


def test_children_of_a_county(client):
    resp = client.get("/api/v1/regions?parent=360124")
    assert resp.status_code == 200
    townships = resp.get_json()
    assert {"code": "360124100", "name": "民和镇", "level": "township", "parent_code": "360124"} in townships
    assert len(townships) == 23
    assert [t["code"] for t in townships] == sorted(t["code"] for t in townships)


def test_detail_with_ancestors(client):
    resp = client.get("/api/v1/regions/360124100001")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["name"] == "岚湖社区居委会" and body["level"] == "village"
    assert [a["name"] for a in body["ancestors"]] == ["江西省", "南昌市", "进贤县", "民和镇"]


def test_unknown_code_is_404_in_chinese(client):
    for url in ("/api/v1/regions/999999", "/api/v1/regions?parent=999999"):
        resp = client.get(url)
        assert resp.status_code == 404
        assert resp.get_json()["message"] == "未找到行政区划代码 999999"


def test_bad_parent_is_422(client):
    resp = client.get("/api/v1/regions?parent=abc")
    assert resp.status_code == 422
    assert resp.get_json()["errors"]["parent"] == ["行政区划代码应为2-12位数字"]


def test_search_by_name(client):
    resp = client.get("/api/v1/regions?q=李渡")
    assert resp.status_code == 200
    assert resp.get_json()[0]["code"] == "360124101"
    assert client.get("/api/v1/regions?q=李渡&level=village").get_json() == []
    assert client.get("/api/v1/regions?q=%25").get_json() == []  # LIKE wildcards are escaped


def _need_shared():
    if not (REGIONS_DIR / "townships.csv").exists():
        unavailable(f"{REGIONS_DIR} is absent: the real division codes are not on this machine")


def test_import_matches_csv_counts_and_is_idempotent(app, tmp_path):
    _need_shared()
    for name in ("provinces.csv", "cities.csv", "counties.csv", "townships.csv"):
        shutil.copy(REGIONS_DIR / name, tmp_path / name)
    # a slice of the villages file keeps this test fast; the full file uses the same code path
    with (
        (REGIONS_DIR / "villages.csv").open(encoding="utf-8") as src,
        (tmp_path / "villages.csv").open("w", encoding="utf-8") as dst,
    ):
        for n, line in enumerate(src):
            if n > 2000:
                break
            dst.write(line)
    expected = regions.count_csv_rows(tmp_path, with_villages=True)
    with app.app_context():
        first = regions.import_directory(tmp_path, with_villages=True)
        db.session.commit()
        counts = regions.count_by_level()
        for level in ("province", "city", "county", "township"):
            assert counts[level] == expected[level], level
            assert first[level]["read"] == expected[level]
        assert counts["village"] >= expected["village"]  # plus the demo villages outside the slice
        again = regions.import_directory(tmp_path, with_villages=True)
        db.session.commit()
        assert all(result["written"] == 0 for result in again.values()), again
        assert regions.count_by_level() == counts
        # A renamed township is updated, nothing else is touched.
        text = (
            (tmp_path / "townships.csv")
            .read_text(encoding="utf-8")
            .replace("360124100,民和镇,", "360124100,民和镇（改）,")
        )
        (tmp_path / "townships.csv").write_text(text, encoding="utf-8")
        changed = regions.import_directory(tmp_path)
        db.session.commit()
        assert changed["township"]["written"] == 1
        assert regions.get_region("360124100").name == "民和镇（改）"
        regions.load_demo_regions()
        db.session.commit()
        db.session.remove()


def test_import_cli(app, tmp_path):
    _need_shared()
    for name in ("provinces.csv", "cities.csv"):
        shutil.copy(REGIONS_DIR / name, tmp_path / name)
    (tmp_path / "counties.csv").write_text("code,name,city_code,province_code\n", encoding="utf-8")
    (tmp_path / "townships.csv").write_text("code,name,county_code,city_code,province_code\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["regions", "import", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "province: read 31" in result.output
    assert "city: read 342" in result.output


def test_import_rejects_bad_rows(app, tmp_path):
    (tmp_path / "provinces.csv").write_text("code,name\n3X,坏数据\n", encoding="utf-8")
    with app.app_context(), pytest.raises(ValueError, match=r"provinces\.csv:2"):
        regions.import_directory(tmp_path)
