"""Forms of the therapist's assessment and plan pages."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, RadioField, SelectField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from icbt.intake.services import REASON_MAX
from icbt.tailoring.problems import PROBLEM_KEYS, PROBLEM_LABELS, SEVERITIES, problem_label, severity_label
from icbt.treatment.services import REASON_MIN


def _problem_choices():  # type: ignore[no-untyped-def]
    return [("", _l("Choose…"))] + [(k, problem_label(k)) for k in PROBLEM_KEYS]


def _severity_choices():  # type: ignore[no-untyped-def]
    return [(s, severity_label(s)) for s in SEVERITIES]


class AssessmentForm(FlaskForm):
    eligible = RadioField(
        _l("Can this person take part?"),
        choices=[("yes", _l("Yes, eligible")), ("no", _l("No, not eligible"))],
        validators=[InputRequired(_l("Choose whether the person is eligible."))],
    )
    primary = SelectField(_l("Primary problem"), choices=[], validate_choice=True, validators=[Optional()])
    primary_severity = RadioField(_l("Severity of the primary problem"), choices=[], validators=[Optional()])
    reason = TextAreaField(
        _l("Reason or notes"),
        validators=[Optional(), Length(max=REASON_MAX, message=_l("Please shorten this to %(max)d characters."))],
    )

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.primary.choices = _problem_choices()
        self.primary_severity.choices = _severity_choices()
        for key in PROBLEM_KEYS:
            getattr(self, f"comorbid_{key}").choices = [("", _l("Not present"))] + _severity_choices()

    def comorbid_fields(self):  # type: ignore[no-untyped-def]
        return [getattr(self, f"comorbid_{key}") for key in PROBLEM_KEYS]

    def comorbid(self) -> dict[str, str]:
        return {key: getattr(self, f"comorbid_{key}").data for key in PROBLEM_KEYS
                if getattr(self, f"comorbid_{key}").data}

    def validate_primary(self, field):  # type: ignore[no-untyped-def]
        if self.eligible.data == "yes" and not field.data:
            raise ValidationError(_l("Choose the primary problem."))

    def validate_primary_severity(self, field):  # type: ignore[no-untyped-def]
        if self.eligible.data == "yes" and not field.data:
            raise ValidationError(_l("Choose how severe the primary problem is."))

    def validate_reason(self, field):  # type: ignore[no-untyped-def]
        if self.eligible.data == "no" and not (field.data or "").strip():
            raise ValidationError(_l("Say why the person is not eligible."))

    def validate(self, extra_validators=None) -> bool:  # type: ignore[no-untyped-def]
        ok = super().validate(extra_validators)
        primary = self.primary.data
        if primary and getattr(self, f"comorbid_{primary}").data:
            getattr(self, f"comorbid_{primary}").errors.append(
                _l("The primary problem cannot also be comorbid."))
            ok = False
        return ok


for _key in PROBLEM_KEYS:
    setattr(AssessmentForm, f"comorbid_{_key}", SelectField(PROBLEM_LABELS[_key], choices=[], validators=[Optional()]))

_REASON = [
    InputRequired(_l("Write the reason for this change.")),
    Length(min=REASON_MIN, max=1000, message=_l("Write a reason of %(min)d to %(max)d characters.")),
]


class PlanChangeForm(FlaskForm):
    action = RadioField(
        _l("Change"),
        choices=[("add", _l("Add a module")), ("remove", _l("Remove a module")), ("move", _l("Move a module"))],
        validators=[InputRequired(_l("Choose what to change."))],
    )
    module = SelectField(_l("Module"), choices=[], validators=[InputRequired(_l("Choose a module."))])
    position = IntegerField(
        _l("New position (week)"),
        validators=[Optional(), NumberRange(min=1, max=52, message=_l("Choose a week from %(min)s to %(max)s."))],
    )
    reason = TextAreaField(_l("Reason"), validators=_REASON)


class ApproveForm(FlaskForm):
    start_date = DateField(_l("Start date (the first module opens on this day)"),
                           validators=[InputRequired(_l("Choose the start date."))])
    note = TextAreaField(_l("Note (optional)"), validators=[Optional(), Length(max=1000)])


class UnlockForm(FlaskForm):
    reason = TextAreaField(_l("Reason for opening it early"), validators=_REASON)


class CsrfForm(FlaskForm):
    """Nothing but the CSRF token (plain buttons)."""
