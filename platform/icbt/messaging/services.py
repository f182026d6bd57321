"""Messaging services: take the session, flush, write an audit line; the request commits.

Access (who may use which conversation) is decided here, once, and used by every route:
a patient uses only their own participant's conversation; a therapist only the
conversations of participants assigned to them now; admins none (no access grant exists,
see ``may_use_conversation``).
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from icbt.audit.services import allow_detail_keys, record
from icbt.db import utcnow
from icbt.messaging.models import (
    Conversation,
    Message,
    MessageDraft,
    MessageKind,
    SenderRole,
)
from icbt.messaging.text import clean_text, has_content
from icbt.trials.models import Participant
from icbt.users.models import Role, User

DEFAULT_MAX_LENGTH = 5000
DRAFT_MAX_FACTOR = 2  # a draft may grow past the send limit, so typing is never refused
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


# Audit detail keys of messaging: kinds, flags, counts and ids, never content.
allow_detail_keys("is_feedback", "system_kind", "marked_read", "patients", "minutes", "day")


class MessagingError(ValueError):
    """A request that cannot be carried out; the message is written for the user."""


@dataclass
class SendResult:
    message: Message
    created: bool


# ---------------------------------------------------------------- access

def may_use_conversation(user: User, participant: Participant) -> bool:
    """Patients: their own. Therapists: their current caseload. Admins: never (there is no
    access grant to message contents; admins see counts and times only)."""
    if user.role == Role.PATIENT.value:
        return participant.user_id == user.id
    if user.role == Role.THERAPIST.value:
        return participant.therapist_id is not None and participant.therapist_id == user.id
    return False


def sender_role_of(user: User) -> str:
    if user.role == Role.PATIENT.value:
        return SenderRole.PATIENT.value
    if user.role == Role.THERAPIST.value:
        return SenderRole.THERAPIST.value
    raise MessagingError(_l("Only patients and their therapists write messages."))


def find_conversation(session: Session, participant: Participant) -> Conversation | None:
    """The participant's conversation if it exists (reading never creates one)."""
    return session.scalar(select(Conversation).where(Conversation.participant_id == participant.id))


def conversation_for(session: Session, participant: Participant) -> Conversation:
    """The participant's conversation, created on first use (race-safe)."""
    conversation = session.scalar(
        select(Conversation).where(Conversation.participant_id == participant.id)
    )
    if conversation is not None:
        return conversation
    conversation = Conversation(participant_id=participant.id)
    try:
        with session.begin_nested():
            session.add(conversation)
            session.flush()
    except IntegrityError:
        conversation = session.scalar(
            select(Conversation).where(Conversation.participant_id == participant.id)
        )
        if conversation is None:  # pragma: no cover - the conflicting row vanished
            raise
    return conversation


def _check_key(key: str | None) -> str:
    if not key or not KEY_PATTERN.match(key):
        raise MessagingError(_l("The form was incomplete. Reload the page and send the message again."))
    return key


def clean_body(body: str | None, *, max_length: int = DEFAULT_MAX_LENGTH) -> str:
    """The body as it will be stored, or a MessagingError saying what to change."""
    text = clean_text(body).strip("\n")
    if not has_content(text):
        raise MessagingError(_l("Write a message before sending."))
    if len(text) > max_length:
        raise MessagingError(_l(
            "A message can be at most %(limit)d characters long; this one has %(n)d. "
            "Shorten it, or send it as two messages.", limit=max_length, n=len(text),
        ))
    return text


# ---------------------------------------------------------------- sending

def _existing(session: Session, conversation: Conversation, key: str) -> Message | None:
    return session.scalar(
        select(Message).where(Message.conversation_id == conversation.id, Message.idempotency_key == key)
    )


def _insert_once(session: Session, conversation: Conversation, message: Message) -> SendResult:
    """Insert ``message`` unless its idempotency key is already used in the conversation.

    The unique constraint decides: a concurrent duplicate fails inside a savepoint and the
    message already stored is returned instead (nothing lost, nothing doubled)."""
    existing = _existing(session, conversation, message.idempotency_key)
    if existing is not None:
        return SendResult(existing, False)
    try:
        with session.begin_nested():
            session.add(message)
            session.flush()
    except IntegrityError:
        existing = _existing(session, conversation, message.idempotency_key)
        if existing is None:
            raise
        return SendResult(existing, False)
    return SendResult(message, True)


def send_message(
    session: Session,
    conversation: Conversation,
    author: User,
    body: str,
    *,
    idempotency_key: str,
    module_ref: str | None = None,
    homework_id: int | None = None,
    is_feedback: bool = False,
    max_length: int = DEFAULT_MAX_LENGTH,
    now: dt.datetime | None = None,
    notify: bool = True,
) -> SendResult:
    """Store a message from ``author`` (already checked by ``may_use_conversation``)."""
    participant = conversation.participant
    if not may_use_conversation(author, participant):
        raise PermissionError("author may not write in this conversation")
    role = sender_role_of(author)
    if role == SenderRole.PATIENT.value and participant.therapist_id is None:
        raise MessagingError(_l("You do not have a therapist yet. You can write once one is assigned to you."))
    key = _check_key(idempotency_key)
    text = clean_body(body, max_length=max_length)
    if is_feedback and (role != SenderRole.THERAPIST.value or homework_id is None):
        raise MessagingError(_l("Choose the homework this feedback is about."))
    if homework_id is not None:
        from icbt.messaging.feedback_links import homework_belongs

        if not homework_belongs(session, participant, homework_id):
            raise MessagingError(_l("Choose one of this patient's handed-in homework."))
    message = Message(
        conversation_id=conversation.id,
        author_id=author.id,
        sender_role=role,
        kind=MessageKind.MESSAGE.value,
        body=text,
        idempotency_key=key,
        sent_at=now or utcnow(),
        module_ref=clean_text(module_ref) or None,
        homework_id=homework_id,
        is_feedback=bool(is_feedback),
    )
    result = _insert_once(session, conversation, message)
    if not result.created:
        if result.message.author_id != author.id:
            raise MessagingError(_l("The form was sent twice from different accounts. Reload the page."))
        return result
    discard_draft(session, conversation, author)
    record(
        session, "message.send", actor=author, target=message, participant_id=participant.id,
        detail={"kind": message.kind, "is_feedback": message.is_feedback, "homework_id": homework_id},
    )
    if is_feedback:
        from icbt.messaging import feedback_links

        feedback_links.homework_reviewed(session, participant, homework_id, author, message)
    if notify:
        from icbt.messaging.notify import queue_notification

        queue_notification(session, message)
    return result


def retract_message(
    session: Session, message: Message, author: User, *, note: str = "", now: dt.datetime | None = None
) -> SendResult:
    """A new, visible event saying ``author`` withdrew ``message``; the original stays."""
    if message.author_id != author.id or message.kind != MessageKind.MESSAGE.value:
        raise MessagingError(_l("You can only withdraw messages you wrote."))
    note_text = clean_text(note).strip()
    if len(note_text) > 500:
        raise MessagingError(_l("Keep the note to at most 500 characters."))
    retraction = Message(
        conversation_id=message.conversation_id,
        author_id=author.id,
        sender_role=message.sender_role,
        kind=MessageKind.RETRACTION.value,
        body=note_text,
        idempotency_key=f"retract-{message.id}",
        sent_at=now or utcnow(),
        retracts_id=message.id,
    )
    result = _insert_once(session, message.conversation, retraction)
    if result.created:
        record(
            session, "message.retract", actor=author, target=retraction,
            participant_id=message.conversation.participant_id, detail={"message_id": message.id},
        )
    return result


def post_system_message(
    session: Session,
    participant: Participant,
    *,
    system_kind: str,
    body: str,
    idempotency_key: str,
    link_path: str | None = None,
    administration_id: int | None = None,
    detail: dict | None = None,
    now: dt.datetime | None = None,
    notify: bool = True,
) -> SendResult:
    """A platform message in the participant's thread (questionnaire invitations and
    reminders). Posting the same ``idempotency_key`` twice stores one message."""
    conversation = conversation_for(session, participant)
    message = Message(
        conversation_id=conversation.id,
        author_id=None,
        sender_role=SenderRole.SYSTEM.value,
        kind=MessageKind.SYSTEM.value,
        body=clean_text(body),
        idempotency_key=idempotency_key[:64],
        sent_at=now or utcnow(),
        system_kind=system_kind,
        link_path=link_path,
        administration_id=administration_id,
        detail=detail or {},
    )
    result = _insert_once(session, conversation, message)
    if result.created:
        record(
            session, "message.system", target=message, participant_id=participant.id,
            detail={"system_kind": system_kind, "administration_id": administration_id},
        )
        if notify:
            from icbt.messaging.notify import queue_notification

            queue_notification(session, message)
    return result


# ---------------------------------------------------------------- reading

def thread(session: Session, conversation: Conversation) -> list[Message]:
    """Every event of the conversation in order, authors loaded (two queries)."""
    return list(
        session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation.id)
            .options(selectinload(Message.author))
            .order_by(Message.sent_at, Message.id)
        )
    )


def _incoming_roles(reader: User) -> tuple[str, ...]:
    if reader.role == Role.PATIENT.value:
        return (SenderRole.THERAPIST.value, SenderRole.SYSTEM.value)
    return (SenderRole.PATIENT.value,)


def has_unread(session: Session, conversation: Conversation, reader: User) -> bool:
    """Whether ``reader`` has a message in the conversation not read yet (one small query)."""
    return session.scalar(
        select(Message.id).where(Message.conversation_id == conversation.id, Message.read_at.is_(None),
                                 Message.sender_role.in_(_incoming_roles(reader))).limit(1)
    ) is not None


def record_read(session: Session, conversation: Conversation, reader: User, *, marked_read: int) -> None:
    record(
        session, "conversation.read", actor=reader, target=conversation,
        participant_id=conversation.participant_id, detail={"marked_read": marked_read},
    )


def read_conversation(
    session: Session, conversation: Conversation, reader: User, *, now: dt.datetime | None = None
) -> tuple[list[Message], set[int]]:
    """The thread for ``reader`` and the ids that were unread until now (now marked read).
    Writes the audit line every staff (and patient) read gets."""
    messages = thread(session, conversation)
    incoming = _incoming_roles(reader)
    unread = {m.id for m in messages if m.read_at is None and m.sender_role in incoming}
    if unread:
        session.execute(
            update(Message)
            .where(Message.id.in_(unread), Message.read_at.is_(None))
            .values(read_at=now or utcnow())
            .execution_options(synchronize_session=False, pagecache_participants=[conversation.participant_id])
        )
    record_read(session, conversation, reader, marked_read=len(unread))
    return messages, unread


def unread_count(session: Session, user: User) -> int:
    """Unread messages addressed to ``user``, in one query (for the navigation)."""
    stmt = (
        select(func.count(Message.id))
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Participant, Participant.id == Conversation.participant_id)
        .where(Message.read_at.is_(None))
    )
    if user.role == Role.PATIENT.value:
        stmt = stmt.where(
            Participant.user_id == user.id,
            Message.sender_role.in_((SenderRole.THERAPIST.value, SenderRole.SYSTEM.value)),
        )
    elif user.role == Role.THERAPIST.value:
        stmt = stmt.where(Participant.therapist_id == user.id, Message.sender_role == SenderRole.PATIENT.value)
    else:
        return 0
    return int(session.scalar(stmt) or 0)


def unread_from_patients(session: Session, participant_ids: list[int]) -> dict[int, int]:
    """Per participant id: messages from the patient the therapist has not read (one query)."""
    if not participant_ids:
        return {}
    rows = session.execute(
        select(Conversation.participant_id, func.count(Message.id))
        .join(Message, Message.conversation_id == Conversation.id)
        .where(
            Conversation.participant_id.in_(participant_ids),
            Message.sender_role == SenderRole.PATIENT.value,
            Message.read_at.is_(None),
        )
        .group_by(Conversation.participant_id)
    ).all()
    return {pid: int(n) for pid, n in rows}


def last_patient_message_at(session: Session, participant_ids: list[int]) -> dict[int, dt.datetime]:
    if not participant_ids:
        return {}
    rows = session.execute(
        select(Conversation.participant_id, func.max(Message.sent_at))
        .join(Message, Message.conversation_id == Conversation.id)
        .where(Conversation.participant_id.in_(participant_ids), Message.sender_role == SenderRole.PATIENT.value)
        .group_by(Conversation.participant_id)
    ).all()
    return {pid: at for pid, at in rows if at is not None}


# ---------------------------------------------------------------- drafts

def draft_of(session: Session, conversation: Conversation, author: User) -> MessageDraft | None:
    return session.scalar(
        select(MessageDraft).where(
            MessageDraft.conversation_id == conversation.id, MessageDraft.author_id == author.id
        )
    )


def save_draft(
    session: Session,
    conversation: Conversation,
    author: User,
    body: str | None,
    *,
    module_ref: str | None = None,
    homework_id: int | None = None,
    is_feedback: bool = False,
    max_length: int = DEFAULT_MAX_LENGTH,
) -> MessageDraft | None:
    """Keep what ``author`` typed (one draft per author and conversation); an empty body
    discards the draft. Returns the draft, or None when discarded."""
    if not may_use_conversation(author, conversation.participant):
        raise PermissionError("author may not write in this conversation")
    text = clean_text(body)
    if len(text) > max_length * DRAFT_MAX_FACTOR:
        raise MessagingError(_l("The draft is too long to keep (more than %(n)d characters).", n=max_length * DRAFT_MAX_FACTOR))
    if not has_content(text):
        discard_draft(session, conversation, author)
        return None
    draft = draft_of(session, conversation, author)
    if draft is None:
        draft = MessageDraft(conversation_id=conversation.id, author_id=author.id)
        try:
            with session.begin_nested():
                session.add(draft)
                session.flush()
        except IntegrityError:  # another autosave created it a moment ago
            draft = draft_of(session, conversation, author)
            if draft is None:  # pragma: no cover
                raise
    draft.body = text
    draft.module_ref = clean_text(module_ref) or None
    draft.homework_id = homework_id
    draft.is_feedback = bool(is_feedback)
    draft.updated_at = utcnow()
    session.flush()
    record(session, "message.draft_save", actor=author, target=conversation,
           participant_id=conversation.participant_id)
    return draft


def discard_draft(session: Session, conversation: Conversation, author: User) -> None:
    draft = draft_of(session, conversation, author)
    if draft is not None:
        session.delete(draft)
        session.flush()
