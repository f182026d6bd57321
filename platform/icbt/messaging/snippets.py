"""A therapist's own reusable snippets. Inserting one only changes the text being written;
the message sent is a plain message like any other."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from sqlalchemy import select
from sqlalchemy.orm import Session

from icbt.audit.services import record
from icbt.messaging.models import Snippet
from icbt.messaging.text import clean_text
from icbt.users.models import User

MAX_TITLE = 80
MAX_BODY = 3000


class SnippetError(ValueError):
    """Bad snippet input; the message is for the user."""


def snippets_of(session: Session, owner: User) -> list[Snippet]:
    return list(session.scalars(select(Snippet).where(Snippet.owner_id == owner.id).order_by(Snippet.title)))


def own_snippet(session: Session, owner: User, snippet_id: int | None) -> Snippet | None:
    """The snippet if ``owner`` owns it, else None (someone else's id finds nothing)."""
    if not snippet_id:
        return None
    return session.scalar(select(Snippet).where(Snippet.id == snippet_id, Snippet.owner_id == owner.id))


def _clean(title: str, body: str) -> tuple[str, str]:
    title = " ".join(clean_text(title).split())
    body = clean_text(body).strip("\n")
    if not title:
        raise SnippetError(_l("Give the snippet a short title."))
    if len(title) > MAX_TITLE:
        raise SnippetError(_l("Keep the title to at most %(n)d characters.", n=MAX_TITLE))
    if not body.strip():
        raise SnippetError(_l("Write the snippet's text."))
    if len(body) > MAX_BODY:
        raise SnippetError(_l("Keep a snippet to at most %(n)d characters.", n=MAX_BODY))
    return title, body


def save_snippet(session: Session, owner: User, title: str, body: str, snippet: Snippet | None = None) -> Snippet:
    title, body = _clean(title, body)
    clash = session.scalar(select(Snippet).where(Snippet.owner_id == owner.id, Snippet.title == title))
    if clash is not None and clash is not snippet:
        raise SnippetError(_l("You already have a snippet with this title."))
    if snippet is None:
        snippet = Snippet(owner_id=owner.id, title=title, body=body)
        session.add(snippet)
    else:
        snippet.title, snippet.body = title, body
    session.flush()
    record(session, "snippet.save", actor=owner, target=snippet)
    return snippet


def delete_snippet(session: Session, owner: User, snippet: Snippet) -> None:
    record(session, "snippet.delete", actor=owner, target=snippet)
    session.delete(snippet)
    session.flush()


def insert_snippet(text: str, snippet_body: str) -> str:
    """``text`` with the snippet appended as its own paragraph."""
    text = (text or "").rstrip()
    return f"{text}\n\n{snippet_body}" if text else snippet_body
