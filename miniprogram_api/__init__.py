"""The mini-program (and department systems) JSON API, mounted at /api/v1."""

from __future__ import annotations

from flask import Flask, send_from_directory
from flask_smorest import Api

from miniprogram_api import log_redaction
from miniprogram_api.errors import ReliefApi
from miniprogram_api.openapi import ContractPlugin, register_components
from miniprogram_api.pagination import PAGINATION_PARSER, pagination_metadata
from miniprogram_api.security import install_authentication
from web.hooks import read_only


def init_api(app: Flask) -> Api:
    docs = app.config["API_DOCS_ENABLED"]
    app.config.update(
        API_TITLE="救助通 ReliefLink API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api" if docs else None,
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/api/docs/static/",
    )
    api = ReliefApi(
        app,
        spec_kwargs={
            "info": {
                "description": (
                    "API for the ReliefLink mini-program (WeChat/Alipay) and H5 pages.\n\n"
                    "Errors share one shape: `{code, status, message, errors}` — `code` is the HTTP "
                    "status, `status` a stable machine-readable reason, `message` Simplified Chinese "
                    "for the user, `errors` field-level messages (Chinese) keyed by field name.\n\n"
                    "Writes that create something accept an `Idempotency-Key` header: the same key "
                    "and body replays the first response (header `Idempotent-Replayed: true`), the "
                    "same key with a different body is 422, a concurrent duplicate is 409.\n\n"
                    "Lists are paginated with `page` (from 1) and `page_size` (max 100); the `X-Pagination` "
                    "header is a JSON object with `total`, `total_pages`, and when there are items `first_page`, "
                    "`last_page`, `page`, `previous_page`, `next_page` (see components.headers.PAGINATION).\n\n"
                    'Money and measures are decimal strings (`"905.00"`, `type: string, format: decimal`), '
                    "times are ISO 8601 in UTC. A 429 or 503 may carry `Retry-After` (seconds).\n\n"
                    "The guide for mini-program developers, in Chinese: docs/api-guide.md."
                ),
            },
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                    "departmentSignature": {
                        "type": "apiKey",
                        "in": "header",
                        "name": "Signature",
                        "description": (
                            "Department systems only (/api/v1/exchange): an RFC 9421 HTTP message signature, "
                            "HMAC-SHA256 or HMAC-SM3 over @method, @path, @query and Content-Digest, with "
                            "`created` (±300 s) and a single-use `nonce` in `Signature-Input`. See docs/exchange.md."
                        ),
                    },
                }
            },
            "security": [{"bearerAuth": []}],
            "extra_plugins": [ContractPlugin()],
        },
    )
    register_components(api)

    from miniprogram_api.applications.routes import blp as applications_blp
    from miniprogram_api.auth.routes import blp as auth_blp
    from miniprogram_api.authorizations.routes import blp as authorizations_blp
    from miniprogram_api.cases.routes import blp as cases_blp
    from miniprogram_api.exchange.routes import blp as exchange_blp
    from miniprogram_api.me.routes import blp as me_blp
    from miniprogram_api.me_benefits.routes import blp as me_benefits_blp
    from miniprogram_api.me_transfers.routes import blp as me_transfers_blp
    from miniprogram_api.programs.routes import blp as programs_blp
    from miniprogram_api.regions.routes import blp as regions_blp
    from miniprogram_api.reports.routes import blp as reports_blp
    from miniprogram_api.system.routes import blp as system_blp

    blueprints = [
        system_blp,
        regions_blp,
        auth_blp,
        me_blp,
        me_benefits_blp,
        me_transfers_blp,
        programs_blp,
        applications_blp,
        reports_blp,
        authorizations_blp,
        exchange_blp,
    ]
    if app.config["DEMO_ENDPOINTS_ENABLED"]:
        blueprints.append(cases_blp)
    for blp in blueprints:
        blp.PAGINATION_ARGUMENTS_PARSER = PAGINATION_PARSER  # read per request by @blp.paginate()
        blp._make_pagination_metadata = pagination_metadata  # type: ignore[method-assign] # the same header, no schema
        api.register_blueprint(blp)

    if docs:
        from swagger_ui_bundle import swagger_ui_path

        @app.route("/api/docs/static/<path:filename>", endpoint="api_docs_static")
        def _swagger_static(filename: str):
            return send_from_directory(str(swagger_ui_path), filename)

    install_authentication(app)
    log_redaction.install(app)
    # the hot reads: no transaction, no BEGIN/COMMIT round trips (web.hooks.read_only refuses any write there)
    read_only(app, "applications.ApplicationList", "me.Me", "reports.ReportList")
    return api
