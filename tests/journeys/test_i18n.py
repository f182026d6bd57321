"""Per-request translations (icbt.i18n): the same text as Flask-Babel, looked up once."""
from __future__ import annotations

from flask import Flask, render_template_string
from flask_babel import force_locale, get_translations

from icbt import i18n
from icbt.labels import arm_label, status_label


def test_labels_outside_a_request() -> None:
    assert status_label("active") == "In programme"
    assert arm_label(None) == "Not randomised"
    assert status_label("unknown-value") == "unknown-value"


def test_labels_in_a_request_are_looked_up_once(app: Flask, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls = []
    with app.test_request_context("/"):
        import flask_babel

        real = flask_babel.Domain.gettext
        monkeypatch.setattr(flask_babel.Domain, "gettext", lambda self, s, **kw: calls.append(s) or real(self, s, **kw))
        labels = [status_label("completed") for _ in range(50)] + [arm_label("waitlist") for _ in range(50)]
        assert set(labels) == {"Completed", "Waiting list"}
        assert sorted(calls) == ["Completed", "Waiting list"]


def test_templates_translate_and_format_through_the_request_cache(app: Flask) -> None:
    with app.test_request_context("/"):
        html = render_template_string(
            "{{ _('Hello, %(name)s', name=who) }}|{{ ngettext('%(num)d patient', '%(num)d patients', 3) }}",
            who="<Ada>",
        )
        assert html == "Hello, &lt;Ada&gt;|3 patients"
        assert i18n.request_translations() is get_translations()


def test_a_forced_locale_gets_its_own_entry(app: Flask) -> None:
    with app.test_request_context("/"):
        status_label("active")
        english = i18n.request_translations()
        with force_locale("sv"):
            assert i18n.request_translations() is get_translations()  # the Swedish catalogue (empty)
            assert status_label("active") == "In programme"  # no Swedish text yet: falls back
        assert i18n.request_translations() is english
        keys = {key[-1] for key in i18n._cache() if key[0] != "translations"}
        assert {str(locale) for locale in keys} == {"en", "sv"}
