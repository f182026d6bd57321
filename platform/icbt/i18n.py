"""Translations looked up once per request and language, not once per string.

Flask-Babel's template ``_()`` and ``str()`` of a lazy string each find the current
translations afresh (context, domain, locale key): about 7-9 microseconds a string on the
bench machine. A caseload of 200 rows shows 400 labels, which made label lookup about a
third of the page's time (bench/README.md). Here the translations object and the labels are
kept on ``g`` for the request, keyed by the current locale, so that
``flask_babel.force_locale`` (an e-mail in the recipient's language) still works.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, g, has_app_context
from flask_babel import get_locale, get_translations


def _cache() -> dict[Any, Any]:
    try:
        return g._icbt_i18n
    except AttributeError:
        cache = g._icbt_i18n = {}
        return cache


def request_translations() -> Any:
    """The translations of the current request's language, looked up on first use."""
    cache = _cache()
    key = ("translations", get_locale())
    try:
        return cache[key]
    except KeyError:
        translations = cache[key] = get_translations()
        return translations


def label(table: Mapping[Any, Any], value: Any) -> str:
    """``str(table.get(value, value))`` for a table of lazy strings, memoised per request."""
    if not has_app_context():
        return str(table.get(value, value))
    cache = _cache()
    key = (id(table), value, get_locale())
    try:
        return cache[key]
    except KeyError:
        text = cache[key] = str(table.get(value, value))
        return text


def install(app: Flask) -> None:
    """Make the templates' ``_()``/``ngettext`` use the per-request translations."""
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: request_translations().ugettext(s),
        ngettext=lambda s, p, n: request_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: request_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: request_translations().unpgettext(c, s, p, n),
    )
