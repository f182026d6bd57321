"""Forms of messaging. Choices come from the participant's own records, so an id that is
not theirs fails validation instead of linking a message to someone else's homework."""
from __future__ import annotations

import uuid

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields import DateField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


class MessageForm(FlaskForm):
    body = TextAreaField(_l("Your message"), render_kw={"rows": 8})
    idempotency_key = HiddenField()
    about = SelectField(_l("This message is about"), choices=[SelectChoice("", _l("Nothing in particular"))], default="")
    is_feedback = BooleanField(_l("This is my weekly feedback on the chosen homework (marks it reviewed)"))
    snippet_id = SelectField(_l("Snippet"), choices=[SelectChoice("", _l("Choose a snippet"))], default="",
                             validate_choice=False)

    def set_about_choices(self, modules: list[tuple[str, str]], homework: list[tuple[int, str]]) -> None:
        choices = [SelectChoice("", str(_l("Nothing in particular")))]
        choices += [SelectChoice(f"h:{hid}", label) for hid, label in homework]
        choices += [SelectChoice(f"m:{mid}", title) for mid, title in modules]
        self.about.choices = choices

    def about_refs(self) -> tuple[str | None, int | None]:
        """(module id, homework id) chosen in ``about``."""
        value = self.about.data or ""
        if value.startswith("m:"):
            return value[2:], None
        if value.startswith("h:") and value[2:].isdigit():
            return None, int(value[2:])
        return None, None


class RetractForm(FlaskForm):
    note = StringField(_l("Why you withdraw it (optional)"), validators=[Optional(), Length(max=500)])


class SnippetForm(FlaskForm):
    title = StringField(_l("Title"), validators=[InputRequired(_l("Give the snippet a short title.")), Length(max=80)])
    body = TextAreaField(_l("Text"), validators=[InputRequired(_l("Write the snippet's text.")), Length(max=3000)],
                         render_kw={"rows": 6})


class TimeCorrectionForm(FlaskForm):
    day = DateField(_l("Day"), validators=[InputRequired(_l("Enter the day the time was spent."))])
    minutes = IntegerField(
        _l("Minutes to add (negative to subtract)"),
        validators=[InputRequired(_l("Enter a number of minutes.")),
                    NumberRange(min=-600, max=600, message=_l("Enter between -600 and 600 minutes."))],
    )
    reason = StringField(_l("Reason"), validators=[InputRequired(_l("Say why the time is corrected.")), Length(max=500)])
