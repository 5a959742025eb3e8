"""The API's flask-smorest class and its documented error schema; the handlers themselves are app-wide
plumbing in ``web.errors``."""

from __future__ import annotations

from flask_smorest import Api
from flask_smorest.error_handler import ErrorSchema
from marshmallow import fields
from werkzeug.exceptions import HTTPException

from core import error_reasons
from web.errors import http_error_response


def _reason_table() -> str:
    rows = "\n".join(
        f"| `{name}` | {reason.status} | {reason.message} |" for name, reason in error_reasons.api_reasons().items()
    )
    return (
        "Stable machine-readable reason: branch on it, never on `message`. The typical Chinese message of each "
        "(the real one may be more specific, e.g. with a wait time):\n\n"
        "| status | HTTP | message |\n| --- | --- | --- |\n" + rows
    )


class ApiErrorSchema(ErrorSchema):
    code = fields.Integer(metadata={"description": "HTTP status code, the same as the response's", "example": 409})
    status = fields.String(
        metadata={
            "description": _reason_table(),
            "enum": list(error_reasons.api_reasons()),
            "x-enum-descriptions": [r.message for r in error_reasons.api_reasons().values()],
            "example": "already_submitted",
        }
    )
    message = fields.String(
        metadata={
            "description": "Message for the user, Simplified Chinese: show it as is",
            "example": "申请已提交，不能重复提交",
        }
    )
    errors = fields.Dict(
        metadata={
            "description": (
                "Field-level messages (Chinese), keyed by field name (a header's name for a header, `_schema` for "
                "the body as a whole); the value is a list of messages, or an object of the same shape for a "
                "nested field (list items keyed by index). Present only with field errors."
            ),
            "additionalProperties": {},
            "example": {"members": {"0": {"id_number": ["身份证号码校验位不正确"]}}},
        }
    )


class ReliefApi(Api):
    ERROR_SCHEMA = ApiErrorSchema

    def _register_pagination_header(self) -> None:
        from miniprogram_api.openapi import pagination_header_doc

        self.spec.components.header("PAGINATION", pagination_header_doc(), lazy=True)

    def handle_http_exception(self, error: HTTPException):
        return http_error_response(error)
