"""Where an officer's daily digest goes: the portal inbox, an SMS to the work phone, or a WeChat
subscription message to the bound openid. Set by the officer on the account page; audited."""

from __future__ import annotations

import re

from core.accounts.models import Officer
from core.accounts.services import validate_phone
from core.actor import Actor
from core.audit import services as audit
from core.errors import NotFound, ValidationFailed
from core.notifications import inbox

DIGEST_CHANNELS = {"inbox": "经办平台通知中心", "sms": "短信", "wechat": "微信"}


def set_digest_channel(actor: Actor, officer: Officer, channel: str, phone: str | None) -> Officer:
    """The officer's own preference (an officer cannot set another's)."""
    if actor.kind != "officer" or actor.id != officer.id:
        raise NotFound()
    errors: dict[str, list[str]] = {}
    if channel not in DIGEST_CHANNELS:
        errors["channel"] = ["请选择接收方式"]
    phone = (phone or "").strip() or None
    if phone is not None:
        try:
            phone = validate_phone(phone)
        except ValidationFailed as err:
            errors.update(err.errors)
    if channel == "sms" and phone is None and "phone" not in errors:
        errors["phone"] = ["选择短信接收时请填写手机号码"]
    if channel == "wechat" and not officer.wechat_openid:
        errors["channel"] = ["尚未绑定微信，请联系管理员绑定后再选择微信接收"]
    if errors:
        raise ValidationFailed(errors=errors)
    before = (officer.digest_channel, officer.phone)
    officer.digest_channel, officer.phone = channel, phone
    audit.record(
        actor,
        "officer.digest_preference",
        officer,
        region=officer.region_code,
        channel=channel,
        previous_channel=before[0],
        phone_changed=before[1] != phone,
    )
    return officer


def digest_route(officer: Officer) -> tuple[str, str]:
    """The outbox channel and recipient for this officer's digest; the inbox when the chosen channel
    has no address (a phone removed, WeChat unbound)."""
    if officer.digest_channel == "sms" and officer.phone:
        return "sms", officer.phone
    if officer.digest_channel == "wechat" and officer.wechat_openid:
        return "wechat", officer.wechat_openid
    return inbox.CHANNEL, inbox.recipient_for(officer.id)


OPENID_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def bind_wechat(actor: Actor, officer: Officer, openid: str | None) -> Officer:
    """An administrator binds the officer's WeChat openid (empty: unbind; a digest set to WeChat then
    goes to the inbox until the officer chooses again)."""
    openid = (openid or "").strip() or None
    if openid is not None and not OPENID_RE.match(openid):
        raise ValidationFailed(errors={"openid": ["openid格式不正确"]})
    officer.wechat_openid = openid
    if openid is None and officer.digest_channel == "wechat":
        officer.digest_channel = "inbox"
    audit.record(actor, "officer.wechat_bind", officer, region=officer.region_code, bound=openid is not None)
    return officer
