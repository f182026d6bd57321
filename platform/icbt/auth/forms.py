"""Logging in and out, and the second factor."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from icbt.textinput import PlainText


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(_l("Enter your e-mail address.")), Length(max=254), PlainText()])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password.")), Length(max=128), PlainText()])
    next = HiddenField()


class SecondFactorForm(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[DataRequired(_l("Enter the code.")), Length(max=32, message=_l("A code is 6 digits, a recovery code 10 characters.")), PlainText()],
    )


class ConfirmSetupForm(FlaskForm):
    code = StringField(
        _l("The 6-digit code your app shows now"),
        validators=[DataRequired(_l("Enter the code.")), Length(max=16, message=_l("A code is 6 digits.")), PlainText()],
    )
