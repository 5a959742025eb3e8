"""The PDF 核对报告: the grade, each reason with the department rows it rests on, the figures, the
findings per member and category, and each source's freshness (fpdf2 with the CJK font, as the 授权书)."""

from __future__ import annotations

from fpdf import FPDF

from core import clock
from core.applications.models import Application
from core.applications.programs import program_label
from core.checks.models import CONCLUSIONS, GRADE_LABELS, EconomicCheck
from core.exchange.defaults import DEFAULTS_BY_CODE
from core.idnumber import mask

LEVEL_LABELS = {"red": "红", "yellow": "黄", "green": "绿"}


def _line(pdf: FPDF, text: str, size: int = 10, h: float = 6) -> None:
    pdf.set_font("cjk", size=size)
    pdf.multi_cell(0, h, text, new_x="LMARGIN", new_y="NEXT")


def render(app: Application, check: EconomicCheck, *, font_path: str, font_index: int) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font("cjk", fname=font_path, collection_font_number=font_index)
    pdf.add_page()
    pdf.set_font("cjk", size=18)
    pdf.cell(0, 12, "家庭经济状况核对报告", align="C", new_x="LMARGIN", new_y="NEXT")
    finished = clock.to_local(check.finished_at).strftime("%Y-%m-%d %H:%M") if check.finished_at else "—"
    _line(pdf, f"申请编号：{app.reference}    救助项目：{program_label(app.program)}    申请人：{app.applicant_name}")
    _line(pdf, f"核对完成时间：{finished}    评估模型：{check.model_region}（第{check.model_version}版）")
    _line(pdf, f"评估结果：{GRADE_LABELS.get(check.grade or '', '—')}", size=14, h=9)
    f = check.figures or {}
    _line(
        pdf,
        f"家庭人口{f.get('members')}人；当地低保标准{f.get('monthly_standard')}元/人·月；"
        f"核对月人均收入{f.get('income_found_per_capita')}元（申报{f.get('income_declared_per_capita')}元）；"
        f"机动车{f.get('vehicles')}辆；住房{f.get('homes')}处共{f.get('home_area')}平方米；"
        f"存款{f.get('deposits')}元；公积金余额{f.get('provident_fund')}元。",
    )
    pdf.ln(2)
    _line(pdf, "一、评估依据", size=12, h=8)
    if not check.reasons:
        _line(pdf, "未发现超出标准或需要说明的情况。")
    for i, reason in enumerate(check.reasons or [], start=1):
        rows = "；".join(f"{r['category']} 批次{r['load_id']} 第{r['row_no']}行" for r in reason["rows"][:10])
        more = f" 等{len(reason['rows'])}条" if len(reason["rows"]) > 10 else ""
        _line(
            pdf,
            f"{i}. 【{LEVEL_LABELS[reason['level']]}】{reason['text']}" + (f"（依据：{rows}{more}）" if rows else ""),
        )
    pdf.ln(2)
    _line(pdf, "二、各成员核对结果", size=12, h=8)
    members = {str(i): m for i, m in enumerate(app.members)}
    for key, member in (check.findings or {}).items():
        m = members.get(key)
        who = f"{member['name']}  {mask(m.id_number) if m is not None and m.id_number else ''}"
        cats = member.get("categories") or {}
        text = "；".join(f"{DEFAULTS_BY_CODE.get(c, {}).get('name', c)}{v['count']}条" for c, v in sorted(cats.items()))
        _line(pdf, f"{who}：{text or '未查到记录'}")
    pdf.ln(2)
    _line(pdf, "三、数据来源及时效", size=12, h=8)
    for src in check.freshness or []:
        state = "无数据" if not src.get("available") else ("已超过更新周期" if src.get("stale") else "在更新周期内")
        _line(pdf, f"{src['name']}：最新数据{src.get('latest_effective_date') or '—'}，{state}", size=9, h=5)
    if check.conclusion:
        pdf.ln(2)
        _line(pdf, f"核对结论：{CONCLUSIONS[check.conclusion]}  {check.conclusion_note or ''}", size=11, h=7)
    return bytes(pdf.output())
