"""Worksheet answers: from a submitted form to a draft, and from a draft to checked data.

Pure functions over the field definitions of a module (``FieldSpec``). A *draft* keeps what
the person typed, as text, even when it is not valid yet (nothing typed is lost); handing
in *validates* the draft and turns it into typed values, or returns a message per field.

Form names: ``w.<field>`` for a field, ``w.<field>.<row>.<column>`` for a cell of a
``rows`` field (rows numbered from 0).
"""
from __future__ import annotations

import math
from typing import Any, Mapping

from flask_babel import lazy_gettext as _l

from icbt.content.library import FieldSpec, Worksheet
from icbt.content.text import clean_user_text

HARD_TEXT_LIMIT = 20000  # what a draft keeps at most per text, whatever the field allows
SHORT_LIMIT = 60  # numbers, scale points and choices are short

Raw = dict[str, Any]


def input_name(field_id: str, row: int | None = None, column: str | None = None) -> str:
    if row is None:
        return f"w.{field_id}"
    return f"w.{field_id}.{row}.{column}"


def _raw_value(spec: FieldSpec, value: Any) -> str:
    if spec.type == "text":
        return clean_user_text(value, HARD_TEXT_LIMIT, multiline=spec.multiline)
    return clean_user_text(value, SHORT_LIMIT, multiline=False)


def draft_from_form(worksheet: Worksheet, form: Mapping[str, Any]) -> Raw:
    """What the form holds, cleaned of control characters, as text; empty rows dropped."""
    raw: Raw = {}
    for spec in worksheet.fields:
        if spec.type == "rows":
            rows = []
            for r in range(spec.max_rows):
                row = {col.id: _raw_value(col, form.get(input_name(spec.id, r, col.id), "")) for col in spec.columns}
                if any(v != "" for v in row.values()):
                    rows.append(row)
            raw[spec.id] = rows
        else:
            raw[spec.id] = _raw_value(spec, form.get(input_name(spec.id), ""))
    return raw


def draft_from_stored(worksheet: Worksheet, stored: Mapping[str, Any] | None) -> Raw:
    """A stored draft (or handed-in data) as form text, for showing it again."""
    stored = stored or {}
    raw: Raw = {}
    for spec in worksheet.fields:
        value = stored.get(spec.id)
        if spec.type == "rows":
            rows = value if isinstance(value, list) else []
            raw[spec.id] = [
                {col.id: _as_text(row.get(col.id)) for col in spec.columns}
                for row in rows if isinstance(row, dict)
            ][: spec.max_rows]
        else:
            raw[spec.id] = _as_text(value)
    return raw


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def is_empty(raw: Raw) -> bool:
    return all((v == [] if isinstance(v, list) else v == "") for v in raw.values())


def _check_value(spec: FieldSpec, text: str) -> tuple[Any, str | None]:
    """(typed value or None, error message or None) for one non-list field."""
    if text == "":
        if spec.required:
            return None, str(_l("Please answer this."))
        return None, None
    if spec.type == "text":
        if len(text) > spec.max_length:
            return None, str(_l("Please shorten this to %(n)d characters (it has %(m)d).", n=spec.max_length, m=len(text)))
        return text, None
    if spec.type in ("number", "scale"):
        try:
            number = float(text.replace(",", "."))
        except ValueError:
            return None, str(_l("Please write a number."))
        if not math.isfinite(number):
            return None, str(_l("Please write a number."))
        whole = spec.type == "scale" or spec.step is None
        if whole and not number.is_integer():
            return None, str(_l("Please write a whole number."))
        if (spec.min is not None and number < spec.min) or (spec.max is not None and number > spec.max):
            if spec.min is not None and spec.max is not None:
                return None, str(_l("Please choose a number from %(lo)s to %(hi)s.", lo=_as_text(spec.min), hi=_as_text(spec.max)))
            if spec.min is not None:
                return None, str(_l("Please write a number of at least %(lo)s.", lo=_as_text(spec.min)))
            return None, str(_l("Please write a number of at most %(hi)s.", hi=_as_text(spec.max)))
        return (int(number) if whole else number), None
    if spec.type == "choice":
        if text not in spec.options:
            return None, str(_l("Please choose one of the options."))
        return text, None
    return None, str(_l("This field cannot be answered."))  # pragma: no cover - unknown types never load


def validate(worksheet: Worksheet, raw: Raw) -> tuple[dict[str, Any], dict[str, str]]:
    """Check a draft for handing in. Returns (typed data, errors by input name)."""
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for spec in worksheet.fields:
        if spec.type == "rows":
            rows = raw.get(spec.id) or []
            clean_rows = []
            for r, row in enumerate(rows):
                clean_row = {}
                for col in spec.columns:
                    value, error = _check_value(col, row.get(col.id, ""))
                    if error:
                        errors[input_name(spec.id, r, col.id)] = error
                    clean_row[col.id] = value
                clean_rows.append(clean_row)
            needed = max(spec.min_rows, 1 if spec.required else 0)
            if len(rows) < needed:
                errors[input_name(spec.id)] = str(_l("Please fill in at least %(n)d row(s).", n=needed))
            if len(rows) > spec.max_rows:
                errors[input_name(spec.id)] = str(_l("Please use at most %(n)d rows.", n=spec.max_rows))
            data[spec.id] = clean_rows
        else:
            value, error = _check_value(spec, raw.get(spec.id, ""))
            if error:
                errors[input_name(spec.id)] = error
            data[spec.id] = value
    if is_empty(raw) and not errors:
        errors["worksheet"] = str(_l("Please fill in at least one answer before you hand in."))
    return data, errors


def rows_to_show(spec: FieldSpec, raw_rows: list[dict[str, str]], *, spare: int = 1, minimum: int = 3) -> int:
    """How many row inputs to show: the filled rows plus a spare one, within the limits."""
    return max(1, min(spec.max_rows, max(spec.min_rows, minimum, len(raw_rows) + spare)))


def answered_fields(worksheet: Worksheet, data: Mapping[str, Any] | None) -> int:
    """How many fields hold an answer (for progress shown to the therapist)."""
    data = data or {}
    n = 0
    for spec in worksheet.fields:
        value = data.get(spec.id)
        if value not in (None, "", []):
            n += 1
    return n
