from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from icbt.textinput import EmailAddress, PlainText


class NameForm(FlaskForm):
    display_name = StringField(_l("Name"), validators=[
        DataRequired(_l("Enter a name.")), Length(max=120, message=_l("Use at most %(max)d characters.")), PlainText(),
    ])


class ConfirmIdentityForm(FlaskForm):
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password.")), Length(max=128), PlainText()])
    code = StringField(_l("Code from your app"), validators=[Length(max=32), PlainText()])


class PasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(_l("Enter a new password.")), PlainText()])
    confirm = PasswordField(_l("New password again"), validators=[
        DataRequired(_l("Enter the new password again.")), EqualTo("password", _l("The two passwords are not the same.")),
    ])


class EmailForm(FlaskForm):
    email = EmailField(_l("New e-mail address"), validators=[
        DataRequired(_l("Enter an e-mail address.")), Length(max=254, message=_l("Use at most %(max)d characters.")),
        PlainText(), EmailAddress(),
    ])
