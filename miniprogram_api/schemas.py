"""Shared schema pieces."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, fields


class StrictSchema(Schema):
    """Input schemas: unknown fields are rejected (no mass assignment)."""

    class Meta:
        unknown = RAISE


class DecimalString(fields.Decimal):
    """Money and measures: sent as a decimal string (``"1200.50"``), never a JSON number, so that no client
    rounds it through binary floating point. Documented as ``type: string, format: decimal`` (registered in
    miniprogram_api/openapi.py); on input a decimal string is expected (a JSON number is also accepted)."""

    def __init__(self, *, places: int = 2, **kwargs: Any):
        super().__init__(places=places, as_string=True, **kwargs)


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
