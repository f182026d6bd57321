"""Message threads for patients and therapists, snippets, therapist time, and the admin's
view of therapist load (no message contents). Every route states its role; conversations
are reached only through the participant the user may use (``may_use_conversation``).

Admins have no route that shows message contents, and no access grant exists.
"""
from __future__ import annotations

import csv
import io
import secrets
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from icbt import pagecache
from icbt.access import deny, get_participant_or_404, role_required
from icbt.audit.services import record
from icbt import clock
from icbt.extensions import db
from icbt.messaging import feedback_links, snippets as snippet_service
from icbt.messaging import therapist_time
from icbt.messaging.forms import MessageForm, RetractForm, SnippetForm, TimeCorrectionForm, new_idempotency_key
from icbt.messaging.models import Conversation, Message
from icbt.messaging.services import (
    DEFAULT_MAX_LENGTH,
    MessagingError,
    conversation_for,
    draft_of,
    find_conversation,
    has_unread,
    may_use_conversation,
    read_conversation,
    record_read,
    retract_message,
    save_draft,
    send_message,
    thread,
    unread_count,
)
from icbt.messaging.text import render_message
from icbt.trials.models import Participant
from icbt.trials.services import participant_of_user

bp = Blueprint("messaging", __name__)


@bp.record_once
def _subscribe(_state) -> None:  # type: ignore[no-untyped-def]
    from icbt.messaging.questionnaires import register_listeners

    register_listeners()


# ---------------------------------------------------------------- template helpers

@bp.app_context_processor
def _nav_counts():  # type: ignore[no-untyped-def]
    def unread_messages() -> int:
        if "unread_messages" not in g:
            user = current_user
            g.unread_messages = (
                unread_count(db.session, user)
                if user and user.is_authenticated and user.role in ("patient", "therapist") else 0
            )
        return g.unread_messages

    return {"unread_messages": unread_messages}


@bp.app_template_filter("trial_time")
def trial_time(value, timezone: str | None = None) -> str:  # type: ignore[no-untyped-def]
    if value is None:
        return "–"
    zone = ZoneInfo(timezone or "UTC")
    return format_datetime(value, "d MMM yyyy, HH:mm", tzinfo=zone, locale=str(get_locale() or "en"))


@bp.app_template_filter("message_html")
def message_html(body: str):  # type: ignore[no-untyped-def]
    return render_message(body)


def _max_length() -> int:
    return int(current_app.config.get("MESSAGE_MAX_LENGTH", DEFAULT_MAX_LENGTH))


# ---------------------------------------------------------------- shared thread logic

def _answered_at(messages: list[Message]) -> dict[int, object]:
    """For system messages about questionnaires: when each was answered (one query)."""
    ids = {m.administration_id for m in messages if m.administration_id}
    return feedback_links.administrations_answered(db.session, ids) if ids else {}


def _thread_page(participant: Participant, *, staff: bool, post_url: str, draft_url: str,
                 retract_endpoint: str, retract_args: dict, form: MessageForm | None = None,
                 status: int = 200):  # type: ignore[no-untyped-def]
    user = current_user._get_current_object()
    # Reading never creates the conversation; the first message does.
    conversation = find_conversation(db.session, participant)
    if (form is None and not staff and conversation is not None and request.method == "GET"
            and not has_unread(db.session, conversation, user)):
        # Nothing to mark read: the page may come from the page cache (the patient's own
        # thread; a therapist's shows their snippets, which the cache does not track). The
        # form's single-use idempotency key is filled in fresh on every view.
        placeholder = _KEY_PLACEHOLDER
        html = pagecache.page(db.session, [pagecache.participant_scope(participant.id)], lambda: (
            _render_thread(participant, conversation, thread(db.session, conversation), set(), staff=staff,
                           post_url=post_url, draft_url=draft_url, retract_endpoint=retract_endpoint,
                           retract_args=retract_args, form=None, idempotency_key=placeholder), {}))[0]
        record_read(db.session, conversation, user, marked_read=0)  # last: flushed with the commit
        return html.replace(placeholder, new_idempotency_key()), status
    if conversation is not None:
        messages, unread = read_conversation(db.session, conversation, user)
    else:
        messages, unread = [], set()
        record(db.session, "conversation.read", actor=user, participant_id=participant.id,
               detail={"marked_read": 0})
    return _render_thread(participant, conversation, messages, unread, staff=staff, post_url=post_url,
                          draft_url=draft_url, retract_endpoint=retract_endpoint, retract_args=retract_args,
                          form=form), status


# Stands for the form's idempotency key in a cached thread page (random per process: no
# message text can contain it by chance).
_KEY_PLACEHOLDER = "idem-" + secrets.token_hex(16)


def _render_thread(participant: Participant, conversation: Conversation | None, messages: list[Message],
                   unread: set[int], *, staff: bool, post_url: str, draft_url: str, retract_endpoint: str,
                   retract_args: dict, form: MessageForm | None, idempotency_key: str | None = None) -> str:
    user = current_user._get_current_object()
    retracted = {m.retracts_id: m for m in messages if m.retracts_id}
    if form is None:
        form = MessageForm()
        draft = draft_of(db.session, conversation, user) if conversation is not None else None
        if draft is not None:
            form.body.data = draft.body
            form.is_feedback.data = draft.is_feedback
            if draft.homework_id:
                form.about.data = f"h:{draft.homework_id}"
            elif draft.module_ref:
                form.about.data = f"m:{draft.module_ref}"
        form.idempotency_key.data = idempotency_key or new_idempotency_key()
        preset = request.args.get("homework", type=int)
        if staff and preset:
            form.about.data = f"h:{preset}"
            form.is_feedback.data = True
    _set_choices(form, participant)
    snippets = snippet_service.snippets_of(db.session, user) if staff else []
    return render_template(
        "messaging/thread.html",
        participant=participant,
        conversation=conversation,
        messages=messages,
        unread=unread,
        retracted=retracted,
        answered=_answered_at(messages),
        form=form,
        staff=staff,
        snippets=snippets,
        post_url=post_url,
        draft_url=draft_url,
        retract_endpoint=retract_endpoint,
        retract_args=retract_args,
        timezone=participant.trial.timezone,
        max_length=_max_length(),
        homework_titles=dict(feedback_links.homework_choices(db.session, participant)),
        module_titles=dict(feedback_links.module_choices(db.session, participant)),
        beat_url=url_for("messaging.time_beat", participant_id=participant.id) if staff else None,
    )


def _set_choices(form: MessageForm, participant: Participant) -> None:
    form.set_about_choices(
        feedback_links.module_choices(db.session, participant),
        feedback_links.homework_choices(db.session, participant),
    )


def _handle_post(participant: Participant, *, staff: bool, thread_url: str, **page):  # type: ignore[no-untyped-def]
    user = current_user._get_current_object()
    conversation = conversation_for(db.session, participant)
    form = MessageForm()
    _set_choices(form, participant)
    action = request.form.get("action", "send")
    if action not in ("send", "draft", "insert"):
        abort(400)
    if not form.validate():
        form.idempotency_key.data = form.idempotency_key.data or new_idempotency_key()
        return _thread_page(participant, staff=staff, form=form, **page)
    module_ref, homework_id = form.about_refs()
    is_feedback = bool(staff and form.is_feedback.data)
    if action == "insert":  # snippets are the therapist's own; for anyone else this only saves
        snippet = snippet_service.own_snippet(
            db.session, user, int(form.snippet_id.data) if (form.snippet_id.data or "").isdigit() else None
        ) if staff else None
        if snippet is not None:
            form.body.data = snippet_service.insert_snippet(form.body.data or "", snippet.body)
        action = "draft"
    if action == "draft":
        try:
            save_draft(db.session, conversation, user, form.body.data, module_ref=module_ref,
                       homework_id=homework_id, is_feedback=is_feedback, max_length=_max_length())
        except MessagingError as error:
            form.body.errors = [str(error)]
            return _thread_page(participant, staff=staff, form=form, **page)
        if request.form.get("action") == "draft":
            flash(_("Draft saved. It stays here until you send it."), "success")
            return redirect(thread_url)
        return _thread_page(participant, staff=staff, form=form, **page)
    try:
        result = send_message(
            db.session, conversation, user, form.body.data or "",
            idempotency_key=form.idempotency_key.data or "", module_ref=module_ref,
            homework_id=homework_id, is_feedback=is_feedback, max_length=_max_length(),
        )
    except MessagingError as error:
        form.body.errors = [str(error)]
        # Keep what was typed, even when it cannot be sent as it is.
        try:
            save_draft(db.session, conversation, user, form.body.data, module_ref=module_ref,
                       homework_id=homework_id, is_feedback=is_feedback, max_length=_max_length())
        except MessagingError:
            pass
        return _thread_page(participant, staff=staff, form=form, **page)
    flash(_("Your message was sent.") if result.created else _("This message had already been sent."), "success")
    return redirect(f"{thread_url}#m-{result.message.id}")


def _draft_json(participant: Participant):  # type: ignore[no-untyped-def]
    user = current_user._get_current_object()
    conversation = conversation_for(db.session, participant)
    form = MessageForm()
    _set_choices(form, participant)
    if not form.validate():
        return jsonify(saved=False, error=_("The draft could not be saved.")), 400
    module_ref, homework_id = form.about_refs()
    try:
        save_draft(db.session, conversation, user, form.body.data, module_ref=module_ref, homework_id=homework_id,
                   is_feedback=bool(user.role == "therapist" and form.is_feedback.data), max_length=_max_length())
    except MessagingError as error:
        return jsonify(saved=False, error=str(error)), 400
    return jsonify(saved=True, at=trial_time(clock.now(), participant.trial.timezone))


def _retract(participant: Participant, message_id: int, thread_url: str):  # type: ignore[no-untyped-def]
    user = current_user._get_current_object()
    conversation = conversation_for(db.session, participant)
    message = db.session.scalar(
        select(Message).where(Message.id == message_id, Message.conversation_id == conversation.id)
    )
    if message is None:
        abort(404)
    form = RetractForm()
    if not form.validate():
        flash(_("Keep the note to at most 500 characters."), "error")
        return redirect(thread_url)
    try:
        retract_message(db.session, message, user, note=form.note.data or "")
    except MessagingError as error:
        flash(str(error), "error")
        return redirect(thread_url)
    flash(_("The message is marked as withdrawn. Your therapist or patient can still see that it was sent."), "success")
    return redirect(f"{thread_url}#m-{message.id}")


# ---------------------------------------------------------------- patient

def _own_participant() -> Participant | None:
    return participant_of_user(db.session, current_user)


def _patient_page_args() -> dict:
    return {
        "post_url": url_for("messaging.patient_thread"),
        "draft_url": url_for("messaging.patient_draft"),
        "retract_endpoint": "messaging.patient_retract",
        "retract_args": {},
    }


@bp.route("/me/messages", methods=["GET", "POST"])
@role_required("patient")
def patient_thread():  # type: ignore[no-untyped-def]
    participant = _own_participant()
    if participant is None:
        return render_template("messaging/no_programme.html")
    if request.method == "POST":
        return _handle_post(participant, staff=False, thread_url=url_for("messaging.patient_thread"),
                            **_patient_page_args())
    return _thread_page(participant, staff=False, **_patient_page_args())


@bp.route("/me/messages/draft", methods=["POST"])
@role_required("patient")
def patient_draft():  # type: ignore[no-untyped-def]
    participant = _own_participant()
    if participant is None:
        abort(404)
    return _draft_json(participant)


@bp.route("/me/messages/<int:message_id>/retract", methods=["POST"])
@role_required("patient")
def patient_retract(message_id: int):  # type: ignore[no-untyped-def]
    participant = _own_participant()
    if participant is None:
        abort(404)
    return _retract(participant, message_id, url_for("messaging.patient_thread"))


# ---------------------------------------------------------------- therapist

def _caseload_participant_or_403(participant_id: int) -> Participant:
    participant = get_participant_or_404(participant_id)
    if not may_use_conversation(current_user, participant):
        deny("not own caseload", participant_id=participant_id)
    return participant


def _therapist_page_args(participant: Participant) -> dict:
    return {
        "post_url": url_for("messaging.therapist_thread", participant_id=participant.id),
        "draft_url": url_for("messaging.therapist_draft", participant_id=participant.id),
        "retract_endpoint": "messaging.therapist_retract",
        "retract_args": {"participant_id": participant.id},
    }


@bp.route("/therapist/messages")
@role_required("therapist")
def therapist_inbox():  # type: ignore[no-untyped-def]
    from icbt.messaging.caseload import inbox_rows

    rows = inbox_rows(db.session, current_user._get_current_object())
    record(db.session, "inbox.view", detail={"patients": len(rows)})
    return render_template("messaging/inbox.html", rows=rows)


@bp.route("/therapist/patients/<int:participant_id>/messages", methods=["GET", "POST"])
@role_required("therapist")
def therapist_thread(participant_id: int):  # type: ignore[no-untyped-def]
    participant = _caseload_participant_or_403(participant_id)
    if request.method == "POST":
        return _handle_post(
            participant, staff=True,
            thread_url=url_for("messaging.therapist_thread", participant_id=participant.id),
            **_therapist_page_args(participant),
        )
    return _thread_page(participant, staff=True, **_therapist_page_args(participant))


@bp.route("/therapist/patients/<int:participant_id>/messages/draft", methods=["POST"])
@role_required("therapist")
def therapist_draft(participant_id: int):  # type: ignore[no-untyped-def]
    return _draft_json(_caseload_participant_or_403(participant_id))


@bp.route("/therapist/patients/<int:participant_id>/messages/<int:message_id>/retract", methods=["POST"])
@role_required("therapist")
def therapist_retract(participant_id: int, message_id: int):  # type: ignore[no-untyped-def]
    participant = _caseload_participant_or_403(participant_id)
    return _retract(participant, message_id, url_for("messaging.therapist_thread", participant_id=participant.id))


# ---------------------------------------------------------------- therapist time

@bp.route("/therapist/patients/<int:participant_id>/time/beat", methods=["POST"])
@role_required("therapist")
def time_beat(participant_id: int):  # type: ignore[no-untyped-def]
    participant = _caseload_participant_or_403(participant_id)
    credited = therapist_time.record_heartbeat(
        db.session, current_user._get_current_object(), participant, start=request.form.get("start") == "1"
    )
    return jsonify(credited=credited)


@bp.route("/therapist/patients/<int:participant_id>/time", methods=["GET", "POST"])
@role_required("therapist")
def time_page(participant_id: int):  # type: ignore[no-untyped-def]
    participant = _caseload_participant_or_403(participant_id)
    form = TimeCorrectionForm()
    if request.method == "GET":
        form.day.data = therapist_time.local_day(clock.now(), participant.trial.timezone)
    if form.validate_on_submit():
        try:
            therapist_time.add_correction(
                db.session, current_user._get_current_object(), participant,
                day=form.day.data, minutes=form.minutes.data, reason=form.reason.data,
            )
        except therapist_time.TimeError as error:
            form.reason.errors = [str(error)]
        else:
            flash(_("The correction was saved."), "success")
            return redirect(url_for("messaging.time_page", participant_id=participant.id))
    weeks = therapist_time.minutes_per_patient_week(db.session, participant_ids=[participant.id])
    record(db.session, "therapist_time.view", target=participant)
    return render_template("messaging/time.html", participant=participant, form=form, weeks=weeks)


# ---------------------------------------------------------------- snippets

@bp.route("/therapist/snippets", methods=["GET", "POST"])
@role_required("therapist")
def snippets():  # type: ignore[no-untyped-def]
    user = current_user._get_current_object()
    form = SnippetForm()
    if form.validate_on_submit():
        try:
            snippet_service.save_snippet(db.session, user, form.title.data, form.body.data)
        except snippet_service.SnippetError as error:
            form.title.errors = [str(error)]
        else:
            flash(_("Snippet saved."), "success")
            return redirect(url_for("messaging.snippets"))
    return render_template("messaging/snippets.html", form=form,
                           snippets=snippet_service.snippets_of(db.session, user), editing=None)


def _own_snippet_or_404(snippet_id: int):  # type: ignore[no-untyped-def]
    snippet = snippet_service.own_snippet(db.session, current_user, snippet_id)
    if snippet is None:
        abort(404)
    return snippet


@bp.route("/therapist/snippets/<int:snippet_id>", methods=["GET", "POST"])
@role_required("therapist")
def snippet_edit(snippet_id: int):  # type: ignore[no-untyped-def]
    user = current_user._get_current_object()
    snippet = _own_snippet_or_404(snippet_id)
    form = SnippetForm(obj=snippet)
    if form.validate_on_submit():
        try:
            snippet_service.save_snippet(db.session, user, form.title.data, form.body.data, snippet=snippet)
        except snippet_service.SnippetError as error:
            form.title.errors = [str(error)]
        else:
            flash(_("Snippet saved."), "success")
            return redirect(url_for("messaging.snippets"))
    return render_template("messaging/snippets.html", form=form,
                           snippets=snippet_service.snippets_of(db.session, user), editing=snippet)


@bp.route("/therapist/snippets/<int:snippet_id>/delete", methods=["POST"])
@role_required("therapist")
def snippet_delete(snippet_id: int):  # type: ignore[no-untyped-def]
    snippet = _own_snippet_or_404(snippet_id)
    snippet_service.delete_snippet(db.session, current_user._get_current_object(), snippet)
    flash(_("Snippet deleted."), "success")
    return redirect(url_for("messaging.snippets"))


# ---------------------------------------------------------------- admin (no contents)

@bp.route("/admin/therapists")
@role_required("admin")
def admin_load():  # type: ignore[no-untyped-def]
    from icbt.messaging.caseload import therapist_loads

    loads = therapist_loads(db.session, now=clock.now())
    record(db.session, "therapist_load.view")
    return render_template("messaging/admin_load.html", loads=loads)


@bp.route("/admin/therapist-time")
@role_required("admin")
def admin_time():  # type: ignore[no-untyped-def]
    weeks = therapist_time.minutes_per_patient_week(db.session)
    record(db.session, "therapist_time.report", detail={"format": request.args.get("format", "html")})
    if request.args.get("format") == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["participant_code", "treatment_week", "counted_minutes", "corrected_minutes", "minutes"])
        for w in weeks:
            writer.writerow([w.code, "" if w.week is None else w.week, w.counted_minutes, w.corrected_minutes,
                             round(w.minutes, 1)])
        return Response(out.getvalue(), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=therapist-time.csv"})
    return render_template("messaging/admin_time.html", weeks=weeks)
