"""Forms of the patient's programme pages (the worksheet form is built from module data)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from icbt.intake.services import FREE_TEXT_MAX, RATING_MAX, RATING_MIN
from icbt.tailoring.problems import PROBLEM_KEYS, PROBLEM_QUESTIONS

RATING_CHOICES = [(str(n), str(n)) for n in range(RATING_MIN, RATING_MAX + 1)]


class ScreeningForm(FlaskForm):
    """One 0-10 rating per problem area, and the patient's own words."""

    free_text = TextAreaField(
        _l("Anything else you want your therapist to know?"),
        validators=[Optional(), Length(max=FREE_TEXT_MAX, message=_l("Please shorten this to %(max)d characters."))],
    )

    def ratings(self) -> dict[str, int]:
        return {key: int(getattr(self, f"rating_{key}").data) for key in PROBLEM_KEYS}

    def rating_fields(self):  # type: ignore[no-untyped-def]
        return [getattr(self, f"rating_{key}") for key in PROBLEM_KEYS]


for _key in PROBLEM_KEYS:
    setattr(ScreeningForm, f"rating_{_key}", RadioField(
        PROBLEM_QUESTIONS[_key], choices=RATING_CHOICES,
        validators=[InputRequired(_l("Please choose a number from 0 to 10."))],
    ))


class CsrfForm(FlaskForm):
    """A form with nothing but its CSRF token (buttons, and the worksheet form)."""
