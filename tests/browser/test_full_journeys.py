"""The full journeys of the three kinds of users (issue 8), at a phone and a desktop size.

They run in file order and share the live server's demo database: the patient journey of a
viewport hands in homework that the therapist journey of that viewport then reads and gives
feedback on. Each viewport has its own people (accounts.TREATMENT_PATIENT, APPLICANT).
Every page reached is audited (screenshot, labels, reflow at 320 px, axe-core).
"""
from __future__ import annotations

import datetime as dt
import json
import re
import zipfile

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from config import normalise_database_url
from icbt.extensions import make_engine
import yaml
from tests.browser import accounts
from tests.browser.harness import Visitor
from tests.liveserver import ROOT
from tests.browser.pages import (AdminDashboard, AppPage, Caseload, LoginPage, MessagesPage, ModulePage, PatientDashboard,
                                 PatientPlan, QuestionnairePage, TherapistPatientPage, WorksheetPage)


def query(live_server, sql: str, **params):  # type: ignore[no-untyped-def]
    engine = make_engine(normalise_database_url(live_server.database_url))
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).all()
    finally:
        engine.dispose()


def opens_at(live_server, email: str, instrument: str) -> dt.datetime:  # type: ignore[no-untyped-def]
    rows = query(live_server, "SELECT a.opens_at FROM administrations a JOIN participants p ON p.id = a.participant_id "
                 "JOIN users u ON u.id = p.user_id WHERE u.email = :email AND a.instrument_id = :instrument "
                 "AND a.status = 'scheduled' ORDER BY a.opens_at", email=email, instrument=instrument)
    assert rows, f"no {instrument} scheduled for {email}"
    value = rows[0][0]
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


def instrument_title(instrument: str) -> str:
    """The title a patient sees (the instrument's YAML; the registry needs an app context)."""
    path = ROOT / "platform" / "icbt" / "measures" / "instruments" / f"{instrument}.yaml"
    return str(yaml.safe_load(path.read_text(encoding="utf-8"))["title"])


def dashboard(v: Visitor, account: accounts.Account, label: str) -> PatientDashboard:
    """The patient's home page; after the clock jumped, the session may have ended: log in again."""
    v.goto("/me/")
    if v.path.startswith("/auth/login"):
        return LoginPage(v, audit=False).log_in(account)  # type: ignore[return-value]
    return PatientDashboard(v, label=label)


def fill_worksheet(ws: WorksheetPage, words: str) -> dict[str, str]:
    """Type into every text field of the worksheet; pick the first option of each radio group."""
    typed: dict[str, str] = {}
    fields = ws.form.locator("textarea:visible, input[type=text]:visible, input[type=number]:visible")
    for i in range(fields.count()):
        el = fields.nth(i)
        numeric = el.get_attribute("type") == "number" or el.get_attribute("inputmode") in ("numeric", "decimal")
        value = str(10 * (i % 9 + 1)) if numeric else f"{words} {i + 1}"
        el.fill(value)
        typed[el.get_attribute("name") or str(i)] = value
    selects = ws.form.locator("select:visible")
    for i in range(selects.count()):
        selects.nth(i).select_option(index=1)
    radios = ws.form.locator("fieldset:has(input[type=radio])")
    for i in range(radios.count()):
        radios.nth(i).locator("input[type=radio]").first.check()
    return typed


def open_module_with_homework_to_do(v: Visitor) -> ModulePage:
    """From the patient's home page: the plan, then the newest open module with homework left."""
    v.page.get_by_role("link", name="See my plan").click()
    plan = PatientPlan(v)
    assert plan.page.locator("li.plan-item.is-open").count() >= 1
    if plan.page.locator("li.plan-item.is-locked").count():
        expect(plan.page.locator("li.plan-item.is-locked").first).to_contain_text(re.compile("Opens on|Not open yet"))
    todo = plan.page.locator("li.plan-item.is-open",
                             has=plan.page.locator(".tag", has_text=re.compile("Homework (to do|started)")))
    assert todo.count(), "no open module with homework left to do"
    todo.last.locator("h2 a").click()
    return ModulePage(v, label="module page 1")


def test_patient_intake_screening(visit, viewport) -> None:  # type: ignore[no-untyped-def]
    v = visit("patient-intake")
    home = LoginPage.open(v).log_in(accounts.APPLICANT[viewport.name])
    home.page.get_by_role("link", name="Answer the questions").click()
    intake = AppPage(v, label="intake screening")
    expect(intake.page.locator("main h1")).to_have_text("About you")
    groups = intake.page.locator("main form fieldset:has(input[type=radio])")
    assert groups.count() >= 3
    for i in range(groups.count()):
        options = groups.nth(i).locator("input[type=radio]")
        options.nth(min(i % 4 + 3, options.count() - 1)).check()
    intake.page.get_by_role("button", name="Send my answers").click()
    done = AppPage(v, label="intake sent")
    expect(done.main).not_to_contain_text("Choose")  # no field error left
    home = dashboard(v, accounts.APPLICANT[viewport.name], "dashboard after intake")
    expect(home.page.get_by_role("link", name="Answer the questions")).to_have_count(0)
    # The screening goes on with the short questionnaires of the intake (GAD-7, PHQ-9),
    # reached through the dashboard's intake card.
    go_on = home.page.get_by_role("link", name="Go on with the questions")
    rounds = 0
    while go_on.count():
        assert rounds < 5, "the intake questionnaires never end"
        rounds += 1
        go_on.click()
        intake = AppPage(v, label=f"intake questionnaires {rounds}")
        intake.main.locator("section.card a.button").first.click()
        q = QuestionnairePage(v, label=f"intake questionnaire {rounds}")
        q.answer_all(choose=1)
        expect(q.send().page.locator("main h1")).to_have_text("Thank you, your answers are sent")
        home = dashboard(v, accounts.APPLICANT[viewport.name], f"dashboard after questionnaire {rounds}")
        go_on = home.page.get_by_role("link", name="Go on with the questions")
    assert rounds >= 1
    expect(home.main).not_to_contain_text("Go on with the questions")


def test_patient_treatment_journey(visit, viewport, live_server) -> None:  # type: ignore[no-untyped-def]
    account = accounts.TREATMENT_PATIENT[viewport.name]
    v = visit("patient-treatment")
    home = LoginPage.open(v).log_in(account)
    assert isinstance(home, PatientDashboard)

    # The tailored plan, and this week's module.
    module = open_module_with_homework_to_do(v)
    expect(module.page.locator("main h2#page-title")).not_to_be_empty()
    while module.page.get_by_role("link", name=re.compile("Next page")).count():
        module = module.next_page()

    # Homework: type, save the draft, reload: the text is still there.
    ws = module.homework()
    typed = fill_worksheet(ws, f"Journey {viewport.name}")
    assert typed, "the worksheet has no text field"
    ws.page.get_by_role("button", name="Save draft").click()
    ws = WorksheetPage(v, label="worksheet draft saved")
    ws.page.reload()
    ws = WorksheetPage(v, label="worksheet after reload")
    for name, value in typed.items():
        expect(ws.form.locator(f"[name='{name}']")).to_have_value(value)
    # And autosave: type more, wait for the saved note, reload without pressing anything.
    first_name = next(name for name, value in typed.items() if not value.isdigit())
    with ws.page.expect_response(lambda r: r.url.endswith("/draft") and r.request.method == "POST",
                                 timeout=15_000) as autosaved:
        ws.form.locator(f"[name='{first_name}']").fill(typed[first_name] + " and more")
    assert autosaved.value.ok
    expect(ws.page.locator("[data-autosave-status]")).to_contain_text(re.compile("saved", re.I))
    ws.page.reload()
    ws = WorksheetPage(v, label="worksheet after autosave and reload")
    expect(ws.form.locator(f"[name='{first_name}']")).to_have_value(typed[first_name] + " and more")

    # Hand it in: read-only from now on.
    ws.page.get_by_role("button", name="Hand in").click()
    handed = WorksheetPage(v, label="worksheet handed in")
    expect(handed.main).to_contain_text("It can no longer be changed.")
    expect(handed.page.locator("#worksheet-form")).to_have_count(0)
    expect(handed.main).to_contain_text(typed[first_name] + " and more")

    # The questionnaires when they are due: the week-3 alliance, then the CORE-OM at the end.
    try:
        for instrument in ("wai-s", "core-om"):
            title = instrument_title(instrument)
            when = opens_at(live_server, account.email, instrument) + dt.timedelta(days=1, hours=2)
            live_server.set_clock(when)
            home = dashboard(v, account, f"dashboard with {instrument} due")
            due = home.page.locator("section[aria-labelledby=due-title] a.button")
            expect(due.first).to_be_visible()
            due.filter(has_text=title).first.click()
            q = QuestionnairePage(v, label=f"{instrument} questionnaire")
            q.answer_all(choose=1)
            sent = q.send()
            expect(sent.page.locator("main h1")).to_have_text("Thank you, your answers are sent")
    finally:
        live_server.set_clock(None)

    # A message to the therapist.
    home = dashboard(v, account, "dashboard again")
    v.goto("/me/messages")
    thread = MessagesPage(v)
    body = f"A question from the {viewport.name} journey about my homework."
    thread = thread.write(body)
    expect(thread.page.locator(".thread")).to_contain_text(body)


# The caseload's order (messaging/caseload.py): risk alerts, overdue feedback, unread
# messages, homework waiting, inactive patients, then everyone else.
NEED_ORDER = [
    re.compile(r"^Risk alert$"), re.compile(r"feedbacks? overdue$"), re.compile(r"unread messages?$"),
    re.compile(r"homework waiting$"), re.compile(r"^Inactive \d+ days$"), re.compile(r"^$"),
]


def need_rank(tag: str) -> int:
    for rank, pattern in enumerate(NEED_ORDER):
        if pattern.search(tag):
            return rank
    raise AssertionError(f"unknown need in the caseload: {tag!r}")


def participant_code(live_server, email: str) -> str:  # type: ignore[no-untyped-def]
    return query(live_server, "SELECT p.code FROM participants p JOIN users u ON u.id = p.user_id "
                 "WHERE u.email = :email", email=email)[0][0]


def open_alert_codes(live_server, therapist_email: str) -> list[str]:  # type: ignore[no-untyped-def]
    rows = query(live_server, "SELECT DISTINCT p.code FROM risk_alerts r JOIN participants p ON p.id = r.participant_id "
                 "JOIN users t ON t.id = p.therapist_id WHERE t.email = :email AND r.acknowledged_at IS NULL "
                 "ORDER BY p.code", email=therapist_email)
    return [r[0] for r in rows]


def test_therapist_full_journey(visit, viewport, live_server) -> None:  # type: ignore[no-untyped-def]
    therapist = accounts.THERAPIST3
    flagged = open_alert_codes(live_server, therapist.email)
    assert flagged, "the demo gives therapist3 open risk alerts"
    v = visit("therapist-full")
    caseload = LoginPage.open(v).log_in(therapist)
    assert isinstance(caseload, Caseload)

    # Sorted by need: every risk alert first, then each kind of need in its order.
    codes, needs = caseload.codes(), caseload.needs()
    ranks = [need_rank(n) for n in needs]
    assert ranks == sorted(ranks), list(zip(codes, needs))
    assert set(codes[:len(flagged)]) == set(flagged), (codes, flagged)
    expect(caseload.page.get_by_role("region", name="Risk alerts to acknowledge")).to_contain_text(flagged[0])

    # The homework the patient journey of this viewport handed in: read it, give feedback.
    code = participant_code(live_server, accounts.TREATMENT_PATIENT[viewport.name].email)
    assert code in codes
    row = caseload.rows.filter(has=caseload.page.get_by_role("link", name=code, exact=True))
    expect(row).to_contain_text("homework waiting")
    patient = caseload.open_patient(code)
    patient.page.locator("li", has=patient.page.locator(".tag", has_text="to read")).first.locator("a").click()
    homework = AppPage(v, label="homework to read")
    expect(homework.main).to_contain_text(f"Journey {viewport.name}")
    homework.page.get_by_role("link", name="Write feedback in the messages").click()
    thread = MessagesPage(v, label="feedback form")
    feedback = thread.page.get_by_label("This is my weekly feedback", exact=False)
    expect(feedback).to_be_checked() if feedback.is_checked() else feedback.check()
    body = f"Feedback ({viewport.name}): well done writing down what you avoid."
    thread.page.get_by_label("Your message", exact=True).fill(body)
    thread.page.get_by_role("button", name="Send", exact=True).click()
    thread = MessagesPage(v, label="feedback sent")
    expect(thread.page.locator(".thread")).to_contain_text(body)
    v.goto(f"/therapist/patients/{v.page.url.split('/patients/')[1].split('/')[0]}")
    patient = TherapistPatientPage(v, label="patient after feedback")
    expect(patient.page.locator(".tag", has_text="to read")).to_have_count(0)

    # Acknowledge a risk alert with a note.
    alert_code = flagged[0 if viewport.name == "phone" else -1]
    caseload = patient.back_to_caseload()
    patient = caseload.open_patient(alert_code)
    patient.page.get_by_role("region", name=re.compile("risk alerts? to acknowledge")).get_by_role(
        "link", name="Acknowledge").first.click()
    ack = AppPage(v, label="acknowledge risk alert")
    expect(ack.page.locator("main h1")).to_have_text(f"Risk alert for {alert_code}")
    ack.page.get_by_label("What you did").fill("Phoned the patient; we agreed a safety plan.")
    ack.page.get_by_role("button", name="Acknowledge the alert").click()
    after = AppPage(v, label="after acknowledging")
    expect(after.main).not_to_contain_text("Write a short note")
    left = query(live_server, "SELECT r.note FROM risk_alerts r JOIN participants p ON p.id = r.participant_id "
                 "WHERE p.code = :code AND r.acknowledged_at IS NOT NULL", code=alert_code)
    assert any("safety plan" in (note or "") for (note,) in left)
    after.log_out()


def test_admin_full_journey(visit, viewport, live_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # The report runs in the background worker, which the live server starts beside gunicorn.
    assert live_server.with_worker and len(live_server._procs) == 2
    assert all(proc.poll() is None for proc in live_server._procs), "gunicorn or the worker has stopped"

    v = visit("admin-full")
    home = LoginPage.open(v).log_in(accounts.ADMIN)
    assert isinstance(home, AdminDashboard)

    # Randomise one eligible participant.
    code = participant_code(live_server, accounts.ELIGIBLE[viewport.name])
    home.nav_link("Randomisation").click()
    rand = AppPage(v, label="randomisation")
    expect(rand.page.locator("main h1")).to_have_text("Randomisation")
    rand.page.get_by_role("button", name=f"Randomise {code}", exact=True).click()
    rand = AppPage(v, label="randomised")
    expect(rand.page.get_by_role("button", name=f"Randomise {code}", exact=True)).to_have_count(0)
    arm = query(live_server, "SELECT p.arm FROM participants p WHERE p.code = :code", code=code)[0][0]
    assert arm in ("treatment", "waitlist")
    expect(rand.main).to_contain_text(code)
    rand.log_out()


def test_admin_analysis_journey(visit, viewport, live_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    v = visit("admin-analysis")
    home = LoginPage.open(v).log_in(accounts.ADMIN)
    if not home.nav_link("Analysis").count():
        pytest.skip("the analysis (admin 'Run analysis') is not merged into this branch yet")
    home.nav_link("Analysis").click()
    reports = AppPage(v, label="analysis")
    expect(reports.page.locator("main h1")).to_have_text("Trial analysis")
    reports.page.get_by_role("button", name="Run analysis").click()
    run = AppPage(v, label="analysis run")
    expect(run.page.locator("main h1")).to_contain_text("Trial analysis:")
    progress = run.page.locator("progress")
    if progress.count():  # still queued or running: the page updates itself
        expect(run.page.locator(".run-step")).not_to_be_empty()
    download = run.page.get_by_role("link", name="Download pseudonymised exports (zip)")
    expect(download).to_be_visible(timeout=90_000)
    report = AppPage(v, label="analysis report")
    code = participant_code(live_server, accounts.ELIGIBLE[viewport.name])
    expect(report.page.get_by_role("heading", name="Results", exact=True)).to_be_visible()
    expect(report.page.locator("caption", has_text="Participant flow")).to_be_visible()

    # The export: the CSVs and results.json, and no names or e-mail addresses.
    with report.page.expect_download() as fetched:
        download.click()
    path = tmp_path / "export.zip"
    fetched.value.save_as(path)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert any(n.endswith("results.json") for n in names), names
        assert sum(n.endswith(".csv") for n in names) >= 2, names
        json.loads(zf.read(next(n for n in names if n.endswith("results.json"))))
        content = b"\n".join(zf.read(n) for n in names).decode("utf-8", "replace")
    people = query(live_server, "SELECT email, display_name FROM users")
    assert "@" not in content or not re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", content)
    leaked = [name for _, name in people if name and name in content]
    assert not leaked, f"names in the export: {leaked[:5]}"
    assert code in content  # pseudonymised by participant code (randomised in the journey above)
    report.log_out()


@pytest.mark.parametrize("viewport", ["phone"], indirect=True)
def test_patient_core_actions_without_javascript(visit, live_server) -> None:  # type: ignore[no-untyped-def]
    """Hand in homework, answer a questionnaire, send a message: plain form posts only."""
    account = accounts.NO_JS_PATIENT
    v = visit("patient-core", js=False)
    home = LoginPage.open(v).log_in(account)

    # Homework: Save draft is a plain post too; then hand in.
    module = open_module_with_homework_to_do(v)
    while module.page.get_by_role("link", name=re.compile("Next page")).count():
        module = module.next_page()
    ws = module.homework()
    typed = fill_worksheet(ws, "No script")
    ws.page.get_by_role("button", name="Save draft").click()
    ws = WorksheetPage(v, label="worksheet draft saved (no JS)")
    first_name = next(name for name, value in typed.items() if not value.isdigit())
    expect(ws.form.locator(f"[name='{first_name}']")).to_have_value(typed[first_name])
    ws.page.get_by_role("button", name="Hand in").click()
    handed = WorksheetPage(v, label="worksheet handed in (no JS)")
    expect(handed.main).to_contain_text("It can no longer be changed.")

    # The open questionnaire.
    home = dashboard(v, account, "dashboard (no JS)")
    home.page.locator("section[aria-labelledby=due-title] a.button").first.click()
    q = QuestionnairePage(v, label="questionnaire (no JS)")
    q.answer_all(choose=2)
    expect(q.send().page.locator("main h1")).to_have_text("Thank you, your answers are sent")

    # A message.
    v.goto("/me/messages")
    body = "Sent without JavaScript."
    thread = MessagesPage(v).write(body)
    expect(thread.page.locator(".thread")).to_contain_text(body)
    counted = query(live_server, "SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                    "JOIN participants p ON p.id = c.participant_id JOIN users u ON u.id = p.user_id "
                    "WHERE u.email = :email AND m.body = :body", email=account.email, body=body)[0][0]
    assert counted == 1


ACTIVE_FIELD_JS = """() => {
  const el = document.activeElement;
  if (!el) return null;
  return {tag: el.tagName.toLowerCase(), type: (el.type || '').toLowerCase(), name: el.name || '',
          inputmode: el.getAttribute('inputmode') || '', text: (el.textContent || el.value || '').trim().slice(0, 40),
          checked: !!el.checked, inForm: !!el.closest('main form')};
}"""


def tab_to(v: Visitor, predicate, limit: int = 400) -> dict:  # type: ignore[no-untyped-def]
    for _ in range(limit):
        v.page.keyboard.press("Tab")
        active = v.page.evaluate(ACTIVE_FIELD_JS)
        if active and predicate(active):
            return active
    raise AssertionError("Tab never reached the wanted element")


@pytest.mark.parametrize("viewport", ["desktop"], indirect=True)
def test_patient_homework_and_questionnaire_by_keyboard(visit) -> None:  # type: ignore[no-untyped-def]
    account = accounts.KEYBOARD_PATIENT
    v = visit("patient-keyboard")
    home = LoginPage.open(v).log_in(account)

    # The questionnaire: Tab into each item's group, Space picks the focused answer, Tab on.
    home.page.locator("section[aria-labelledby=due-title] a.button").first.focus()
    v.page.keyboard.press("Enter")
    q = QuestionnairePage(v, label="questionnaire (keyboard)")
    items = q.page.locator("li.q-item").count()
    v.focus_top()
    answered: set[str] = set()
    while True:
        active = tab_to(v, lambda a: (a["type"] == "radio" and a["name"] not in answered) or
                        (a["type"] == "submit" and a["inForm"]))
        if active["type"] == "submit":
            break
        v.page.keyboard.press("ArrowDown")  # moves to and checks the next answer of the group
        answered.add(active["name"])
    assert len(answered) == items
    assert active["text"].startswith("Send") or active["name"] == "send", active
    v.screenshot("questionnaire filled by keyboard")
    v.page.keyboard.press("Enter")
    expect(v.page.locator("main h1")).to_have_text("Thank you, your answers are sent")
    AppPage(v, label="questionnaire sent (keyboard)")

    # The homework: type into each field, arrow through each list, Tab to Hand in, Enter.
    home = dashboard(v, account, "dashboard (keyboard)")
    module = open_module_with_homework_to_do(v)
    while module.page.get_by_role("link", name=re.compile("Next page")).count():
        module = module.next_page()
    ws = module.homework()
    v.focus_top()
    n = 0
    while True:
        active = tab_to(v, lambda a: a["inForm"] and (a["tag"] in ("textarea", "select") or a["type"] in (
            "text", "number", "radio") or (a["type"] == "submit" and a["text"] == "Hand in")))
        if active["type"] == "submit":
            break
        n += 1
        if active["tag"] == "select":
            v.page.keyboard.press("ArrowDown")
        elif active["type"] == "radio":
            v.page.keyboard.press("Space")
        elif active["type"] == "number" or active["inputmode"] in ("numeric", "decimal"):
            v.page.keyboard.type("40")
        else:
            v.page.keyboard.type(f"Typed by keyboard {n}")
    v.screenshot("worksheet filled by keyboard")
    v.page.keyboard.press("Enter")
    handed = WorksheetPage(v, label="worksheet handed in (keyboard)")
    expect(handed.main).to_contain_text("It can no longer be changed.")
    expect(handed.main).to_contain_text("Typed by keyboard 1")


@pytest.mark.parametrize("viewport", ["phone", "desktop"], indirect=True)
def test_therapist_approves_a_plan(visit, viewport, live_server) -> None:  # type: ignore[no-untyped-def]
    """After the admin journeys randomised the demo's eligible people: a treatment-arm patient
    without an approved plan gets one from their therapist (proposed from the assessment)."""
    rows = query(live_server, "SELECT p.id, p.code, t.email FROM participants p JOIN users t ON t.id = p.therapist_id "
                 "WHERE p.arm = 'treatment' AND NOT EXISTS (SELECT 1 FROM module_plans m WHERE m.participant_id = p.id "
                 "AND m.approved_at IS NOT NULL) ORDER BY p.code")
    if not rows:
        pytest.skip("the randomisations gave no treatment-arm patient without a plan")
    participant_id, code, therapist_email = rows[0]
    v = visit("therapist-plan")
    LoginPage.open(v).log_in(accounts.Account(therapist_email, "therapist"))
    v.goto(f"/therapist/patients/{participant_id}/plan")
    plan = AppPage(v, label="plan")
    expect(plan.page.locator("main h1")).to_contain_text(code)
    propose = plan.page.get_by_role("button", name="Propose a plan from the assessment")
    if propose.count():
        propose.click()
        plan = AppPage(v, label="plan proposed")
    expect(plan.page.get_by_role("heading", name="Modules")).to_be_visible()
    plan.page.get_by_role("button", name="Approve the plan").click()
    plan = AppPage(v, label="plan approved")
    expect(plan.page.get_by_role("button", name="Approve the plan")).to_have_count(0)
    approved = query(live_server, "SELECT count(*) FROM module_plans WHERE participant_id = :pid "
                     "AND approved_at IS NOT NULL", pid=participant_id)[0][0]
    assert approved == 1
    plan.log_out()
