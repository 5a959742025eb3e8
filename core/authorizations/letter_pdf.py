"""The PDF 授权书 for the case file: the letter, and each member's signature image, method and time."""

from __future__ import annotations

from fpdf import FPDF

from core import clock
from core.applications.models import Application
from core.applications.programs import program_label
from core.authorizations import letters
from core.authorizations.models import METHODS, AuthorizationRequest, Signature
from core.files import storage
from core.idnumber import mask


def render(
    app: Application,
    requests: list[AuthorizationRequest],
    signatures: dict[int, Signature],
    evidence_head: str | None,
    *,
    font_path: str,
    font_index: int,
) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font("cjk", fname=font_path, collection_font_number=font_index)
    pdf.add_page()
    pdf.set_font("cjk", size=18)
    pdf.cell(0, 12, "家庭经济状况核对授权书", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=10)
    pdf.cell(
        0,
        7,
        f"申请编号：{app.reference}    救助项目：{program_label(app.program)}    申请人：{app.applicant_name}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    versions = sorted({r.letter_version for r in requests}) or [letters.CURRENT_VERSION]
    for version in versions:
        pdf.set_font("cjk", size=11)
        pdf.multi_cell(0, 7, letters.LETTERS[version], new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("cjk", size=8)
        pdf.cell(
            0, 5, f"授权书版本 {version}，内容摘要 {letters.letter_hash(version)[:16]}", new_x="LMARGIN", new_y="NEXT"
        )
    pdf.ln(4)
    pdf.set_font("cjk", size=11)
    pdf.cell(0, 8, "授权人", new_x="LMARGIN", new_y="NEXT")
    for request in requests:
        pdf.set_font("cjk", size=10)
        when = clock.to_local(request.authorized_at).strftime("%Y-%m-%d %H:%M") if request.authorized_at else "未授权"
        method = METHODS.get(request.method or "", "—")
        pdf.cell(
            0,
            7,
            f"{request.member_name}  {mask(request.member_id_number)}  {method}  {when}",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        signature = signatures.get(request.id)
        if signature is not None and request.method != "window":
            pdf.image(str(storage.open_path(signature.storage_key)), w=50, h=20)
        elif request.method == "window":
            pdf.cell(0, 6, "（纸质授权书已由乡镇（街道）窗口留存扫描件）", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    pdf.set_font("cjk", size=8)
    pdf.cell(
        0,
        6,
        f"生成时间 {clock.to_local(clock.utcnow()):%Y-%m-%d %H:%M}；证据链末端摘要 {evidence_head or '—'}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    return bytes(pdf.output())
