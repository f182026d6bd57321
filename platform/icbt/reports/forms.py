"""Forms of the analysis pages (Flask-WTF: CSRF on)."""
from __future__ import annotations

from typing import Sequence

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField

from icbt.trials.models import Trial


class StartRunForm(FlaskForm):
    trial_id = SelectField(_l("Trial"), coerce=int)
    include_free_text = BooleanField(
        _l("Include free text in the exports"),
        description=_l("Off by default. Free text (such as staff correction notes) can identify a person; "
                       "when included, the codebook flags it."),
    )

    def __init__(self, trials: Sequence[Trial], *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.trial_id.choices = [(t.id, t.name) for t in trials]


class RunActionForm(FlaskForm):
    """A button that changes a run (cancel, start again): only the CSRF token."""
