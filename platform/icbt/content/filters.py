"""Template filters for treatment content: safe Markdown, reasons and labels in the user's language."""
from __future__ import annotations

from typing import Any

from flask import Flask
from flask_babel import gettext
from markupsafe import Markup

from icbt.content.render import render_cached
from icbt.tailoring.engine import describe_left_out, describe_reason
from icbt.tailoring.problems import problem_label, severity_label


def markdown(text: str | None) -> Markup:
    # render_cached returns HTML that nh3 has cleaned against an allow-list.
    return Markup(render_cached(text or ""))  # noqa: S704


def _instrument_name(instrument_id: str) -> str:
    from icbt.measures.instruments import get_instrument

    try:
        return get_instrument(instrument_id).name
    except LookupError:
        return instrument_id


def plan_reason(reason: dict[str, Any] | None) -> str:
    return describe_reason(reason or {"kind": ""}, gettext, instrument_name=_instrument_name)


def left_out_text(item: dict[str, Any], titles: dict[str, str] | None = None) -> str:
    titles = titles or {}
    return describe_left_out(item, gettext, title=lambda key: titles.get(key, key))


def register_filters(app: Flask) -> None:
    app.add_template_filter(markdown)
    app.add_template_filter(plan_reason)
    app.add_template_filter(left_out_text)
    app.add_template_filter(problem_label)
    app.add_template_filter(severity_label)
