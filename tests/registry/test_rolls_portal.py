"""Payment rolls in the portal: a county officer drafts and submits, another locks (two-person rule, stale
forms), township officers read their own township's lines only, another county gets 404; exports (Excel
with subtotals and a grand total that reconciles, the bank file of a locked roll only, in full, UTF-8 with
BOM or GBK), all audited."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.database import db
from core.registry import rolls
from core.registry.models import PaymentRoll
from tests.helpers import csrf_token
from tests.portal.test_workflow import _officer
from tests.registry.rolls_helpers import COUNTY, LIDU, MINHE, enrollments_in_county

ACCOUNT = "6217001234567890123"  # the factory's account number


@pytest.fixture(autouse=True)
def _long_sessions(app, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_IDLE_TIMEOUT_MINUTES", 60 * 24)
    monkeypatch.setitem(app.config, "PORTAL_SESSION_ABSOLUTE_HOURS", 24)


def _post(client, page_url: str, action_url: str, **data):
    page = client.get(page_url).get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', page)
    form = {"csrf_token": csrf_token(page), **data}
    if version and "version" not in data:
        form["version"] = version.group(1)
    return client.post(action_url, data=form)


def _draft(client, month: str = "2026-12") -> int:
    resp = _post(client, "/portal/rolls", "/portal/rolls/draft", month=month)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return int(resp.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def _roll(app, roll_id: int) -> PaymentRoll:
    with app.app_context():
        roll = db.session.get(PaymentRoll, roll_id)
        db.session.expunge(roll)
        db.session.remove()
    return roll


def _locked_roll(app) -> tuple[object, object, int]:
    enrollments_in_county(app)
    a = _officer(app, "portal_roll_a", region=COUNTY, role="county_officer")
    b = _officer(app, "portal_roll_b", region=COUNTY, role="county_officer")
    roll_id = _draft(a)
    url = f"/portal/rolls/{roll_id}"
    assert _post(a, url, f"{url}/submit").status_code == 302
    assert _post(b, url, f"{url}/lock").status_code == 302
    return a, b, roll_id


def test_county_drafts_submits_and_another_officer_locks(client, app, monkeypatch):
    enrollments_in_county(app)
    a = _officer(app, "portal_roll_a", region=COUNTY, role="county_officer")
    b = _officer(app, "portal_roll_b", region=COUNTY, role="county_officer")
    index = a.get("/portal/rolls").get_data(as_text=True)
    assert "生成草稿" in index and "暂无发放名册" in index and 'data-testid="nav-rolls"' in index
    bad = _post(a, "/portal/rolls", "/portal/rolls/draft", month="2026-13")
    assert bad.status_code == 422 and "月份格式如 2027-01" in bad.get_data(as_text=True)
    roll_id = _draft(a)
    url = f"/portal/rolls/{roll_id}"
    page = a.get(url).get_data(as_text=True)
    assert "已生成2026-12发放名册草稿：3条，合计2035.75元" in page
    assert "草稿" in page and "2035.75 元" in page
    assert "民和镇" in page and "李渡镇" in page and "重新生成" in page and "提交审核" in page
    assert "****0123" in page and ACCOUNT not in page  # masked in the portal
    assert "导出银行文件" not in page  # only for a locked roll
    # filters and pagination
    only = a.get(f"{url}?township={LIDU}").get_data(as_text=True)
    assert "李小花" in only and "王大明" not in only and "共 1 条" in only
    monkeypatch.setitem(app.config, "PORTAL_PAGE_SIZE", 2)
    first, second = a.get(url).get_data(as_text=True), a.get(f"{url}?page=2").get_data(as_text=True)
    assert first.count('data-testid="roll-line"') == 2 and second.count('data-testid="roll-line"') == 1
    assert "第 2 / 2 页" in second
    assert a.get(f"{url}?change=new").get_data(as_text=True).count('data-testid="roll-line"') == 0
    monkeypatch.setitem(app.config, "PORTAL_PAGE_SIZE", 50)
    # re-draft keeps one roll
    assert _post(a, url, f"{url}/redraft").status_code == 302
    assert "已重新生成草稿" in a.get(url).get_data(as_text=True)
    # a stale form: the page was read before the re-draft
    stale_page = a.get(url).get_data(as_text=True)
    stale_version = re.search(r'name="version" value="(\d+)"', stale_page).group(1)
    assert _post(b, url, f"{url}/redraft").status_code == 302
    stale = a.post(f"{url}/submit", data={"csrf_token": csrf_token(stale_page), "version": stale_version})
    assert stale.status_code == 409 and "已被他人修改" in stale.get_data(as_text=True)
    # A submits; A cannot lock (two-person rule, and B re-drafted it: B cannot lock either)
    assert _post(a, url, f"{url}/submit").status_code == 302
    assert "已提交审核" in a.get(url).get_data(as_text=True)
    own = _post(a, url, f"{url}/lock")
    assert own.status_code == 403 and "双人复核" in own.get_data(as_text=True)
    assert _post(b, url, f"{url}/lock").status_code == 403
    c = _officer(app, "portal_roll_c", region=COUNTY, role="county_officer")
    assert _post(c, url, f"{url}/lock").status_code == 302
    locked = c.get(url).get_data(as_text=True)
    assert "已审核锁定" in locked and "已锁定" in locked and "导出银行文件" in locked
    assert "重新生成" not in locked and "审核锁定</button>" not in locked
    # a locked roll: no route changes it
    for action in ("redraft", "submit", "lock", "reopen"):
        resp = c.post(f"{url}/{action}", data={"csrf_token": csrf_token(locked), "reason": "改一下"})
        assert resp.status_code == 409, action
    again = _post(a, "/portal/rolls", "/portal/rolls/draft", month="2026-12")
    assert again.status_code == 409 and "不能重新生成" in again.get_data(as_text=True)
    listing = c.get("/portal/rolls").get_data(as_text=True)
    assert "2026-12" in listing and "已锁定" in listing and "2,035.75" in listing
    roll = _roll(app, roll_id)
    assert roll.status == "locked" and roll.total_amount == Decimal("2035.75")


def test_without_csrf_token_nothing_happens(client, app):
    enrollments_in_county(app)
    a = _officer(app, "portal_roll_a", region=COUNTY, role="county_officer")
    assert a.post("/portal/rolls/draft", data={"month": "2026-12"}).status_code == 400
    with app.app_context():
        assert db.session.scalar(select(PaymentRoll)) is None


def test_township_reads_its_own_lines_and_cannot_act_other_county_404(client, app):
    enrollments_in_county(app)
    a = _officer(app, "portal_roll_a", region=COUNTY, role="county_officer")
    roll_id = _draft(a)
    url = f"/portal/rolls/{roll_id}"
    township = _officer(app, "portal_roll_town", region=MINHE)
    assert "2026-12" in township.get("/portal/rolls").get_data(as_text=True)
    page = township.get(url)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "仅显示本乡镇（街道）的名册明细" in text
    assert "王大明" in text and "李小花" not in text and "共 2 条" in text
    assert (
        "提交审核</button>" not in text
        and "导出Excel" not in text
        and "生成草稿" not in township.get("/portal/rolls").get_data(as_text=True)
    )
    for action in ("redraft", "submit", "lock"):
        denied = township.post(f"{url}/{action}", data={"csrf_token": csrf_token(text)})
        assert denied.status_code == 403 and "县级民政部门" in denied.get_data(as_text=True)
    assert township.get(f"{url}/export.xlsx").status_code == 403
    assert township.get(f"{url}/bank.csv").status_code == 403
    draft = township.post("/portal/rolls/draft", data={"csrf_token": csrf_token(text), "month": "2027-01"})
    assert draft.status_code == 403
    other = _officer(app, "portal_roll_other", region="360121", role="county_officer")
    assert other.get(url).status_code == 404
    assert other.get(f"{url}/export.xlsx").status_code == 404
    assert other.get(f"{url}/bank.csv").status_code == 404
    other_page = other.get("/portal/rolls").get_data(as_text=True)
    assert "暂无发放名册" in other_page
    assert other.post(f"{url}/submit", data={"csrf_token": csrf_token(other_page)}).status_code == 404
    other_town = _officer(app, "portal_roll_other_town", region="360121100")
    assert other_town.get(url).status_code == 404
    assert _roll(app, roll_id).status == "draft"


def test_excel_export_groups_by_township_and_reconciles(client, app):
    ids = enrollments_in_county(app)
    a = _officer(app, "portal_roll_a", region=COUNTY, role="county_officer")
    roll_id = _draft(a)
    resp = a.get(f"/portal/rolls/{roll_id}/export.xlsx")
    assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
    assert "filename*=UTF-8''" in resp.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(resp.data)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert "进贤县2026年12月社会救助资金发放名册（草稿）" in rows[0][0]
    header = rows[1]
    assert header[:5] == ["序号", "乡镇（街道）", "村（社区）", "救助项目", "户主/对象"]
    assert "本月发放金额（元）" in header and "变动情况" in header
    assert sheet.freeze_panes == "A3"
    assert sheet.column_dimensions["B"].width >= 14
    amount_col = header.index("本月发放金额（元）")
    body = rows[2:]
    labels = [r[1] for r in body]
    # 民和镇: two lines then its subtotal, 李渡镇: one line then its subtotal, then the grand total
    assert labels == ["民和镇", "民和镇", "民和镇 小计", "李渡镇", "李渡镇 小计", "合计"]
    minhe_sub, lidu_sub, grand = body[2], body[4], body[5]
    assert Decimal(str(minhe_sub[amount_col])) == Decimal("1555.50")
    assert Decimal(str(lidu_sub[amount_col])) == Decimal("480.25")
    roll = _roll(app, roll_id)
    assert Decimal(str(grand[amount_col])).quantize(Decimal("0.01")) == roll.total_amount == Decimal("2035.75")
    assert grand[8] == "3户（人）"
    data_rows = [r for r in body if isinstance(r[0], int)]
    assert [r[0] for r in data_rows] == [1, 2, 3]
    assert {r[-1] for r in data_rows} == {"无变化"} and {r[3] for r in data_rows} == {"最低生活保障"}
    assert all(r[8] == "****0123" for r in data_rows)  # masked in the Excel
    cell = sheet.cell(row=3, column=amount_col + 1)
    assert cell.number_format == "#,##0.00" and isinstance(cell.value, (int, float))
    assert ids  # the roll lists the county's enrollments only (the other county's is not in it)
    assert "700" not in {str(r[amount_col]) for r in body}
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "payment_roll.export_excel"))
        assert entry is not None and entry.target_id == str(roll_id) and entry.detail["lines"] == 3


def test_bank_file_only_for_a_locked_roll_in_full_and_reconciles(client, app):
    enrollments_in_county(app)
    a = _officer(app, "portal_roll_a", region=COUNTY, role="county_officer")
    draft_id = _draft(a)
    refused = a.get(f"/portal/rolls/{draft_id}/bank.csv")
    assert refused.status_code == 409 and "审核锁定后才能导出" in refused.get_data(as_text=True)
    b = _officer(app, "portal_roll_b", region=COUNTY, role="county_officer")
    url = f"/portal/rolls/{draft_id}"
    assert _post(a, url, f"{url}/submit").status_code == 302
    assert _post(b, url, f"{url}/lock").status_code == 302
    resp = b.get(f"{url}/bank.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert resp.data.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM (Excel opens it in Chinese)
    rows = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert rows[0] == ["序号", "收款人姓名", "开户银行", "银行账号", "金额（元）"]
    assert {r[1] for r in rows[1:]} == {"王大明", "张小红", "李小花"}
    assert all(r[3] == ACCOUNT for r in rows[1:])  # in full, decrypted
    assert all(r[2] == "中国农业银行进贤支行" for r in rows[1:])
    total = sum((Decimal(r[4]) for r in rows[1:]), Decimal("0"))
    assert total == _roll(app, draft_id).total_amount == Decimal("2035.75")
    gbk = b.get(f"{url}/bank.csv?encoding=gbk")
    assert gbk.status_code == 200 and not gbk.data.startswith(b"\xef\xbb\xbf")
    assert "王大明" in gbk.data.decode("gbk") and "charset=gbk" in gbk.headers["Content-Type"]
    assert b.get(f"{url}/bank.csv?encoding=latin-1").status_code == 422
    with app.app_context():
        entries = list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == "payment_roll.export_bank")))
        assert len(entries) == 2 and {e.detail["encoding"] for e in entries} == {"utf-8-sig", "gbk"}
        assert all(e.detail["rows"] == 3 and e.detail["total"] == "2035.75" for e in entries)
        assert all(ACCOUNT not in str(e.detail) for e in entries)


def test_reconciliation_across_a_larger_roll(client, app):
    """Many enrollments with odd cents: the roll total, the Excel grand total and the bank file sum all equal
    the sum of the enrollments paid that month (Decimal throughout)."""
    from tests.registry.factory import make_enrollment

    expected = Decimal("0")
    with app.app_context():
        for n in range(40):
            amount = Decimal("123.45") + Decimal(n) * Decimal("7.33")
            township = MINHE if n % 3 else LIDU
            make_enrollment(seq=700 + n, township=township, village=None, amount=f"{amount:.2f}", members=1)
            expected += amount
        db.session.remove()
    a, b, roll_id = None, None, None
    a = _officer(app, "portal_roll_a", region=COUNTY, role="county_officer")
    b = _officer(app, "portal_roll_b", region=COUNTY, role="county_officer")
    roll_id = _draft(a)
    url = f"/portal/rolls/{roll_id}"
    assert _post(a, url, f"{url}/submit").status_code == 302
    assert _post(b, url, f"{url}/lock").status_code == 302
    roll = _roll(app, roll_id)
    with app.app_context():
        assert roll.total_amount == expected == rolls.paid_total(COUNTY, "2026-12")
    sheet = load_workbook(io.BytesIO(b.get(f"{url}/export.xlsx").data)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    amount_col = rows[1].index("本月发放金额（元）")
    grand = next(r for r in rows if r[1] == "合计")
    assert Decimal(str(grand[amount_col])).quantize(Decimal("0.01")) == expected
    subtotals = [Decimal(str(r[amount_col])) for r in rows if isinstance(r[1], str) and r[1].endswith("小计")]
    assert sum(subtotals, Decimal("0")).quantize(Decimal("0.01")) == expected
    bank = list(csv.reader(io.StringIO(b.get(f"{url}/bank.csv").data.decode("utf-8-sig"))))
    assert len(bank) == 41 and sum((Decimal(r[4]) for r in bank[1:]), Decimal("0")) == expected


def test_gbk_bank_file_names_what_it_cannot_encode(client, app):
    from tests.registry.factory import make_enrollment

    with app.app_context():
        make_enrollment(seq=800, township=MINHE, village=None, amount="500.00", head_name="王𠀀")
        db.session.remove()
    a = _officer(app, "portal_roll_a", region=COUNTY, role="county_officer")
    b = _officer(app, "portal_roll_b", region=COUNTY, role="county_officer")
    roll_id = _draft(a)
    url = f"/portal/rolls/{roll_id}"
    assert _post(a, url, f"{url}/submit").status_code == 302
    assert _post(b, url, f"{url}/lock").status_code == 302
    refused = b.get(f"{url}/bank.csv?encoding=gbk")
    assert refused.status_code == 422 and "𠀀" in refused.get_data(as_text=True)
    utf8 = b.get(f"{url}/bank.csv")
    assert utf8.status_code == 200 and "王𠀀" in utf8.data.decode("utf-8-sig")
