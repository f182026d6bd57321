"""The browser side of the journeys: one ``Visitor`` per person and tab.

A visitor drives a Playwright page and checks every page it is shown (``audit``):
- a full-page screenshot under test-output/browser/<viewport>/<journey>/;
- every form field has a label (its own <label>, aria-label or aria-labelledby);
- the text reflows at 320 CSS px: the page body never scrolls sideways (WCAG 1.4.10);
- axe-core (injected from tests/browser/node_modules) finds no serious or critical
  violation; all findings are appended to test-output/browser/axe.jsonl;
and it collects console errors and uncaught page errors (a CSP violation shows up there),
which fail the test at the end.

Without JavaScript (``js=False``) nothing can be evaluated in the page: the visitor only
takes screenshots and checks labels through the DOM that Playwright reads itself.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # playwright is imported only when the browser tests run
    from playwright.sync_api import Page, Response

    from tests.liveserver import LiveServer


@dataclass(frozen=True)
class Viewport:
    name: str
    width: int
    height: int
    is_mobile: bool = False

    def context_options(self) -> dict[str, Any]:
        return {
            "viewport": {"width": self.width, "height": self.height},
            "is_mobile": self.is_mobile,
            "has_touch": self.is_mobile,
            "device_scale_factor": 1,
        }


PHONE = Viewport("phone", 390, 844, is_mobile=True)
DESKTOP = Viewport("desktop", 1280, 800)
VIEWPORTS = {v.name: v for v in (PHONE, DESKTOP)}
REFLOW_WIDTH = 320
FAILING_IMPACTS = ("serious", "critical")


class PageCheckFailed(AssertionError):
    pass


LABELS_JS = """() => {
  const fields = document.querySelectorAll(
    'input:not([type=hidden]):not([type=submit]):not([type=button]):not([type=reset]):not([type=image]), select, textarea');
  const missing = [];
  for (const el of fields) {
    const named = (el.labels && [...el.labels].some(l => l.textContent.trim()))
      || (el.getAttribute('aria-label') || '').trim()
      || (el.getAttribute('aria-labelledby') || '').split(/\\s+/).some(id => id && document.getElementById(id)
           && document.getElementById(id).textContent.trim());
    if (!named) missing.push(el.outerHTML.slice(0, 160));
  }
  return {count: fields.length, missing};
}"""

OVERFLOW_JS = """() => {
  const doc = document.documentElement;
  const wide = [];
  if (doc.scrollWidth > doc.clientWidth) {
    for (const el of document.body.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.right > doc.clientWidth + 1 && !el.closest('.table-scroll')) wide.push(el.tagName.toLowerCase()
        + (el.id ? '#' + el.id : '') + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().replace(/\\s+/g, '.') : '')
        + ' right=' + Math.round(r.right));
      if (wide.length >= 8) break;
    }
  }
  return {scrollWidth: doc.scrollWidth, clientWidth: doc.clientWidth, wide};
}"""

AXE_RUN_JS = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary}))
  }));
}"""

# Marks each focusable, visible element with data-kb so that a walk with Tab can be compared
# with what should be reachable.
MARK_FOCUSABLE_JS = """() => {
  const sel = 'a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), select:not([disabled]), '
    + 'textarea:not([disabled]), summary, [tabindex]:not([tabindex="-1"])';
  const out = [];
  let i = 0;
  for (const el of document.querySelectorAll(sel)) {
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    const hidden = style.visibility === 'hidden' || style.display === 'none' || el.closest('[hidden],[inert]');
    if (hidden || (box.width === 0 && box.height === 0 && !el.classList.contains('skip-link'))) continue;
    el.dataset.kb = String(++i);
    out.push({kb: el.dataset.kb, desc: describe(el)});
  }
  return out;
  function describe(el) {
    const name = (el.getAttribute('aria-label') || el.textContent || el.name || el.id || '').trim().replace(/\\s+/g, ' ');
    return el.tagName.toLowerCase() + (el.type ? '[' + el.type + ']' : '') + ' "' + name.slice(0, 40) + '"';
  }
}"""

ACTIVE_JS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
  const shadow = style.boxShadow && style.boxShadow !== 'none';
  const box = el.getBoundingClientRect();
  const onScreen = box.right > 0 && box.bottom > 0 && box.left < window.innerWidth && box.top < window.innerHeight
    && box.width > 0 && box.height > 0;
  return {kb: el.dataset.kb || null, id: el.id || null, tag: el.tagName.toLowerCase(),
          text: (el.textContent || el.name || '').trim().slice(0, 40), visibleFocus: !!(outline || shadow), onScreen};
}"""


@dataclass
class Visitor:
    """One person in one browser tab, at one viewport, with or without JavaScript."""

    page: Page
    server: LiveServer
    viewport: Viewport
    journey: str
    out: Path
    axe_source: str | None
    js: bool = True
    audited: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda error: self.console_errors.append(f"page error: {error}"))
        self.page.on("response", self._on_response)

    def _on_console(self, message: Any) -> None:
        # A page answered with 4xx on purpose (error pages) logs "Failed to load resource":
        # failed resources are judged in _on_response instead, where the kind is known.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.console_errors.append(f"{self.page.url}: {message.text}")

    def _on_response(self, response: Any) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            self.console_errors.append(f"{response.request.resource_type} {response.url}: HTTP {response.status}")

    # ------------------------------------------------------------------ navigation

    def goto(self, path: str) -> Response | None:
        return self.page.goto(self.server.url(path))

    @property
    def path(self) -> str:
        url = self.page.url
        return re.sub(r"^https?://[^/]+", "", url)

    # ------------------------------------------------------------------ checks

    def screenshot(self, name: str) -> Path:
        folder = self.out / self.viewport.name / self.journey
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{len(list(folder.glob('*.png'))) + 1:02d}-{_slug(name)}.png"
        # Chromium now and then answers "Unable to capture screenshot" for a long full page
        # on a busy machine (seen in CI under load): retry, then keep the visible part. The
        # screenshot is the record of the page; the checks below do not depend on it.
        for attempt in range(3):
            try:
                self.page.screenshot(path=str(path), full_page=attempt < 2)
                break
            except Exception as error:  # playwright's Error: protocol failure
                if "Unable to capture screenshot" not in str(error) or attempt == 2:
                    raise
                self.page.wait_for_timeout(500)
        return path

    def audit(self, name: str) -> None:
        """Every check on the page now shown; raises PageCheckFailed naming the page."""
        self.audited.append(f"{name} {self.path}")
        self.screenshot(name)
        problems = self.check_labels()
        if self.js:
            problems += self.check_reflow(name)
            problems += self.check_axe(name)
        if problems:
            raise PageCheckFailed(f"{name} ({self.path}, {self.viewport.name}):\n  " + "\n  ".join(problems))

    def check_labels(self) -> list[str]:
        if self.js:
            found = self.page.evaluate(LABELS_JS)
            return [f"form field without a label: {html}" for html in found["missing"]]
        missing = []
        fields = self.page.locator(
            "input:not([type=hidden]):not([type=submit]):not([type=button]), select, textarea"
        )
        for i in range(fields.count()):
            el = fields.nth(i)
            field_id = el.get_attribute("id")
            labelled = bool(el.get_attribute("aria-label") or el.get_attribute("aria-labelledby"))
            if field_id and self.page.locator(f"label[for='{field_id}']").count():
                labelled = True
            if not labelled:
                missing.append(f"form field without a label: {field_id or el.get_attribute('name')}")
        return missing

    def check_reflow(self, name: str) -> list[str]:
        size = self.page.viewport_size or {"width": self.viewport.width, "height": self.viewport.height}
        self.page.set_viewport_size({"width": REFLOW_WIDTH, "height": size["height"]})
        try:
            found = self.page.evaluate(OVERFLOW_JS)
            if self.viewport.is_mobile:
                self.screenshot(f"{name}-{REFLOW_WIDTH}px")
        finally:
            self.page.set_viewport_size(size)
        if found["scrollWidth"] > found["clientWidth"]:
            return [f"scrolls sideways at {REFLOW_WIDTH}px: page {found['scrollWidth']}px wide; "
                    f"too wide: {', '.join(found['wide']) or '?'}"]
        return []

    def check_axe(self, name: str) -> list[str]:
        if self.axe_source is None:
            raise PageCheckFailed("axe-core is not installed (make test-browser installs it)")
        if not self.page.evaluate("() => typeof window.axe === 'object'"):
            self.page.evaluate(self.axe_source)  # evaluated by the driver: the page's CSP stays on
        violations = self.page.evaluate(AXE_RUN_JS)
        with open(self.out / "axe.jsonl", "a", encoding="utf-8") as log:
            log.write(json.dumps({"page": name, "path": self.path, "viewport": self.viewport.name,
                                  "violations": violations}) + "\n")
        return [
            f"axe {v['impact']}: {v['id']} - {v['help']} ({v['helpUrl']}) at "
            + "; ".join(n["target"] for n in v["nodes"][:5])
            for v in violations
            if v["impact"] in FAILING_IMPACTS
        ]

    # ------------------------------------------------------------------ keyboard

    def mark_focusable(self) -> list[dict[str, str]]:
        return self.page.evaluate(MARK_FOCUSABLE_JS)

    def active(self) -> dict[str, Any] | None:
        return self.page.evaluate(ACTIVE_JS)

    def tab(self, times: int = 1, *, shift: bool = False) -> dict[str, Any] | None:
        for _ in range(times):
            self.page.keyboard.press("Shift+Tab" if shift else "Tab")
        return self.active()

    def focus_top(self) -> None:
        """Start keyboard navigation from the top of the page, as after loading it (a URL
        fragment such as #main would otherwise start it further down)."""
        self.page.evaluate("""() => {
          const start = document.createElement('span');
          start.tabIndex = -1;
          document.body.prepend(start);
          start.focus();
          start.remove();
          window.scrollTo(0, 0);
        }""")

    def tab_walk(self, limit: int = 200) -> list[dict[str, Any]]:
        """Press Tab from the top of the page until focus leaves the page; what got focus."""
        self.focus_top()
        reached: list[dict[str, Any]] = []
        for _ in range(limit):
            current = self.tab()
            if current is None or (reached and current["kb"] == reached[0]["kb"] and current["kb"]):
                break
            reached.append(current)
        return reached

    def finish(self) -> None:
        if self.console_errors:
            raise PageCheckFailed("console errors:\n  " + "\n  ".join(self.console_errors))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "page"
