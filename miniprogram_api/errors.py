"""The API's flask-smorest class and its documented error schema; the handlers themselves are app-wide
plumbing in ``web.errors``."""

from __future__ import annotations

from flask_smorest import Api
from flask_smorest.error_handler import ErrorSchema
from marshmallow import fields
from werkzeug.exceptions import HTTPException

from web.errors import http_error_response


class ApiErrorSchema(ErrorSchema):
    code = fields.Integer(metadata={"description": "HTTP status code"})
    status = fields.String(metadata={"description": "Stable machine-readable reason, e.g. validation_failed"})
    message = fields.String(metadata={"description": "Message for the user, Simplified Chinese"})
    errors = fields.Dict(metadata={"description": "Field-level messages (Chinese), keyed by field name"})


class ReliefApi(Api):
    ERROR_SCHEMA = ApiErrorSchema

    def handle_http_exception(self, error: HTTPException):
        return http_error_response(error)
