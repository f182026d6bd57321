"""THE table of every endpoint: who may use it, on whose objects, and what they get.

Policy: a GET changes no state.
    Pages only read. Schedules are materialised by the services that change a
    participant's state (randomisation, plan approval, cross-over, the start of intake) and
    by the periodic task, which also moves questionnaire windows (open, missed) and sends
    reminders; a page that shows what is due computes it from the windows and the clock
    (``icbt.clock``). A POST may change state (e.g. sending a questionnaire sets its
    status). The only writes a GET may make record that something was seen:
        audit_events    INSERT        the audit line of every read of health data
        user_sessions   UPDATE        the session record (ended when idle or expired)
        page_reads      INSERT/UPDATE the module pages a patient has read
        messages        UPDATE read_at  read receipts, and no other column
        cache_versions  INSERT        (upsert) the page-cache versions those writes change
    ``GET_WRITE_ALLOWED`` below is that list; the matrix fails a GET that writes anything else.

tests/security/test_authorization_matrix.py visits every rule of ``app.url_map``, with
every method it accepts, as five visitors:

    anonymous | patient | therapist | admin           (logged in through the real pages,
                                                       second factor included)

and, for routes that carry an object, with the visitor's OWN object and with ANOTHER's:
    patient   own = their participant record         other = another patient's
    therapist own = a participant in their caseload   other = one in another therapist's caseload
    admin     own = other = any participant (admins see all)

and checks the outcome:

    anonymous, route not public           -> 302 to /auth/login
    logged in, role not in ``roles``      -> 403
    right role, another's object          -> 403 or 404 (``other`` overrides)
    right role, own object / no object    -> ``ok[method]``   (a set of statuses)
    every GET                             -> no database write outside GET_WRITE_ALLOWED

A rule without a row here fails the test, naming the endpoint. When you add a route, add
ONE row to ROUTES (keep them grouped by blueprint):

    Route("blueprint.view",                 # the endpoint name
          roles=PATIENT,                    # PUBLIC, ANY_USER, PATIENT, THERAPIST, ADMIN, STAFF
                                            # or a set such as {"therapist", "admin"}
          owner=PARTICIPANT,                # NONE (no object in the URL) or PARTICIPANT
          args=participant_args,            # url values: args(world, participant) -> dict;
                                            # build your object for that participant here,
                                            # e.g. lambda w, p: {"message_id": w.add(Message(participant_id=p.id, ...)).id}
          ok={"GET": {200}, "POST": {200, 302}})   # outcome for an allowed visitor, per method

Further knobs: ``anonymous`` (outcome for an anonymous visitor of a PUBLIC route),
``other`` (statuses for another's object, default {403, 404}), ``by_role`` (outcome
overrides per role, e.g. a page that redirects staff elsewhere), ``data`` (form data
posted; default: an empty form, which must give a form error or a redirect, never a 500).
POST visits run with a fresh login each, so a route that logs out or changes the account
does not disturb the next visit.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

PUBLIC = frozenset({"anonymous", "patient", "therapist", "admin"})
ANY_USER = frozenset({"patient", "therapist", "admin"})
PATIENT = frozenset({"patient"})
THERAPIST = frozenset({"therapist"})
ADMIN = frozenset({"admin"})
STAFF = frozenset({"therapist", "admin"})

NONE = "none"
PARTICIPANT = "participant"

LOGIN = "login"  # outcome marker: 302 to the login page

Args = Callable[[Any, Any], dict[str, Any]]


def no_args(world: Any, participant: Any) -> dict[str, Any]:
    return {}


def participant_args(world: Any, participant: Any) -> dict[str, Any]:
    # test_csrf.py builds URLs without a world (participant None): any id will do there
    return {"participant_id": participant.id if participant is not None else 1}


@dataclasses.dataclass(frozen=True)
class Route:
    endpoint: str
    roles: frozenset[str]
    owner: str = NONE
    args: Args = no_args
    ok: dict[str, set[int]] = dataclasses.field(default_factory=lambda: {"GET": {200}})
    anonymous: dict[str, set[int] | str] | None = None
    other: set[int] = dataclasses.field(default_factory=lambda: {403, 404})
    by_role: dict[str, dict[str, set[int]]] = dataclasses.field(default_factory=dict)
    data: dict[str, str] = dataclasses.field(default_factory=dict)


# What a GET may write (see the policy above): table -> the statements allowed on it, and
# for UPDATE the columns it may set (None: any column of that table).
GET_WRITE_ALLOWED: dict[str, dict[str, frozenset[str] | None]] = {
    "audit_events": {"INSERT": None},
    "user_sessions": {"UPDATE": frozenset({"ended_at", "end_reason"})},
    "page_reads": {"INSERT": None, "UPDATE": frozenset({"last_read_at"})},
    "messages": {"UPDATE": frozenset({"read_at"})},
    "cache_versions": {"INSERT": None},  # the page-cache version of what the writes above changed
}


# Pages that change how one logs in need a re-authentication in the last 5 minutes; the
# matrix's visitors have just logged in (password and second factor), which counts.
# tests/security/test_sessions.py checks the redirect to /account/confirm after that.

# -- messaging: objects built for the visited participant
def _message(world: Any, participant: Any) -> Any:
    import uuid

    from icbt.messaging.models import Message
    from icbt.messaging.services import conversation_for
    from icbt.extensions import db

    conversation = conversation_for(db.session, participant)
    return world.add(Message(conversation_id=conversation.id, author_id=participant.user_id, sender_role="patient",
                             kind="message", body="matrix", idempotency_key=uuid.uuid4().hex, read_at=None))


def _own_message_args(world: Any, participant: Any) -> dict[str, Any]:
    if world is None:  # only the URL's shape is needed (tests/security/test_csrf.py)
        return {"message_id": 1}
    return {"message_id": _message(world, participant).id}


def _participant_message_args(world: Any, participant: Any) -> dict[str, Any]:
    if world is None:
        return {"participant_id": 1, "message_id": 1}
    return {"participant_id": participant.id, "message_id": _message(world, participant).id}


def _snippet_args(world: Any, participant: Any) -> dict[str, Any]:
    import uuid

    if world is None:
        return {"snippet_id": 1}
    from icbt.messaging.models import Snippet

    return {"snippet_id": world.add(Snippet(owner_id=world.therapist.id, title=uuid.uuid4().hex[:20], body="x")).id}


# -- treatment: an approved plan (starting today) for the visited participant, built once
def _plan(world: Any, participant: Any) -> Any:
    from icbt import clock
    from icbt.extensions import db
    from icbt.intake.models import AssessedProfile
    from icbt.treatment.services import approve_plan, plan_for, propose_plan

    existing = plan_for(db.session, participant)
    if existing is not None:
        return existing
    world.add(AssessedProfile(participant_id=participant.id, primary_problem="panic", primary_severity="moderate",
                              comorbid=[], eligible=True, reason=""))
    plan = propose_plan(db.session, participant, actor=world.therapist)
    today = clock.today(participant.trial.timezone)
    approve_plan(db.session, plan, actor=world.therapist, start_date=today, today=today)
    return plan


def _first_item(world: Any, participant: Any) -> Any:
    return sorted(_plan(world, participant).items, key=lambda i: i.position)[0]


def _worksheet_id(item: Any) -> str:
    from icbt.content.services import module_of

    return module_of(item.module_version).worksheets[0].id


def _item_args(world: Any, participant: Any) -> dict[str, Any]:
    if world is None:
        return {"item_id": 1}
    return {"item_id": _first_item(world, participant).id}


def _page_args(world: Any, participant: Any) -> dict[str, Any]:
    return {**_item_args(world, participant), "page": 1}


def _worksheet_args(world: Any, participant: Any) -> dict[str, Any]:
    if world is None:
        return {"item_id": 1, "worksheet_id": "my-goals"}
    item = _first_item(world, participant)
    return {"item_id": item.id, "worksheet_id": _worksheet_id(item)}


def _plan_item_args(world: Any, participant: Any) -> dict[str, Any]:
    if world is None:
        return {"participant_id": 1, "item_id": 1}
    return {"participant_id": participant.id, "item_id": _first_item(world, participant).id}


def _plan_args(world: Any, participant: Any) -> dict[str, Any]:
    if world is not None:
        _plan(world, participant)
    return participant_args(world, participant)


def _homework_args(world: Any, participant: Any) -> dict[str, Any]:
    """A handed-in worksheet of the visited participant (built once)."""
    if world is None:
        return {"participant_id": 1, "homework_id": 1}
    from icbt import clock
    from icbt.extensions import db
    from icbt.treatment.models import Homework
    from icbt.treatment.services import get_homework

    item = _first_item(world, participant)
    homework = get_homework(db.session, item, _worksheet_id(item))
    if homework is None:
        homework = world.add(Homework(participant_id=participant.id, plan_item_id=item.id,
                                      worksheet_id=_worksheet_id(item), status="submitted", data={},
                                      submitted_at=clock.now(), submission_key="matrix"))
    return {"participant_id": participant.id, "homework_id": homework.id}


# -- measures: an open and a sent questionnaire, and a risk alert, of the visited participant
def _administration(world: Any, participant: Any, *, submitted: bool) -> Any:
    import datetime as dt

    from icbt import clock
    from icbt.extensions import db
    from icbt.measures import services
    from icbt.measures.models import Administration
    from icbt.measures.instruments import get_instrument
    from sqlalchemy import select

    instrument_id, timepoint = ("phq-9", "post") if submitted else ("core-om", "screening")
    adm = db.session.scalar(select(Administration).where(
        Administration.participant_id == participant.id, Administration.instrument_id == instrument_id,
        Administration.timepoint == timepoint))
    if adm is None:
        now = clock.now()
        adm = world.add(Administration(
            participant_id=participant.id, instrument_id=instrument_id,
            instrument_version=get_instrument(instrument_id).version, timepoint=timepoint,
            opens_at=now - dt.timedelta(hours=1), closes_at=now + dt.timedelta(days=7), status="open", draft={}))
        if submitted:
            services.submit(db.session, adm, {n: 0 for n in get_instrument(instrument_id).item_numbers},
                            idempotency_key=f"matrix-{adm.id}", notify=False)
    return adm


def _open_administration_args(world: Any, participant: Any) -> dict[str, Any]:
    if world is None:
        return {"administration_id": 1}
    return {"administration_id": _administration(world, participant, submitted=False).id}


def _sent_administration_args(world: Any, participant: Any) -> dict[str, Any]:
    if world is None:
        return {"administration_id": 1}
    return {"administration_id": _administration(world, participant, submitted=True).id}


def _alert_args(world: Any, participant: Any) -> dict[str, Any]:
    if world is None:
        return {"alert_id": 1}
    from icbt.extensions import db
    from icbt.measures.models import RiskAlert
    from sqlalchemy import select

    adm = _administration(world, participant, submitted=True)
    alert = db.session.scalar(select(RiskAlert).where(RiskAlert.administration_id == adm.id))
    if alert is None:
        alert = world.add(RiskAlert(participant_id=participant.id, administration_id=adm.id,
                                    instrument_id=adm.instrument_id, item_number=9, answer=1))
    return {"alert_id": alert.id}


def _trial_args(world: Any, participant: Any) -> dict[str, Any]:
    return {"trial_id": world.trial.id if world is not None else 1}


# -- reports: a finished analysis run of the world's trial (the real job, run inline by the
# test queue in immediate mode), built once per world
def _report_run(world: Any) -> Any:
    from icbt.extensions import db
    from icbt.reports.services import start_run

    run = getattr(world, "_report_run", None)
    if run is None:
        run = start_run(db.session, world.trial, requested_by=world.admin)
        db.session.commit()  # the test queue runs the job at commit
        db.session.refresh(run)
        assert run.status == "done", run.error_message
        object.__setattr__(world, "_report_run", run)
    return run


def _run_args(world: Any, participant: Any) -> dict[str, Any]:
    return {"run_id": _report_run(world).id if world is not None else 1}


def _figure_args(world: Any, participant: Any) -> dict[str, Any]:
    if world is None:
        return {"run_id": 1, "name": "figure.svg"}
    from icbt.reports.job import run_dir

    run = _report_run(world)
    name = sorted(p.name for p in (run_dir(run.id) / "figures").glob("*.svg"))[0]
    return {"run_id": run.id, "name": name}


ROUTES: list[Route] = [
    # -- public and static
    Route("static", PUBLIC, args=lambda w, p: {"filename": "css/app.css"}),
    Route("public.index", PUBLIC, ok={"GET": {302}}),
    Route("public.healthz", PUBLIC),
    # -- auth: logged-in visitors are sent home; without a pending login, the second-factor
    #    pages send to the login page
    Route("auth.login", PUBLIC, ok={"GET": {302}, "POST": {302}}, anonymous={"GET": {200}, "POST": {200}}),
    Route("auth.logout", ANY_USER, ok={"POST": {302}}),
    Route("auth.two_factor", PUBLIC, ok={"GET": {302}, "POST": {302}}, anonymous={"GET": LOGIN, "POST": LOGIN}),
    Route("auth.two_factor_setup", PUBLIC, ok={"GET": {302}, "POST": {302}}, anonymous={"GET": LOGIN, "POST": LOGIN}),
    # -- account settings (every role, own account only: no ids in the URLs)
    Route("account.index", ANY_USER),
    Route("account.name", ANY_USER, ok={"POST": {200}}),
    Route("account.confirm", ANY_USER, ok={"GET": {200}, "POST": {200}}),
    Route("account.password", ANY_USER, ok={"GET": {200}, "POST": {200}}),
    Route("account.email", ANY_USER, ok={"GET": {200}, "POST": {200}}),
    Route("account.two_factor", ANY_USER),
    Route("account.two_factor_start", ANY_USER, ok={"POST": {302}}),
    # without a setup in progress the confirm page sends back to the overview
    Route("account.two_factor_confirm", ANY_USER, ok={"GET": {302}, "POST": {302}}),
    # staff may not turn their second factor off; the matrix's patient has none to turn off
    Route("account.two_factor_disable", ANY_USER, ok={"POST": {302}}, by_role={"therapist": {"POST": {403}}, "admin": {"POST": {403}}}),
    Route("account.recovery_codes", ANY_USER, ok={"POST": {200}}, by_role={"patient": {"POST": {302}}}),
    # -- patient
    Route("patient.dashboard", PATIENT),
    # -- patient programme (/me/...: the logged-in patient's own record; another's plan item is a 404)
    # an empty intake form gives form errors
    Route("patient_programme.intake", PATIENT, ok={"GET": {200}, "POST": {200}}),
    Route("patient_programme.plan", PATIENT),
    Route("patient_programme.module", PATIENT, owner=PARTICIPANT, args=_item_args, ok={"GET": {302}}),
    # reading a page records the page read (page_reads: allowed for a GET)
    Route("patient_programme.page", PATIENT, owner=PARTICIPANT, args=_page_args),
    # an empty form is saved as a draft, then back to the worksheet
    Route("patient_programme.worksheet", PATIENT, owner=PARTICIPANT, args=_worksheet_args,
          ok={"GET": {200}, "POST": {302}}),
    Route("patient_programme.autosave", PATIENT, owner=PARTICIPANT, args=_worksheet_args, ok={"POST": {200}}),
    # -- measures: the patient's questionnaires (another's is refused: 403 and an audit line)
    # an empty POST saves the (empty) draft and comes back to the form
    Route("measures.questionnaire", PATIENT, owner=PARTICIPANT, args=_open_administration_args,
          ok={"GET": {200}, "POST": {302}}),
    Route("measures.autosave", PATIENT, owner=PARTICIPANT, args=_open_administration_args, ok={"POST": {200}}),
    Route("measures.sent", PATIENT, owner=PARTICIPANT, args=_sent_administration_args),
    # -- measures: staff (therapist: own caseload; admin: every participant)
    Route("measures.participant_measures", STAFF, owner=PARTICIPANT, args=participant_args),
    Route("measures.administration", STAFF, owner=PARTICIPANT, args=_sent_administration_args),
    # an empty correction form gives form errors (the reason is required)
    Route("measures.correct", STAFF, owner=PARTICIPANT, args=_sent_administration_args,
          ok={"GET": {200}, "POST": {200}}),
    Route("measures.acknowledge", STAFF, owner=PARTICIPANT, args=_alert_args, ok={"GET": {200}, "POST": {200}}),
    Route("measures.admin_alerts", ADMIN),
    # -- therapist
    Route("therapist.caseload", THERAPIST),
    Route("therapist.patient", THERAPIST, owner=PARTICIPANT, args=participant_args),
    # -- therapist programme (own caseload only: another therapist's patient is a 403)
    # an empty assessment form gives form errors
    Route("therapist_programme.assessment", THERAPIST, owner=PARTICIPANT, args=participant_args,
          ok={"GET": {200}, "POST": {200}}),
    Route("therapist_programme.plan", THERAPIST, owner=PARTICIPANT, args=participant_args),
    # without an assessed profile the proposal is refused with a notice and a redirect
    Route("therapist_programme.propose", THERAPIST, owner=PARTICIPANT, args=participant_args, ok={"POST": {302}}),
    # an empty change form, or approving an approved plan, gives form errors
    Route("therapist_programme.change", THERAPIST, owner=PARTICIPANT, args=_plan_args, ok={"POST": {200}}),
    Route("therapist_programme.approve", THERAPIST, owner=PARTICIPANT, args=_plan_args, ok={"POST": {200}}),
    # without a reason: a notice and back to the plan
    Route("therapist_programme.unlock", THERAPIST, owner=PARTICIPANT, args=_plan_item_args, ok={"POST": {302}}),
    Route("therapist_programme.homework", THERAPIST, owner=PARTICIPANT, args=_homework_args),
    Route("therapist_programme.reviewed", THERAPIST, owner=PARTICIPANT, args=_homework_args, ok={"POST": {302}}),
    # -- messaging (a thread GET marks the reader's incoming messages read: the world holds
    #    one unread message from the own patient, so the therapist's GET writes its read_at)
    Route("messaging.patient_thread", PATIENT, ok={"GET": {200}, "POST": {200}}),
    Route("messaging.patient_draft", PATIENT, ok={"POST": {200}}),
    Route("messaging.patient_retract", PATIENT, args=_own_message_args, ok={"POST": {302}}),
    Route("messaging.therapist_inbox", THERAPIST),
    Route("messaging.therapist_thread", THERAPIST, owner=PARTICIPANT, args=participant_args,
          ok={"GET": {200}, "POST": {200}}),
    Route("messaging.therapist_draft", THERAPIST, owner=PARTICIPANT, args=participant_args, ok={"POST": {200}}),
    # a therapist cannot withdraw the patient's message: refused with a notice and a redirect
    Route("messaging.therapist_retract", THERAPIST, owner=PARTICIPANT, args=_participant_message_args,
          ok={"POST": {302}}),
    Route("messaging.time_beat", THERAPIST, owner=PARTICIPANT, args=participant_args, ok={"POST": {200}}),
    Route("messaging.time_page", THERAPIST, owner=PARTICIPANT, args=participant_args,
          ok={"GET": {200}, "POST": {200}}),
    Route("messaging.snippets", THERAPIST, ok={"GET": {200}, "POST": {200}}),
    Route("messaging.snippet_edit", THERAPIST, args=_snippet_args, ok={"GET": {200}, "POST": {200}}),
    Route("messaging.snippet_delete", THERAPIST, args=_snippet_args, ok={"POST": {302}}),
    Route("messaging.admin_load", ADMIN),
    Route("messaging.admin_time", ADMIN),
    # -- admin
    Route("admin.dashboard", ADMIN),
    Route("admin.participants", ADMIN),
    # an empty form (no choice): a notice and back to the list
    Route("admin.assign", ADMIN, args=participant_args, ok={"POST": {302}}),
    # randomisation: admins act on any participant; a refusal (not eligible, nobody waiting,
    # no cross-over possible) is a notice and a redirect back to the page
    Route("admin_randomisation.index", ADMIN),
    Route("admin_randomisation.randomise_participant", ADMIN, args=participant_args, ok={"POST": {302}}),
    Route("admin_randomisation.randomise_all", ADMIN, args=_trial_args, ok={"POST": {302}}),
    Route("admin_randomisation.crossover", ADMIN, args=participant_args, ok={"POST": {302}}),
    Route("audit.log", ADMIN),
    # -- reports (the trial analysis): admins only; an empty start form is a form error (400)
    Route("reports.index", ADMIN),
    Route("reports.start", ADMIN, ok={"POST": {302, 400}}),  # 400: the form, its errors shown
    Route("reports.show", ADMIN, args=_run_args),
    Route("reports.status", ADMIN, args=_run_args),
    # an empty form (no CSRF token in the matrix's test config is fine): cancel of a finished
    # run changes nothing; restart starts a new run of the same trial
    Route("reports.cancel", ADMIN, args=_run_args, ok={"POST": {302}}),
    Route("reports.restart", ADMIN, args=_run_args, ok={"POST": {302}}),
    Route("reports.figure", ADMIN, args=_figure_args),
    Route("reports.export_zip", ADMIN, args=_run_args),
    Route("reports.results_json", ADMIN, args=_run_args),
]

BY_ENDPOINT = {route.endpoint: route for route in ROUTES}
