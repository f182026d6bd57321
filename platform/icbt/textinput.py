"""Checks on text that people type, shared by every form.

PostgreSQL refuses NUL bytes and SQLite stores anything, so text is checked before it
reaches either: control characters are refused (single-line fields: all of them;
multi-line fields: all but tab, CR and LF), and so are the Unicode controls that reorder
text on screen (right-to-left overrides and isolates), which let a name or an address
display as something else. Four-byte characters (emoji and the like) are ordinary text.

``csv_safe`` is for exports: a cell that a spreadsheet would run as a formula gets a
leading apostrophe (OWASP CSV injection).
"""
from __future__ import annotations

import re
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms.validators import ValidationError

_CONTROL_SINGLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_MULTI = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_EMAIL = re.compile(r"^[^\s@]{1,64}@[^\s@]+\.[^\s@.]+$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def has_control_characters(value: str, *, multiline: bool = False) -> bool:
    return bool((_CONTROL_MULTI if multiline else _CONTROL_SINGLE).search(value))


def has_bidi_controls(value: str) -> bool:
    return bool(_BIDI.search(value))


def is_email_address(value: str) -> bool:
    return (
        len(value) <= 254
        and bool(_EMAIL.match(value))
        and not has_control_characters(value)
        and not has_bidi_controls(value)
    )


def csv_safe(value: Any) -> Any:
    """``value`` made safe for a CSV cell that a spreadsheet may open."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class PlainText:
    """WTForms validator: no control characters (and, unless ``allow_bidi``, no
    reordering controls). Use on every free-text field."""

    def __init__(self, *, multiline: bool = False, allow_bidi: bool = False, message: str | None = None) -> None:
        self.multiline = multiline
        self.allow_bidi = allow_bidi
        self.message = message

    def __call__(self, form: Any, field: Any) -> None:
        value = field.data
        if not isinstance(value, str):
            return
        if has_control_characters(value, multiline=self.multiline):
            raise ValidationError(self.message or _l("Remove the invisible control characters from this field."))
        if not self.allow_bidi and has_bidi_controls(value):
            raise ValidationError(self.message or _l("Remove the invisible text-direction characters from this field."))


class EmailAddress:
    """WTForms validator: a plausible e-mail address (one @, a dot in the domain, no
    spaces or invisible characters, at most 254 characters)."""

    def __init__(self, message: str | None = None) -> None:
        self.message = message

    def __call__(self, form: Any, field: Any) -> None:
        value = (field.data or "").strip()
        if value and not is_email_address(value):
            raise ValidationError(self.message or _l("Enter an e-mail address like name@example.org."))
