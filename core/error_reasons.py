"""Every error reason the API can answer with: the ``status`` field of ``{code, status, message, errors}``.

One registry for the error handler and the OpenAPI document (the ``ApiError.status`` enum, each operation's
error responses, docs/api-guide.md). A reason is stable: clients branch on it, never on ``message``, which
is Simplified Chinese for the user and may carry details (a wait time, a status) beyond the typical text here.
``tests/api/test_openapi_contract.py`` checks that every ``code="…"`` raised in ``core/`` and the edges is here,
with the HTTP status of the error class that raises it, and that every entry here is raised somewhere.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    status: int  # the HTTP status it comes with
    message: str  # the typical Chinese message (the real one may be more specific)


def _r(status: int, message: str) -> Reason:
    return Reason(status, message)


# --- generic reasons: the HTTP layer (routing, parsing, limits) and the base domain errors ------------------
GENERIC: dict[str, Reason] = {
    "bad_request": _r(400, "请求格式不正确"),
    "unauthorized": _r(401, "请先登录"),
    "unauthenticated": _r(401, "请先登录"),
    "forbidden": _r(403, "您没有权限执行此操作"),
    "not_found": _r(404, "未找到该资源"),
    "method_not_allowed": _r(405, "不支持该请求方法"),
    "conflict": _r(409, "操作冲突，请刷新后重试"),
    "request_entity_too_large": _r(413, "提交的内容过大"),
    "unsupported_media_type": _r(415, "不支持的内容类型"),
    "unprocessable_entity": _r(422, "提交的信息有误，请检查后重试"),
    "validation_failed": _r(422, "提交的信息有误，请检查后重试"),
    "too_many_requests": _r(429, "操作过于频繁，请稍后再试"),
    "rate_limited": _r(429, "操作过于频繁，请稍后再试"),
    "internal_error": _r(500, "系统繁忙，请稍后再试"),
    "upstream_error": _r(502, "外部服务暂时不可用，请稍后再试"),
    "service_unavailable": _r(503, "服务暂时不可用，请稍后再试"),
    "http_error": _r(400, "请求失败"),  # any other HTTP status the server may answer (its code says which)
}

# The reason of an HTTP-level error (router, parser, Flask-Limiter), by status.
HTTP_REASONS: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "request_entity_too_large",
    415: "unsupported_media_type",
    422: "unprocessable_entity",
    429: "too_many_requests",
    500: "internal_error",
    502: "upstream_error",
    503: "service_unavailable",
}

# --- domain reasons, by area ----------------------------------------------------------------------------
DOMAIN: dict[str, Reason] = {
    # log-in and tokens (core/accounts)
    "token_invalid": _r(401, "登录凭证无效，请重新登录"),
    "token_expired": _r(401, "登录已过期，请重新登录"),
    "session_revoked": _r(401, "登录已失效，请重新登录"),
    "account_disabled": _r(401, "账号不可用"),
    "refresh_invalid": _r(401, "登录凭证无效，请重新登录"),
    "refresh_reused": _r(401, "登录凭证已被使用，为安全起见请重新登录"),
    "refresh_expired": _r(401, "登录已过期，请重新登录"),
    "sms_too_soon": _r(429, "验证码已发送，请60秒后再试"),
    "sms_daily_limit": _r(429, "今日获取验证码次数已达上限，请明天再试"),
    "sms_code_expired": _r(401, "验证码已过期，请重新获取"),
    "sms_code_locked": _r(401, "验证码错误次数过多，请重新获取"),
    "sms_code_wrong": _r(401, "验证码错误，还可尝试4次"),
    "wechat_unavailable": _r(502, "微信登录服务暂时不可用，请稍后再试"),
    "wechat_code_invalid": _r(401, "微信登录凭证无效或已使用，请重新登录"),
    "wechat_rate_limited": _r(502, "微信登录过于频繁，请稍后再试"),
    "wechat_error": _r(502, "微信登录失败，请稍后再试"),
    "alipay_not_configured": _r(503, "支付宝登录暂未开通，请使用手机号登录"),
    "alipay_unavailable": _r(502, "支付宝登录服务暂时不可用，请稍后再试"),
    "alipay_signature_invalid": _r(502, "支付宝登录结果校验失败，请稍后再试"),
    "alipay_error": _r(502, "支付宝登录失败，请稍后再试"),
    "alipay_code_invalid": _r(401, "支付宝授权码无效或已使用，请重新登录"),
    "user_not_found": _r(404, "该手机号尚未注册"),
    # officers (portal; never from the mini-program API)
    "officer_not_found": _r(404, "未找到该用户名的经办人员"),
    "login_failed": _r(401, "用户名或密码错误"),
    "account_locked": _r(401, "登录失败次数过多，账号已暂时锁定，请稍后再试"),
    "totp_failed": _r(401, "动态验证码错误或已使用"),
    "session_not_found": _r(404, "未找到该登录会话，可能已结束"),
    # real name (core/identity)
    "real_name_already_verified": _r(409, "您已完成实名核验"),
    "rebind_reason_required": _r(422, "更换实名身份须说明原因（至少4个字）"),
    "rebind_too_soon": _r(409, "30天内只能更换一次实名身份，如有需要请到乡镇（街道）窗口办理"),
    "real_name_claim_required": _r(409, "请先填写姓名和身份证号码"),
    "real_name_verifying": _r(409, "正在核验中，请稍候查看结果"),
    "real_name_attempts_exceeded": _r(429, "今日实名核验失败次数过多，请明天再试或到乡镇（街道）窗口核验"),
    "phone_required": _r(422, "该方式需要用手机号登录；请用手机号登录或换用人脸核验"),
    "wechat_required": _r(422, "该方式需要用微信登录"),
    "verification_not_found": _r(404, "未找到该核验"),
    "identity_service_down": _r(503, "身份核验服务暂时不可用，请稍后再试或换用其他核验方式"),
    "identity_service_disabled": _r(503, "身份核验服务未开通，请换用人脸核验"),
    "platform_down": _r(503, "微信实名核验暂时不可用，请稍后再试或换用其他核验方式"),
    "platform_disabled": _r(503, "微信实名核验未开通，请换用其他方式"),
    # face challenges (core/liveness)
    "challenge_required": _r(422, "请先获取动作提示"),
    "challenge_invalid": _r(404, "动作提示无效，请重新获取"),
    "challenge_used": _r(409, "动作提示已使用，请重新获取"),
    "challenge_expired": _r(409, "动作提示已过期，请重新获取后在规定时间内拍摄"),
    # applications (core/applications)
    "application_not_found": _r(404, "未找到该申请"),
    "real_name_required": _r(403, "请先填写实名信息（姓名、身份证号）后再申请"),
    "real_name_unverified": _r(403, "请先完成实名核验后再提交申请"),
    "applicant_not_verified_person": _r(403, "申请人身份证号与您核验的实名身份不一致；为他人申请请选择代办"),
    "not_editable": _r(409, "申请已提交，不能再修改"),
    "not_a_draft": _r(409, "已提交的申请不能删除，如需撤回请使用撤回功能"),
    "already_submitted": _r(409, "申请已提交，不能重复提交"),
    "duplicate_application": _r(409, "您已有一件办理中的最低生活保障申请，请勿重复申请；如需修改请先撤回原申请"),
    "not_withdrawable": _r(409, "申请已审批，不能撤回"),
    "no_correction_requested": _r(409, "当前没有需要补正的材料"),
    "attachment_not_found": _r(404, "未找到该材料"),
    "pdf_active_content": _r(
        422, "PDF文件包含脚本、自动操作、表单提交或嵌入文件，不能上传。请另存为普通PDF或拍照后上传"
    ),
    "invalid_transition": _r(409, "当前状态不能执行该操作"),
    "invalid_case_transition": _r(409, "案件当前状态不能执行该操作"),
    "window_verification_forbidden": _r(403, "只有乡镇（街道）经办人员可以记录窗口实名核验"),
    "edit_conflict": _r(409, "该记录已被他人修改，请刷新后重试"),
    "claimed_by_other": _r(409, "该环节已由其他经办人员领取"),
    "notice_running": _r(409, "公示期未满，期满后才能结束公示"),
    "already_extended": _r(409, "办理期限只能延长一次"),
    "conflict_not_found": _r(404, "未找到该成员核实事项"),
    "conflict_resolved": _r(409, "该成员信息已核实处理"),
    "conflict_lapsed": _r(409, "该事项已解除，无需核实"),
    "case_not_found": _r(404, "未找到该案件"),
    # household-member authorizations (core/authorizations)
    "authorization_not_found": _r(404, "未找到该成员的授权"),
    "authorization_locked": _r(409, "人脸核验失败次数过多，请到乡镇（街道）窗口办理授权"),
    "already_authorized": _r(409, "该成员已完成授权"),
    "authorization_revoked": _r(409, "该授权已撤销"),
    "authorization_token_invalid": _r(404, "授权链接无效"),
    "authorization_token_revoked": _r(409, "授权链接已失效，请向申请人索取新的二维码"),
    "authorization_token_used": _r(409, "授权链接已使用"),
    "authorization_token_expired": _r(409, "授权链接已过期，请向申请人索取新的二维码"),
    "authorization_wrong_person": _r(403, "该授权码不是发给您的，请本人扫码"),
    "identity_mismatch": _r(422, "身份证号码与该家庭成员不一致"),
    "identity_not_confirmed": _r(409, "请先由本人输入身份证号码确认身份"),
    "evidence_conflict": _r(409, "其他家庭成员正在同时授权，请稍后重试"),
    "face_check_pending": _r(409, "人脸核验尚未完成，请稍候"),
    "face_not_verified": _r(409, "请先完成人脸核验"),
    "face_check_expired": _r(409, "人脸核验已超过10分钟，请重新核验后签名"),
    "verification_started": _r(409, "信息核对已开始，不能撤销授权"),
    # reports (core/reports)
    "report_not_found": _r(404, "未找到该报告"),
    "reporter_outside_region": _r(422, "您的网格员身份仅限在授权区域范围内报告；其他地方请以居民身份报告"),
    "report_daily_cap": _r(
        429, "今日报告次数已达上限（3次），请5小时后再试；如情况紧急请直接联系乡镇（街道）或拨打求助电话"
    ),
    "is_duplicate": _r(409, "该报告已并入另一份报告，请在原报告中处理"),
    "not_duplicate": _r(409, "该报告不是重复报告"),
    # registry (core/registry)
    "benefit_not_found": _r(404, "未找到该待遇记录"),
    "enrollment_not_found": _r(404, "未找到该救助对象"),
    "invalid_enrollment_transition": _r(409, "该救助对象当前状态不能进行此项变更"),
    "county_only": _r(403, "该操作由县级民政部门办理"),
    # registry: transfers
    "transfer_not_found": _r(404, "未找到该资格转移"),
    "transfer_open": _r(409, "该待遇已有进行中的资格转移，请等待办理或先撤回"),
    "transfer_not_allowed": _r(409, "该待遇当前状态不能申请资格转移"),
    "transfer_not_cancellable": _r(409, "原县已处理该资格转移，不能撤回"),
    "invalid_transfer_transition": _r(409, "该资格转移当前状态不能办理此操作"),
    # registry: reviews
    "review_campaign_not_found": _r(404, "未找到该复核活动"),
    "review_task_not_found": _r(404, "未找到该复核任务"),
    "review_campaign_exists": _r(409, "本县已有同名的复核活动，不能重复发起"),
    "review_campaign_closed": _r(409, "该复核活动已结束"),
    "review_campaign_unfinished": _r(409, "还有未完成的复核任务，全部完成后才能结束"),
    "review_task_done": _r(409, "该复核任务已记录结果，不能重复记录"),
    "review_task_lapsed": _r(409, "该救助对象已退出或转出，本复核任务已结束"),
    # registry: rolls (payment rolls, core/registry/rolls.py; portal only)
    "roll_not_found": _r(404, "未找到该发放名册"),
    "roll_not_draft": _r(409, "该发放名册已提交审核或已锁定，不能重新生成"),
    "roll_not_submitted": _r(409, "发放名册须先提交审核，才能审核锁定"),
    "roll_locked": _r(409, "该发放名册已锁定"),
    "roll_not_locked": _r(409, "发放名册审核锁定后才能导出银行代发文件"),
    "roll_empty": _r(409, "发放名册没有任何对象，不能提交"),
    "roll_outdated": _r(409, "名册生成后救助对象有变化，请重新生成草稿"),
    "roll_two_person": _r(403, "审核锁定须由生成和提交名册以外的另一名县级经办人员办理（双人复核）"),
    # regions
    "region_not_found": _r(404, "未找到该行政区划代码"),
    # idempotency keys (core/idempotency)
    "idempotency_key_reused": _r(422, "该 Idempotency-Key 已用于另一个不同的请求"),
    "idempotency_in_progress": _r(409, "相同的请求正在处理中，请稍后查看结果"),
    # department exchange: signed calls (core/exchange/signing.py, clients.py) and events
    "signature_missing": _r(401, "请求未签名或签名参数格式不正确"),
    "signature_invalid": _r(401, "签名校验失败"),
    "signature_expired": _r(401, "签名时间与服务器时间相差超过5分钟"),
    "signature_replayed": _r(401, "该请求已处理过（nonce 重复），请重新签名后发送"),
    "digest_mismatch": _r(401, "请求体与 Content-Digest 不一致"),
    "client_unknown": _r(401, "接入凭证无效或已吊销"),
    "category_not_allowed": _r(403, "该接入系统无权报送此类数据"),
    "load_not_found": _r(404, "未找到该批次"),
    "department_not_found": _r(404, "未找到该部门"),
    "department_exists": _r(409, "部门代码已存在"),
    "client_not_found": _r(404, "未找到该接入系统"),
    "client_revoked": _r(409, "该接入系统已吊销"),
    # warnings (core/warnings)
    "warning_not_found": _r(404, "未找到该预警"),
    "warning_not_open": _r(409, "该预警已核查"),
    "warning_not_confirmed": _r(409, "只有核实属实的预警可以处置"),
    "monitoring_disposition_required": _r(409, "动态监测预警请在监测处置表单中办理"),
    # economic checks (core/checks)
    "check_running": _r(409, "核对正在进行中，请稍后再试"),
    "check_not_done": _r(409, "核对报告尚未生成"),
    "check_not_found": _r(404, "核对报告尚未生成"),
    # monitoring (core/monitoring)
    "rules_county_only": _r(403, "只有县级民政部门可以设置监测规则"),
    "rules_not_found": _r(404, "未找到该县（区）的监测规则"),
    "rules_not_draft": _r(409, "只有草稿可以启用"),
    "not_monitoring": _r(409, "该预警不是动态监测预警"),
}

REASONS: dict[str, Reason] = {**GENERIC, **DOMAIN}

# Reasons every secured operation may answer with (a missing, invalid or ended log-in).
AUTH_REASONS = ("unauthenticated", "token_invalid", "token_expired", "session_revoked", "account_disabled")
# Reasons every signed department call may answer with (core/exchange/signing.py).
SIGNATURE_REASONS = (
    "signature_missing",
    "signature_invalid",
    "signature_expired",
    "signature_replayed",
    "digest_mismatch",
    "client_unknown",
)
# Portal-only reasons: raised in core/ for officers, never by the mini-program API (left out of its enum).
PORTAL_ONLY = frozenset(
    {
        "department_not_found",
        "department_exists",
        "client_not_found",
        "client_revoked",
        "warning_not_found",
        "warning_not_open",
        "warning_not_confirmed",
        "monitoring_disposition_required",
        "check_running",
        "check_not_done",
        "check_not_found",
        "rules_county_only",  # monitoring
        "rules_not_found",
        "rules_not_draft",
        "not_monitoring",
        "officer_not_found",
        "login_failed",
        "account_locked",
        "totp_failed",
        "session_not_found",
        "user_not_found",
        "invalid_transition",
        "invalid_case_transition",
        "window_verification_forbidden",
        "claimed_by_other",
        "notice_running",
        "already_extended",
        "conflict_not_found",
        "conflict_resolved",
        "conflict_lapsed",
        "is_duplicate",
        "not_duplicate",
        "enrollment_not_found",
        "invalid_enrollment_transition",
        "county_only",
        "invalid_transfer_transition",  # registry: transfers
        # registry: reviews
        "review_campaign_not_found",
        "review_task_not_found",
        "review_campaign_exists",
        "review_campaign_closed",
        "review_campaign_unfinished",
        "review_task_done",
        "review_task_lapsed",
        # registry: rolls
        "roll_not_found",
        "roll_not_draft",
        "roll_not_submitted",
        "roll_locked",
        "roll_not_locked",
        "roll_empty",
        "roll_outdated",
        "roll_two_person",
    }
)


def http_reason(status: int) -> str:
    return HTTP_REASONS.get(status, "http_error")


def message(reason: str, status: int | None = None) -> str:
    """The typical Chinese message of a reason (or of a status, for an unknown reason)."""
    if reason in REASONS:
        return REASONS[reason].message
    return REASONS[http_reason(status or 400)].message


def api_reasons() -> dict[str, Reason]:
    """The reasons the mini-program API can answer with, in a stable order (the ``ApiError.status`` enum)."""
    return {k: v for k, v in REASONS.items() if k not in PORTAL_ONLY}
