"""Forms of the trial admin's pages."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField


class AssignTherapistForm(FlaskForm):
    """Choices are set by the view: ("", nobody) and the active therapists."""

    therapist = SelectField(_l("Therapist"), choices=[], validate_choice=True)
