"""Payment roll exports: the formatted Excel roll (by township, with subtotals and a grand total) and the
bank batch file (CSV: payee, bank, full account number, amount) — the latter only for a locked roll.

Every export is audited. Amounts are Decimal from the database to the cell (two decimals); the Excel
shows account numbers masked (last four), the bank file in full (decrypted from the enrollment).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from core import clock, crypto
from core.actor import Actor
from core.applications.programs import program_label
from core.audit import services as audit
from core.database import db
from core.errors import Conflict, ValidationFailed
from core.regions.services import names_for
from core.registry.models import ROLL_CHANGES, ROLL_STATUSES, Enrollment, PaymentRoll, PaymentRollLine
from core.registry.rolls import require_county

HEADERS = [
    "序号",
    "乡镇（街道）",
    "村（社区）",
    "救助项目",
    "户主/对象",
    "编号",
    "保障人数",
    "开户银行",
    "银行账号",
    "本月发放金额（元）",
    "上月金额（元）",
    "变动情况",
]
WIDTHS = [7, 16, 18, 14, 12, 20, 9, 24, 16, 16, 14, 10]
AMOUNT_COLUMNS = (10, 11)  # 1-based
MONEY_FORMAT = "#,##0.00"
BANK_HEADERS = ["序号", "收款人姓名", "开户银行", "银行账号", "金额（元）"]
ENCODINGS = {"utf-8": "utf-8-sig", "gbk": "gbk"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def month_label(month: str) -> str:
    return f"{month[:4]}年{int(month[5:7])}月"


def _rows(roll: PaymentRoll) -> Iterator[Any]:
    stmt = (
        select(PaymentRollLine, Enrollment)
        .join(Enrollment, Enrollment.id == PaymentRollLine.enrollment_id)
        .where(PaymentRollLine.roll_id == roll.id)
        .order_by(PaymentRollLine.township_code, PaymentRollLine.village_code, PaymentRollLine.id)
        .execution_options(yield_per=2000)
    )
    return iter(db.session.execute(stmt))  # rows of (line, enrollment)


def _text(value: str | None) -> str:
    value = value or ""
    return "'" + value if value.startswith(FORMULA_START) else value


def excel_filename(roll: PaymentRoll, county_name: str) -> str:
    return f"{county_name}{month_label(roll.month)}发放名册"


def excel(actor: Actor, roll: PaymentRoll) -> tuple[bytes, str, Decimal]:
    """The roll as a workbook: (bytes, file name without extension, the grand total written)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    require_county(actor)
    lines = list(_rows(roll))
    codes = {roll.county_code} | {ln.township_code for ln, _ in lines} | {ln.village_code for ln, _ in lines}
    names = names_for(codes - {None})
    county_name = names.get(roll.county_code, roll.county_code)
    book = Workbook()
    sheet = book.active
    sheet.title = f"{month_label(roll.month)}发放名册"[:31]
    title = f"{county_name}{month_label(roll.month)}社会救助资金发放名册（{ROLL_STATUSES[roll.status]}）"
    sheet.append([f"{title}　导出时间：{clock.to_local(clock.utcnow()):%Y-%m-%d %H:%M}"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADERS))
    sheet.cell(row=1, column=1).font = Font(bold=True, size=13)
    sheet.append(HEADERS)
    bold, header_fill = Font(bold=True), PatternFill("solid", fgColor="DDE6F3")
    total_fill = PatternFill("solid", fgColor="F2F2F2")
    for cell in sheet[2]:
        cell.font, cell.fill = bold, header_fill
        cell.alignment = Alignment(horizontal="center", vertical="center")

    def money_row(row: int) -> None:
        for column in AMOUNT_COLUMNS:
            sheet.cell(row=row, column=column).number_format = MONEY_FORMAT

    def total_row(label: str, count: int, amount: Decimal) -> None:
        sheet.append([None, label, None, None, None, None, None, None, f"{count}户（人）", amount, None, None])
        row = sheet.max_row
        money_row(row)
        for cell in sheet[row]:
            cell.font, cell.fill = bold, total_fill

    grand, grand_count, number = Decimal("0.00"), 0, 0
    township: str | None = None
    sub, sub_count = Decimal("0.00"), 0
    for line, enrollment in lines:
        if township is not None and line.township_code != township:
            total_row(f"{names.get(township, township)} 小计", sub_count, sub)
            sub, sub_count = Decimal("0.00"), 0
        township = line.township_code
        number += 1
        amount = Decimal(line.amount).quantize(Decimal("0.01"))
        previous = Decimal(line.previous_amount).quantize(Decimal("0.01")) if line.previous_amount is not None else None
        sheet.append(
            [
                number,
                names.get(line.township_code, line.township_code),
                names.get(line.village_code, line.village_code or "") if line.village_code else "",
                program_label(line.program),
                _text(line.payee_name),
                enrollment.reference,
                line.member_count,
                _text(enrollment.bank_name),
                f"****{enrollment.bank_account_last4}" if enrollment.bank_account_last4 else "",
                amount,
                previous,
                ROLL_CHANGES.get(line.change, line.change),
            ]
        )
        money_row(sheet.max_row)
        sub += amount
        grand += amount
        if amount > 0:
            sub_count += 1
            grand_count += 1
    if township is not None:
        total_row(f"{names.get(township, township)} 小计", sub_count, sub)
    total_row("合计", grand_count, grand)
    for index, width in enumerate(WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A3"  # the title and the header row stay in view
    sheet.print_title_rows = "2:2"
    out = io.BytesIO()
    book.save(out)
    audit.record(
        actor, "payment_roll.export_excel", roll, region=roll.county_code, month=roll.month, lines=number, total=grand
    )
    return out.getvalue(), excel_filename(roll, county_name), grand


def bank_csv(actor: Actor, roll: PaymentRoll, encoding: str | None = None) -> tuple[bytes, str, Decimal]:
    """The bank batch file of a locked roll: one row per payable line, the account number in full.
    ``encoding``: utf-8 (with BOM, the default) or gbk. Returns (bytes, file name, the total)."""
    require_county(actor)
    if roll.status != "locked":
        raise Conflict("发放名册审核锁定后才能导出银行代发文件", code="roll_not_locked")
    codec = ENCODINGS.get((encoding or "utf-8").lower().replace("_", "-"))
    if codec is None:
        raise ValidationFailed("文件编码只能是 utf-8 或 gbk", errors={"encoding": ["文件编码只能是 utf-8 或 gbk"]})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(BANK_HEADERS)
    total, number, missing = Decimal("0.00"), 0, 0
    for line, enrollment in _rows(roll):
        amount = Decimal(line.amount).quantize(Decimal("0.01"))
        if amount <= 0:
            continue
        number += 1
        account = crypto.decrypt(enrollment.bank_account_enc) if enrollment.bank_account_enc else ""
        missing += 0 if account else 1
        writer.writerow([number, line.payee_name, enrollment.bank_name or "", account, f"{amount:.2f}"])
        total += amount
    text = out.getvalue()
    try:
        data = text.encode(codec)
    except UnicodeEncodeError as exc:
        bad = text[exc.start : exc.end]
        message = f"“{bad}”不能用GBK编码表示，请改用UTF-8导出"
        raise ValidationFailed(message, errors={"encoding": [message]}) from None
    audit.record(
        actor,
        "payment_roll.export_bank",
        roll,
        region=roll.county_code,
        month=roll.month,
        rows=number,
        total=total,
        encoding=codec,
        without_account=missing,
    )
    return data, f"{roll.county_code}-{roll.month}-bank", total
