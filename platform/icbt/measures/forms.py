"""Forms for answering, correcting and acknowledging. The questionnaire form is built from
the instrument's data: one radio group per item, every item optional (a draft may be
partial; missing items are handled by the scoring rules)."""
from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from icbt.measures.instruments import Instrument

try:  # WTForms 3.3+: choices as SelectChoice objects (tuples are deprecated there)
    from wtforms.fields.choices import SelectChoice
except ImportError:  # pragma: no cover - older WTForms
    SelectChoice = None  # type: ignore[assignment,misc]


def _choice(value: int, label: str) -> Any:
    return SelectChoice(value, label) if SelectChoice is not None else (value, label)


def _no_control_characters(form: Any, field: Any) -> None:
    if field.data and any(ord(c) < 32 and c not in "\n\r\t" for c in field.data):
        raise ValidationError(_l("Remove the special characters from the text."))


class _QuestionnaireBase(FlaskForm):
    idempotency_key = HiddenField()
    wording_version = HiddenField()
    confirm_incomplete = BooleanField(_l("Send my answers even though some questions are unanswered"))
    save = SubmitField(_l("Save and finish later"))
    send = SubmitField(_l("Send my answers"))


class _CorrectionBase(FlaskForm):
    reason = TextAreaField(
        _l("Reason for the correction"),
        validators=[DataRequired(_l("Give the reason for the correction.")), Length(min=5, max=2000), _no_control_characters],
    )
    send = SubmitField(_l("Save the correction"))


def item_field_name(number: int) -> str:
    return f"item_{number}"


def _with_items(base: type, instrument: Instrument, texts: dict[str, Any]) -> type:
    attrs: dict[str, Any] = {}
    for item in instrument.items:
        shown = texts["items"][item.number]
        attrs[item_field_name(item.number)] = RadioField(
            shown["text"],
            choices=[_choice(value, label) for value, label in shown["options"]],
            coerce=int,
            validators=[Optional()],
        )
    return type(f"{base.__name__}_{instrument.id.replace('-', '_')}", (base,), attrs)


def questionnaire_form(instrument: Instrument, texts: dict[str, Any], **kwargs: Any) -> FlaskForm:
    return _with_items(_QuestionnaireBase, instrument, texts)(**kwargs)


def correction_form(instrument: Instrument, texts: dict[str, Any], **kwargs: Any) -> FlaskForm:
    return _with_items(_CorrectionBase, instrument, texts)(**kwargs)


def answers_from(form: FlaskForm, instrument: Instrument) -> dict[int, int | None]:
    return {item.number: getattr(form, item_field_name(item.number)).data for item in instrument.items}


class AcknowledgeAlertForm(FlaskForm):
    note = TextAreaField(
        _l("What you did"),
        description=_l("For example: phoned the patient, agreed a safety plan, referred to emergency care."),
        validators=[DataRequired(_l("Write a short note on what you did.")), Length(max=4000), _no_control_characters],
    )
    send = SubmitField(_l("Acknowledge the alert"))
