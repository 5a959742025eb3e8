"""Shared schema pieces."""

from __future__ import annotations

from marshmallow import RAISE, Schema


class StrictSchema(Schema):
    """Input schemas: unknown fields are rejected (no mass assignment)."""

    class Meta:
        unknown = RAISE


# --- multipart bodies: form fields and files in one schema (one OpenAPI requestBody) -----------------

MULTIPART = "multipart"
MULTIPART_CONTENT_TYPES = {MULTIPART: "multipart/form-data"}


def _register_multipart_location() -> None:
    """webargs location ``multipart``: the form fields and the files of a multipart/form-data body together,
    so that one schema documents the whole body (a separate ``form`` schema next to a ``files`` one would be
    documented as an OpenAPI 2 ``formData`` parameter)."""
    from flask_smorest import Blueprint
    from webargs.multidictproxy import MultiDictProxy
    from werkzeug.datastructures import CombinedMultiDict

    parser = Blueprint.ARGUMENTS_PARSER

    @parser.location_loader(MULTIPART)
    def _load_multipart(request, schema):  # noqa: ANN001 - webargs calls it with (request, schema)
        return MultiDictProxy(CombinedMultiDict([request.form, request.files]), schema)


_register_multipart_location()
