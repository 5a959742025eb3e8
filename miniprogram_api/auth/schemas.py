from __future__ import annotations

from marshmallow import Schema, fields, validate

from miniprogram_api.schemas import StrictSchema

PHONE = fields.String(
    required=True,
    validate=validate.Regexp(r"^1[3-9]\d{9}$", error="请输入正确的11位手机号码"),
    metadata={"description": "Mainland mobile number, 11 digits", "example": "13800138000"},
)


class SmsSendIn(StrictSchema):
    """Where to send the code."""

    phone = PHONE


class SmsSendOut(Schema):
    expires_in = fields.Integer(metadata={"description": "Seconds the code stays valid"})
    resend_after = fields.Integer(metadata={"description": "Seconds before another code may be asked"})
    dev_code = fields.String(
        metadata={"description": "Development and testing only: the code itself. Never in production."}
    )


class SmsVerifyIn(StrictSchema):
    phone = PHONE
    code = fields.String(
        required=True,
        validate=validate.Regexp(r"^\d{6}$", error="验证码为6位数字"),
        metadata={"description": "The 6-digit code from the SMS", "example": "482913"},
    )


class TokenOut(Schema):
    access_token = fields.String(metadata={"description": "JWT, send as `Authorization: Bearer …`"})
    refresh_token = fields.String(metadata={"description": "Opaque; single use; exchange at /auth/refresh"})
    token_type = fields.String(metadata={"enum": ["Bearer"], "description": "Always Bearer"})
    expires_in = fields.Integer(metadata={"description": "Access token lifetime in seconds"})


class RefreshIn(StrictSchema):
    refresh_token = fields.String(
        required=True,
        validate=validate.Length(min=10, max=200),
        metadata={"description": "The refresh token of the last pair (single use)"},
    )


class WechatLoginIn(StrictSchema):
    code = fields.String(
        required=True,
        validate=validate.Length(min=1, max=128, error="微信登录凭证长度不正确"),
        metadata={"description": "The code from wx.login()"},
    )


class AlipayLoginIn(StrictSchema):
    auth_code = fields.String(
        required=True,
        validate=validate.Length(min=1, max=128, error="支付宝授权码长度不正确"),
        metadata={"description": "The auth_code from my.getAuthCode / the H5 authorization redirect"},
    )
