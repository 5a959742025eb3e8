"""Domain errors. Services raise these; one handler at the edge maps them to HTTP."""

from __future__ import annotations


class DomainError(Exception):
    """Base class. ``message`` is Simplified Chinese, shown to users."""

    status = 400
    code = "bad_request"
    message = "请求有误"

    def __init__(
        self,
        message: str | None = None,
        *,
        errors: dict | None = None,
        code: str | None = None,
        keep_changes: bool = False,
    ):
        super().__init__(message or self.message)
        # keep_changes: the edge commits what the service recorded before raising
        # (a failed log-in attempt counted, a reused refresh token's session revoked).
        self.keep_changes = keep_changes
        if message:
            self.message = message
        if code:
            self.code = code
        self.errors = errors or {}


class ValidationFailed(DomainError):
    status = 422
    code = "validation_failed"
    message = "提交的信息有误，请检查后重试"


class NotFound(DomainError):
    status = 404
    code = "not_found"
    message = "未找到该记录"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    message = "操作冲突，请刷新后重试"


class AuthenticationFailed(DomainError):
    status = 401
    code = "unauthenticated"
    message = "登录已失效，请重新登录"


class SignatureFailed(AuthenticationFailed):
    """A department's signed call is refused (core/exchange/signing.py); ``code`` says why."""

    code = "signature_invalid"
    message = "签名校验失败"


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"
    message = "您没有权限执行此操作"


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"
    message = "操作过于频繁，请稍后再试"

    def __init__(self, message: str | None = None, *, retry_after: int | None = None, **kw):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ExternalServiceError(DomainError):
    status = 502
    code = "upstream_error"
    message = "外部服务暂时不可用，请稍后再试"


class ServiceUnavailable(DomainError):
    """A dependency is down (circuit open, time-out): nothing was changed; retry later.

    ``retry_after`` (seconds) becomes the ``Retry-After`` header; None when retrying will not help
    (a method that is not enabled)."""

    status = 503
    code = "service_unavailable"
    message = "服务暂时不可用，请稍后再试"

    def __init__(self, message: str | None = None, *, retry_after: int | None = None, **kw):
        super().__init__(message, **kw)
        self.retry_after = retry_after
