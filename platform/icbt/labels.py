"""Our own short labels for domain values, written for translation. Registered as filters."""
from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l

from icbt.i18n import label

STATUS_LABELS = {
    "applicant": _l("Screening"),
    "screened": _l("Waiting for assessment"),
    "eligible": _l("Waiting for randomisation"),
    "excluded": _l("Not included"),
    "randomised": _l("Randomised, not started"),
    "active": _l("In programme"),
    "completed": _l("Completed"),
    "withdrawn": _l("Withdrawn"),
}

ARM_LABELS = {
    None: _l("Not randomised"),
    "treatment": _l("Treatment"),
    "waitlist": _l("Waiting list"),
}


def status_label(value: str) -> str:
    return label(STATUS_LABELS, value)


def arm_label(value: str | None) -> str:
    return label(ARM_LABELS, value)


def register_filters(app: Flask) -> None:
    app.add_template_filter(status_label)
    app.add_template_filter(arm_label)
