"""Conversations, messages, drafts, snippets and therapist time.

Sent messages are immutable: only ``read_at`` and ``notified_at`` may change after insert
(enforced below by a ``before_update`` listener). A retraction is a new message of kind
``retraction`` pointing at the retracted one.
"""
from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from icbt.db import Base, utcnow

if TYPE_CHECKING:
    from icbt.trials.models import Participant
    from icbt.users.models import User


class MessageKind(str, enum.Enum):
    MESSAGE = "message"  # written by the patient or the therapist
    SYSTEM = "system"  # written by the platform (questionnaire invitations, reminders)
    RETRACTION = "retraction"  # the author withdrew an earlier message of theirs


class SenderRole(str, enum.Enum):
    PATIENT = "patient"
    THERAPIST = "therapist"
    SYSTEM = "system"


KIND_VALUES = tuple(k.value for k in MessageKind)
SENDER_VALUES = tuple(s.value for s in SenderRole)


class Conversation(Base):
    """The one thread between a participant and whoever is their therapist."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="RESTRICT"), unique=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    participant: Mapped[Participant] = relationship()
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.id", foreign_keys="Message.conversation_id"
    )


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        # A double submit (same form, same key) stores one message.
        UniqueConstraint("conversation_id", "idempotency_key"),
        CheckConstraint(f"kind IN {KIND_VALUES!r}", name="kind_known"),
        CheckConstraint(f"sender_role IN {SENDER_VALUES!r}", name="sender_known"),
        CheckConstraint(
            "(kind = 'system') = (sender_role = 'system')", name="system_sender"
        ),
        CheckConstraint(
            "(kind = 'retraction') = (retracts_id IS NOT NULL)", name="retraction_target"
        ),
        # Unread counts: messages not yet read, per conversation and sender side.
        Index("ix_messages_unread", "conversation_id", "sender_role", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="RESTRICT"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    sender_role: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default=MessageKind.MESSAGE.value)
    body: Mapped[str] = mapped_column(Text, default="")
    idempotency_key: Mapped[str] = mapped_column(String(64))
    sent_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    read_at: Mapped[dt.datetime | None]
    notified_at: Mapped[dt.datetime | None]
    # What the message answers: a module (library id) or a homework hand-in.
    module_ref: Mapped[str | None] = mapped_column(String(64))
    homework_id: Mapped[int | None] = mapped_column(ForeignKey("homework.id", ondelete="RESTRICT"), index=True)
    # True when this message is the therapist's weekly feedback on ``homework_id``.
    is_feedback: Mapped[bool] = mapped_column(default=False)
    retracts_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="RESTRICT"), unique=True
    )
    # System messages: what they are about, rendered in the reader's language.
    system_kind: Mapped[str | None] = mapped_column(String(32))
    administration_id: Mapped[int | None] = mapped_column(
        ForeignKey("administrations.id", ondelete="RESTRICT"), index=True
    )
    link_path: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)

    conversation: Mapped[Conversation] = relationship(
        back_populates="messages", foreign_keys=[conversation_id]
    )
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    retracts: Mapped[Message | None] = relationship(remote_side=[id], foreign_keys=[retracts_id])

    @property
    def participant_id(self) -> int:  # for audit lines
        return self.conversation.participant_id


# Columns that may change after a message was sent; everything else is frozen.
MUTABLE_MESSAGE_COLUMNS = frozenset({"read_at", "notified_at"})


class ImmutableMessageError(RuntimeError):
    """A sent message was about to be changed."""


@event.listens_for(Message, "before_update")
def _refuse_changes_to_sent_messages(_mapper: Any, _connection: Any, target: Message) -> None:
    state = inspect(target)
    changed = {
        attr.key for attr in state.attrs
        if attr.key in Message.__table__.columns and attr.history.has_changes()
    }
    frozen = changed - MUTABLE_MESSAGE_COLUMNS
    if frozen:
        raise ImmutableMessageError(f"sent messages cannot be changed ({', '.join(sorted(frozen))})")


@event.listens_for(Message, "before_delete")
def _refuse_deleting_messages(_mapper: Any, _connection: Any, target: Message) -> None:
    raise ImmutableMessageError("sent messages cannot be deleted")


class MessageDraft(Base):
    """What an author has typed but not sent, one per author per conversation."""

    __tablename__ = "message_drafts"
    __table_args__ = (UniqueConstraint("conversation_id", "author_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text, default="")
    module_ref: Mapped[str | None] = mapped_column(String(64))
    homework_id: Mapped[int | None] = mapped_column(ForeignKey("homework.id", ondelete="SET NULL"))
    is_feedback: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Snippet(Base):
    """A therapist's own reusable text, inserted into a message before sending."""

    __tablename__ = "snippets"
    __table_args__ = (UniqueConstraint("owner_id", "title"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TherapistTimeDay(Base):
    """Seconds a therapist spent on a patient's pages on one day (trial's time zone),
    counted automatically from the pages' heartbeat."""

    __tablename__ = "therapist_time_days"
    __table_args__ = (
        UniqueConstraint("therapist_id", "participant_id", "day"),
        CheckConstraint("seconds >= 0", name="seconds_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    therapist_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="RESTRICT"), index=True
    )
    day: Mapped[dt.date]
    seconds: Mapped[int] = mapped_column(default=0)
    last_beat_at: Mapped[dt.datetime | None]


class TherapistTimeCorrection(Base):
    """A manual correction of the counted time (positive or negative minutes), with a reason."""

    __tablename__ = "therapist_time_corrections"
    __table_args__ = (
        CheckConstraint("minutes BETWEEN -600 AND 600 AND minutes <> 0", name="minutes_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    therapist_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="RESTRICT"), index=True
    )
    day: Mapped[dt.date]
    minutes: Mapped[int]
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
