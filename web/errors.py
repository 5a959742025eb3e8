"""Error handling for the whole app: one JSON error shape under /api (Chinese messages, field-level errors),
an HTML page elsewhere, never a stack trace; ``Retry-After`` that says what the message says."""

from __future__ import annotations

import json
import logging
import re
import traceback
from typing import Any

from flask import Flask, Response, g, render_template, request, session
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from core import error_reasons
from core.database import commit, rollback
from core.errors import Conflict, DomainError, ServiceUnavailable

log = logging.getLogger(__name__)

# The Chinese message of an HTTP-level error, by status (from the one reason registry).
HTTP_MESSAGES = {status: error_reasons.REASONS[reason].message for status, reason in error_reasons.HTTP_REASONS.items()}

_EXACT = {
    "Missing data for required field.": "此项为必填项",
    "Unknown field.": "不允许的字段",
    "Field may not be null.": "此项不能为空",
    "Invalid input type.": "输入类型不正确",
    "Not a valid string.": "应为文本",
    "Not a valid integer.": "应为整数",
    "Not a valid number.": "应为数字",
    "Not a valid boolean.": "应为是或否",
    "Not a valid datetime.": "日期时间格式不正确",
    "Not a valid date.": "日期格式不正确，应为YYYY-MM-DD",
    "Not a valid list.": "应为列表",
    "Not a valid mapping type.": "应为对象",
    "Not a valid email address.": "邮箱格式不正确",
    "Not a valid UUID.": "格式不正确",
    "Not a valid URL.": "网址格式不正确",
    "Invalid value.": "取值不正确",
    "Invalid input.": "输入不正确",
    "String does not match expected pattern.": "格式不正确",
    "Invalid JSON body.": "请求体不是有效的JSON",
    "Special numeric values (nan or infinity) are not permitted.": "不能为非数字或无穷大",
}
_PATTERNS = [
    (re.compile(r"^Must be one of: (.*)\.$"), "取值应为以下之一：{0}"),
    (re.compile(r"^Shorter than minimum length (\d+)\.$"), "长度不能少于{0}"),
    (re.compile(r"^Longer than maximum length (\d+)\.$"), "长度不能超过{0}"),
    (re.compile(r"^Length must be between (\d+) and (\d+)\.$"), "长度应在{0}到{1}之间"),
    (re.compile(r"^Length must be (\d+)\.$"), "长度应为{0}"),
    (re.compile(r"^Must be greater than or equal to (\S+) and less than or equal to (\S+)\.$"), "应在{0}到{1}之间"),
    (re.compile(r"^Must be greater than or equal to (\S+)\.$"), "不能小于{0}"),
    (re.compile(r"^Must be less than or equal to (\S+)\.$"), "不能大于{0}"),
    (re.compile(r"^Must be greater than (\S+)\.$"), "应大于{0}"),
]


def translate(message: str) -> str:
    if message in _EXACT:
        return _EXACT[message]
    for pattern, template in _PATTERNS:
        m = pattern.match(message)
        if m:
            return template.format(*m.groups())
    if re.search(r"[\u4e00-\u9fff]", message):
        return message  # already Chinese (our own validators)
    log.warning("untranslated validation message: %s", message)
    return "输入不正确"


def translate_errors(errors: object) -> object:
    if isinstance(errors, dict):
        return {k: translate_errors(v) for k, v in errors.items()}
    if isinstance(errors, list):
        return [translate_errors(v) for v in errors]
    if isinstance(errors, str):
        return translate(errors)
    return errors


def _flatten_locations(errors: dict) -> dict:
    """webargs nests errors by location ({"json": {...}}); callers want them by field."""
    locations = {"json", "query", "form", "files", "multipart", "headers", "view_args", "path", "cookies"}
    if errors and set(errors) <= locations:
        flat: dict = {}
        for value in errors.values():
            if isinstance(value, dict):
                flat.update(value)
            else:
                flat.setdefault("_schema", []).extend(value if isinstance(value, list) else [value])
        return flat
    return errors


def _is_api_request() -> bool:
    return request.path.startswith("/api/") or request.path in ("/healthz", "/livez", "/readyz")


def error_payload(status: int, reason: str, message: str, errors: dict | None = None) -> dict:
    payload = {"code": status, "status": reason, "message": message}
    if errors:
        payload["errors"] = errors
    return payload


def http_error_response(error: HTTPException) -> tuple[Any, int, dict[str, str]]:
    """A werkzeug/flask-smorest HTTP error: the API's error shape under /api, the HTML page elsewhere."""
    rollback()
    status = error.code or 500
    if status >= 500:
        log.error("HTTP %s on %s %s", status, request.method, request.path)
    if not _is_api_request():
        return _portal_error_page(status, _protocol_headers(error))
    data = getattr(error, "data", None) or {}
    errors = data.get("errors") or data.get("messages")
    if isinstance(errors, dict):
        errors = translate_errors(_flatten_locations(errors))
    reason = error_reasons.http_reason(status)
    if status == 422 and errors:
        reason = "validation_failed"
    message = data.get("message") if isinstance(data.get("message"), str) else None
    if message is None or not re.search(r"[\u4e00-\u9fff]", message):
        message = error_reasons.message(reason, status)
    headers = dict(data.get("headers") or {})
    headers.update(_protocol_headers(error))
    if status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="relieflink"')
    return error_payload(status, reason, message, errors), status, headers


def _protocol_headers(error: HTTPException) -> dict[str, str]:
    """Headers the status itself calls for (``Allow`` on a 405), without werkzeug's Content-Type."""
    return {k: v for k, v in error.get_headers() if k.lower() != "content-type"}


def _portal_error_page(
    status: int, headers: dict[str, str] | None = None, message: str | None = None
) -> tuple[str, int, dict[str, str]]:
    # the portal's themed page when the portal is mounted (it provides errors/error.html), else a plain one
    page = render_template(
        ["errors/error.html", "web_error.html"], status=status, message=message or HTTP_MESSAGES.get(status, "请求失败")
    )
    return page, status, headers or {}


def _body_nested_too_deep() -> bool:
    """True when the request body is JSON nested deeper than the parser can follow."""
    try:
        json.loads(request.get_data(cache=True) or b"null")
    except RecursionError:
        return True
    except ValueError:
        return False
    return False


OUTAGE_RETRY_AFTER_SECONDS = 5
# PostgreSQL SQLSTATEs of an outage rather than a bug: connection (08), resources (53), operator
# intervention (57: statement_timeout, shutdown), lock_timeout (55P03), serialization / deadlock (40)
_OUTAGE_SQLSTATES = ("08", "53", "57", "55P03", "40")
_SQLITE_OUTAGES = ("database is locked", "disk i/o error", "unable to open database")


def is_outage(err: BaseException) -> bool:
    """The database or the broker is unavailable, slow or locked: the client should retry, not report a bug."""
    if isinstance(err, PoolTimeout | DisconnectionError):
        return True
    if isinstance(err, DBAPIError):
        if err.connection_invalidated:
            return True
        sqlstate = getattr(err.orig, "sqlstate", None)
        if sqlstate:
            return sqlstate.startswith(_OUTAGE_SQLSTATES)
        if type(err.orig).__module__.startswith("sqlite3"):
            return any(text in str(err.orig).lower() for text in _SQLITE_OUTAGES)
        # a driver error without a server code: the connection broke (server restarted, refused, reset)
        return isinstance(err, OperationalError | InterfaceError)
    module = type(err).__module__
    # kombu's OperationalError (broker unreachable), redis-py's ConnectionError / TimeoutError
    return module.startswith(("kombu", "redis")) and type(err).__name__ in (
        "OperationalError",
        "ConnectionError",
        "TimeoutError",
    )


OUTAGE_MESSAGE = "服务繁忙或暂时不可用，请稍后重试"


def _drop_flashes() -> None:
    """A portal view flashes its success before the request's commit; a commit that failed must not show it
    (on the error page, or on the next page from the session)."""
    if "_flashes" in session:
        session.pop("_flashes")


def domain_error_answer(err: DomainError) -> tuple[Any, int, dict[str, str]]:
    """The answer to a domain error, its changes already settled: the portal's page, or the API's error body
    with ``Retry-After`` (429, 503) and ``WWW-Authenticate`` (401)."""
    headers = {}
    retry_after = getattr(err, "retry_after", None)  # RateLimited (429), ServiceUnavailable (503)
    if retry_after:
        headers["Retry-After"] = str(retry_after)
        g.domain_retry_after = retry_after  # wins over Flask-Limiter's window (install_retry_after)
    if not _is_api_request():
        body, status, extra = _portal_error_page(err.status, message=err.message)
        return body, status, {**extra, **headers}
    if err.code not in error_reasons.REASONS:
        log.warning("error reason %r is not in core/error_reasons.py", err.code)
    if err.status == 401 and request.blueprint == "exchange":  # department systems sign, not log in
        headers["WWW-Authenticate"] = 'Signature realm="relieflink-exchange"'
    elif err.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="relieflink", error="invalid_token"'
    return error_payload(err.status, err.code, err.message, err.errors or None), err.status, headers


def commit_failed_response(app: Flask, err: DomainError) -> Response:
    """The answer when the request's commit failed (a conflict, an outage), for the hook that runs outside
    the error handlers; a success the view flashed before the commit is dropped."""
    if not _is_api_request():
        _drop_flashes()
    return app.make_response(domain_error_answer(err))


def outage_response(app: Flask) -> Response:
    """The retryable 503 of a commit whose connection broke (its outcome unknown)."""
    return commit_failed_response(app, ServiceUnavailable(OUTAGE_MESSAGE, retry_after=OUTAGE_RETRY_AFTER_SECONDS))


def replace_with_outage(app: Flask, response: Response) -> None:
    """Turn ``response`` into the outage's 503, in place: for a step after the hooks that cannot return a
    new response (the portal's session save). What the old answer set (its body, a redirect, a cookie) goes."""
    outage = outage_response(app)
    response.close()  # e.g. the file of a download
    response.direct_passthrough = False
    for name in ("Location", "Set-Cookie", "Content-Disposition", "ETag", "Last-Modified"):
        response.headers.pop(name, None)
    response.status_code = outage.status_code
    response.set_data(outage.get_data())
    for name in ("Content-Type", "Retry-After"):
        response.headers[name] = outage.headers[name]


def _log_unexpected(err: Exception) -> None:
    if isinstance(err, DBAPIError):
        # the driver's text may quote values (``DETAIL: Key (id_number)=(…)``): log where, not what
        frames = "".join(traceback.format_tb(err.__traceback__))
        log.error(
            "database error %s (SQLSTATE %s) on %s %s\n%s",
            type(err.orig).__name__ if err.orig is not None else type(err).__name__,
            getattr(err.orig, "sqlstate", None) or "unknown",
            request.method,
            request.path,
            frames,
        )
        return
    log.exception("unhandled error on %s %s", request.method, request.path)


def register_error_handlers(app: Flask) -> None:
    """One handler for the whole app: JSON under /api, HTML under /portal."""

    @app.errorhandler(DomainError)
    def _domain_error(err: DomainError):
        if err.keep_changes:
            commit()
        else:
            try:
                rollback()
            except DBAPIError:  # the connection is gone (an outage): nothing to undo, the pool replaces it
                log.debug("rollback failed", exc_info=True)
        return domain_error_answer(err)

    @app.errorhandler(StaleDataError)
    def _stale(err: StaleDataError):  # two writers saved the same record; the second is told
        return _domain_error(Conflict("该记录已被他人修改，请刷新后重试", code="edit_conflict"))

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        if isinstance(err, HTTPException):
            return http_error_response(err)
        if isinstance(err, RecursionError) and _body_nested_too_deep():
            # 100 000 levels of "[": the JSON parser gives up with RecursionError, not ValueError
            rollback()
            if not _is_api_request():
                return _portal_error_page(400)
            return error_payload(400, "bad_request", "请求体嵌套层级过深，无法解析"), 400
        if is_outage(err):  # nothing was committed by this request (a commit that failed raised here)
            log.warning("outage on %s %s: %s", request.method, request.path, type(err).__name__)
            try:
                rollback()
            except Exception:  # the connection is gone; the pool replaces it
                log.debug("rollback after an outage failed", exc_info=True)
            return _domain_error(ServiceUnavailable(OUTAGE_MESSAGE, retry_after=OUTAGE_RETRY_AFTER_SECONDS))
        _log_unexpected(err)
        rollback()
        if not _is_api_request():
            return _portal_error_page(500)
        return error_payload(500, "internal_error", HTTP_MESSAGES[500]), 500

    @app.errorhandler(429)
    def _too_many(err: HTTPException) -> Response:
        # Flask-Limiter raises RateLimitExceeded (a 429 HTTPException)
        if not _is_api_request():
            return _portal_error_page(429)
        return http_error_response(err)


def install_retry_after(app: Flask) -> None:
    """Make ``Retry-After`` say what the message says. Call before ``limiter.init_app``: after-request
    hooks run in reverse order, so this one runs after Flask-Limiter's, which writes the IP window's
    reset (e.g. 3,599 s) on every response of a limited route, 200s included, and overrides a domain
    error's shorter wait with it."""

    @app.after_request
    def _retry_after(response: Response) -> Response:
        domain_wait = g.pop("domain_retry_after", None)
        if response.status_code not in (429, 503):
            response.headers.pop("Retry-After", None)
        elif domain_wait is not None:
            response.headers["Retry-After"] = str(domain_wait)
        return response
