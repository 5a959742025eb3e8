"""The OpenAPI contract: what every operation shares, added in one place.

- ``errors("reason", …)`` on a view names the domain error reasons it can answer with; the plugin adds the
  generic ones (401 on every secured operation, 422 for input, 413 for a body, 404 for a path) and documents
  each status once, with the ``ApiError`` schema, the reasons and their Chinese messages, and one example each
  (the reasons come from ``core/error_reasons.py``, the registry the error handler uses).
- Headers: ``Retry-After`` on 429/503, ``WWW-Authenticate`` on 401, ``Idempotent-Replayed`` on the success of a
  write that took an ``Idempotency-Key``, ``X-Pagination`` as sent (a JSON object in the header).
- Decimal strings (``DecimalString``) are documented as ``type: string, format: decimal``.
"""

from __future__ import annotations

import copy
import http
from collections.abc import Callable
from typing import Any

from apispec import BasePlugin
from flask_smorest import Api
from flask_smorest.utils import deepupdate
from marshmallow import Schema, fields

from core import error_reasons
from miniprogram_api.pagination import MAX_PAGE
from miniprogram_api.schemas import DecimalString

METHODS = ("get", "put", "post", "patch", "delete")
ERROR_REF = {"$ref": "#/components/schemas/ApiError"}
X_ERRORS = "x-errors"

VALIDATION_EXAMPLE_ERRORS = {"phone": ["请输入正确的11位手机号码"]}


def errors(*reasons: str) -> Callable:
    """Document the error reasons (``core/error_reasons.py``) a view can answer with, beyond the generic ones."""
    unknown = [r for r in reasons if r not in error_reasons.REASONS]
    if unknown:
        raise ValueError(f"unknown error reasons {unknown}: add them to core/error_reasons.py")

    def decorator(fn: Callable) -> Callable:
        doc = {"manual_doc": {X_ERRORS: dict.fromkeys(reasons, True)}}
        fn._apidoc = deepupdate(copy.deepcopy(getattr(fn, "_apidoc", {})), doc)  # type: ignore[attr-defined]
        return fn

    return decorator


def _error_example(reason: str) -> dict:
    spec = error_reasons.REASONS[reason]
    value: dict[str, Any] = {"code": spec.status, "status": reason, "message": spec.message}
    if reason == "validation_failed":
        value["errors"] = VALIDATION_EXAMPLE_ERRORS
    elif reason == "idempotency_key_reused":
        value["errors"] = {"Idempotency-Key": ["该键已用于另一个不同的请求，请为新的请求生成新的键"]}
    return {"summary": spec.message, "value": value}


def _error_response(status: int, reasons: list[str], before: Any) -> dict:
    phrase = http.HTTPStatus(status).phrase
    listed = "; ".join(f"`{r}` {error_reasons.REASONS[r].message}" for r in reasons)
    description = f"{phrase}. `status` is one of: {listed}"
    if isinstance(before, dict) and before.get("description") and "content" not in before:
        description = f"{before['description']}. {description}"
    response: dict[str, Any] = {
        "description": description,
        "content": {
            "application/json": {
                "schema": ERROR_REF,
                "examples": {r: _error_example(r) for r in reasons},
            }
        },
    }
    if status == 401:
        response["headers"] = {"WWW-Authenticate": "WWW_AUTHENTICATE"}
    if status in (429, 503):
        response["headers"] = {"Retry-After": "RETRY_AFTER"}
    return response


class ContractPlugin(BasePlugin):
    """Runs after the marshmallow plugin on every operation (see the module docstring)."""

    def operation_helper(self, path: str | None = None, operations: dict | None = None, **kwargs: Any) -> None:
        for method, operation in (operations or {}).items():
            if method in METHODS:
                self._complete(path or "", operation)

    def _complete(self, path: str, operation: dict) -> None:
        reasons = list(operation.pop(X_ERRORS, {}))
        parameters = operation.get("parameters", [])
        for parameter in parameters:
            if isinstance(parameter, dict):
                _describe_pagination(parameter)
        security = operation.get("security")
        if security == [{"departmentSignature": []}]:
            reasons += error_reasons.SIGNATURE_REASONS
        elif security != []:
            reasons += error_reasons.AUTH_REASONS
        if "requestBody" in operation or any(
            isinstance(p, dict) and p.get("in") in ("query", "header") for p in parameters
        ):
            reasons.append("validation_failed")
        if "requestBody" in operation:
            reasons.append("request_entity_too_large")
        if "{" in path:
            reasons.append("not_found")
        by_status: dict[int, list[str]] = {}
        for reason in dict.fromkeys(reasons):  # keeps the order, drops repeats
            by_status.setdefault(error_reasons.REASONS[reason].status, []).append(reason)
        responses = operation.setdefault("responses", {})
        for status in sorted(by_status):
            key = str(status)
            before = responses.get(key, responses.get(status))
            responses.pop(status, None)
            responses[key] = _error_response(status, by_status[status], before)
        for key, response in responses.items():
            if isinstance(response, dict) and str(key) in ("429", "503"):
                response.setdefault("headers", {})["Retry-After"] = "RETRY_AFTER"
        if any(isinstance(p, dict) and p.get("name") == "Idempotency-Key" for p in parameters):
            for key, response in responses.items():
                if str(key).startswith("2") and isinstance(response, dict):
                    response.setdefault("headers", {})["Idempotent-Replayed"] = "IDEMPOTENT_REPLAYED"


def _describe_pagination(parameter: dict) -> None:
    if parameter.get("in") != "query":
        return
    if parameter.get("name") == "page":
        parameter.setdefault("description", "Page number, from 1")
        parameter.setdefault("schema", {})["maximum"] = MAX_PAGE
    elif parameter.get("name") == "page_size":
        parameter.setdefault("description", "Items per page (at most the maximum shown)")


class PaginationMetadata(Schema):
    """What ``X-Pagination`` carries (flask-smorest's pagination metadata)."""

    total = fields.Integer(required=True, metadata={"description": "Number of items in all pages", "example": 23})
    total_pages = fields.Integer(
        required=True, metadata={"description": "Number of pages (0 when empty)", "example": 3}
    )
    first_page = fields.Integer(metadata={"description": "1; absent when there are no items", "example": 1})
    last_page = fields.Integer(metadata={"description": "The last page; absent when there are no items", "example": 3})
    page = fields.Integer(
        metadata={"description": "The page returned; absent when past the last page or empty", "example": 2}
    )
    previous_page = fields.Integer(metadata={"description": "Absent on the first page", "example": 1})
    next_page = fields.Integer(metadata={"description": "Absent on the last page", "example": 3})


PAGINATION_EXAMPLE = {
    "total": 23,
    "total_pages": 3,
    "first_page": 1,
    "last_page": 3,
    "page": 2,
    "previous_page": 1,
    "next_page": 3,
}


def nullable_enum(self: Any, field: fields.Field, ret: dict, **kwargs: Any) -> dict:
    """A field that may be null lists null among its enum values (OpenAPI 3.0: ``nullable`` alone does not
    let an ``enum`` accept null)."""
    if field.allow_none and "enum" in ret and None not in ret["enum"]:
        return {"enum": [*ret["enum"], None]}
    return {}


def register_components(api: Api) -> None:
    """Headers and schemas the plugin refers to, and decimal strings. Call before registering blueprints."""
    api.register_field(DecimalString, "string", "decimal")
    api.ma_plugin.converter.add_attribute_function(nullable_enum)
    spec = api.spec
    spec.components.schema("PaginationMetadata", schema=PaginationMetadata)
    spec.components.header(
        "RETRY_AFTER",
        {
            "description": "Seconds to wait before trying again (what the message says in words)",
            "schema": {"type": "integer", "minimum": 1, "example": 60},
        },
    )
    spec.components.header(
        "WWW_AUTHENTICATE",
        {
            "description": "Bearer challenge: log in again (or refresh the access token) and retry",
            "schema": {"type": "string", "example": 'Bearer realm="relieflink", error="invalid_token"'},
        },
    )
    spec.components.header(
        "IDEMPOTENT_REPLAYED",
        {
            "description": (
                "`true` when this is the stored first response to an earlier request with the same "
                "Idempotency-Key and body (nothing was done again); absent otherwise"
            ),
            "schema": {"type": "string", "enum": ["true"]},
        },
    )


def pagination_header_doc() -> dict:
    """``X-Pagination`` as sent: a JSON object (not OpenAPI's simple header style), e.g. the example."""
    return {
        "description": (
            "Pagination metadata as a JSON object, e.g. "
            '`{"total": 23, "total_pages": 3, "first_page": 1, "last_page": 3, "page": 2, "previous_page": 1, '
            '"next_page": 3}`; on an empty list `{"total": 0, "total_pages": 0}`. Parse it with JSON.parse.'
        ),
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/PaginationMetadata"},
                "example": PAGINATION_EXAMPLE,
            }
        },
    }
