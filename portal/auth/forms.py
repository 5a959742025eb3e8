from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length, Regexp


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired("请输入用户名"), Length(max=50)])
    password = PasswordField("密码", validators=[DataRequired("请输入密码"), Length(max=200)])


class TotpForm(FlaskForm):
    code = StringField(
        "动态验证码", validators=[DataRequired("请输入动态验证码"), Regexp(r"^\d{6}$", message="动态验证码为6位数字")]
    )


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("当前密码", validators=[DataRequired("请输入当前密码"), Length(max=200)])
    new_password = PasswordField(
        "新密码", validators=[DataRequired("请输入新密码"), Length(min=12, max=200, message="密码至少12位")]
    )
    confirm = PasswordField("再次输入新密码", validators=[DataRequired("请再次输入新密码"), Length(max=200)])
