"""THE table of every endpoint: who may use it, on whose objects, and what they get.

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
    every GET                             -> no database write but audit lines

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
    # -- therapist
    Route("therapist.caseload", THERAPIST),
    Route("therapist.patient", THERAPIST, owner=PARTICIPANT, args=participant_args),
    # -- messaging (a thread GET marks the reader's incoming messages read: with unread
    #    messages it writes read_at; the matrix's world has none, so its GETs write nothing)
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
    Route("audit.log", ADMIN),
]

BY_ENDPOINT = {route.endpoint: route for route in ROUTES}
