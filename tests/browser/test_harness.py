"""The checks themselves can fail: a page built to break each rule is caught."""
from __future__ import annotations

import pytest

from tests.browser.harness import PageCheckFailed

BAD_PAGE = """<!doctype html><html lang="en"><head><title>Bad</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head><body>
<main><h1>A bad page</h1>
<p style="color:#bbb;background:#fff">Text too pale to read.</p>
<form><input type="text" name="nameless"></form>
<div style="width:900px">A box wider than a phone.</div>
</main></body></html>"""


@pytest.mark.parametrize("viewport", ["desktop"], indirect=True)
def test_audit_catches_missing_labels_contrast_and_sideways_scrolling(visit) -> None:  # type: ignore[no-untyped-def]
    v = visit("harness-self-test")
    v.page.goto("about:blank")  # no CSP here, so the inline styles apply
    v.page.set_content(BAD_PAGE)
    with pytest.raises(PageCheckFailed) as failure:
        v.audit("deliberately bad")
    report = str(failure.value)
    assert "form field without a label" in report and 'name="nameless"' in report
    assert "axe serious: color-contrast" in report
    assert "axe critical: label" in report
    assert "scrolls sideways at 320px" in report


@pytest.mark.parametrize("viewport", ["desktop"], indirect=True)
def test_console_errors_and_csp_violations_fail_the_visit(visit) -> None:  # type: ignore[no-untyped-def]
    v = visit("harness-console")
    v.goto("/auth/login")
    v.page.evaluate("() => console.error('something broke')")
    # Markup with an inline style, as a careless template would have: the CSP blocks it.
    v.page.evaluate("() => { document.querySelector('main').innerHTML += '<p style=\"color:red\">x</p>'; }")
    with pytest.raises(PageCheckFailed) as failure:
        v.finish()
    assert "something broke" in str(failure.value)
    assert "Content Security Policy" in str(failure.value)
    v.console_errors.clear()
