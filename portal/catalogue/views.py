"""Department data (部门数据): the catalogue, a category's schema and loads, file upload, error reports,
and the audited person look-up. Thin: parse, call core.exchange, commit."""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    after_this_request,
    current_app,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from werkzeug.exceptions import RequestEntityTooLarge

from core.database import commit, rollback
from core.errors import DomainError
from core.exchange import catalogue, ingest, lookups, reports, store
from portal.feedback import flash_error

bp = Blueprint("portal_catalogue", __name__, url_prefix="/portal/catalogue", template_folder="../templates")


UPLOAD_ENDPOINT = "portal_catalogue.upload"


def install_upload_limit(app: Flask) -> None:
    """The department-file upload alone may be larger than MAX_CONTENT_LENGTH (up to EXCHANGE_MAX_UPLOAD_BYTES).
    Registered before CSRF protection, whose check parses the form: Werkzeug spools the file part to a
    temporary file as it arrives, so memory stays flat whatever the size."""

    @app.before_request
    def _lift_upload_limit() -> None:
        if request.endpoint == UPLOAD_ENDPOINT and request.method == "POST":
            request.max_content_length = app.config["EXCHANGE_MAX_UPLOAD_BYTES"]


@bp.route("")
def index():
    rows = catalogue.catalogue_rows(g.actor)
    commit()  # the defaults may have been installed on first use
    return render_template("catalogue/index.html", rows=rows, statuses=catalogue.LOAD_STATUSES)


@bp.route("/<code>")
def category(code: str):
    view = catalogue.category_view(g.actor, code)
    running = any(x.status in ("pending", "running") for x in view["loads"])
    return render_template(
        "catalogue/category.html",
        view=view,
        statuses=catalogue.LOAD_STATUSES,
        sources=catalogue.LOAD_SOURCES,
        running=running,
    )


@bp.route("/loads/<int:load_id>/errors.<fmt>")
def error_report(load_id: int, fmt: str):
    path, name, mimetype = reports.write_error_report(g.actor, load_id, fmt)
    commit()  # the download is audited

    @after_this_request
    def _remove(response):  # noqa: ANN001
        store.remove_file(path)
        return response

    return send_file(path, mimetype=mimetype, as_attachment=True, download_name=name)


def _upload_form(status: int = 200):
    departments, categories = catalogue.upload_choices(g.actor)
    return render_template("catalogue/upload.html", departments=departments, categories=categories), status


@bp.route("/upload", methods=["GET", "POST"])
def upload():
    catalogue.require(g.actor, catalogue.MANAGE_ROLES)
    if request.method == "GET":
        catalogue.get_category("deaths")  # the defaults exist before the first upload
        commit()
        return _upload_form()
    # a department file may be large (install_upload_limit); the spooled part is copied to ours in chunks
    try:
        file = request.files.get("file")
        form = request.form
    except RequestEntityTooLarge:
        flash_error(DomainError("文件过大"))
        return _upload_form(413)
    if file is None or not file.filename:
        flash_error(DomainError(errors={"file": ["请选择要上传的文件"]}))
        return _upload_form(422)
    path, _ = store.save_stream(file.stream, folder="incoming")
    try:
        load = ingest.start_file_load(
            g.actor,
            category=form.get("category", ""),
            path=path,
            filename=file.filename,
            department_id=int(form.get("department_id") or 0),
            client_id=None,
            batch_id=form.get("batch_id") or None,
            max_bytes=current_app.config["EXCHANGE_MAX_UPLOAD_BYTES"],
        )
        code = form.get("category", "")
        commit()
    except DomainError as err:
        rollback()
        store.remove_file(path)
        flash_error(err)
        return _upload_form(err.status)
    return redirect(url_for("portal_catalogue.category", code=code, _anchor=f"load-{load.id}"), 303)


@bp.route("/lookup", methods=["GET", "POST"])
def lookup():
    found = None
    status = 200
    if request.method == "POST":
        try:
            found = lookups.person_records(
                g.actor, id_number=request.form.get("id_number", "").strip(), purpose=request.form.get("purpose")
            )
            commit()
        except DomainError as err:
            commit() if err.keep_changes else rollback()
            flash_error(err)
            status = err.status
    return render_template("catalogue/lookup.html", found=found), status
