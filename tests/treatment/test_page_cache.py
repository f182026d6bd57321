"""Module pages and the page cache: a page read again comes from the cache and is still
recorded; what the patient or the therapist changes shows at once."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from icbt.audit.models import AuditEvent
from icbt.extensions import db
from icbt.treatment.models import PageRead
from icbt.treatment.services import LAST_READ_RESOLUTION
from tests.test_pagecache import _hits

START = dt.date(2026, 3, 2)
NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.timezone.utc)  # week 2 in Stockholm


def test_a_page_read_again_comes_from_the_cache_and_is_recorded(app, in_treatment, login_as, frozen_now) -> None:
    frozen_now(NOW)
    participant, plan = in_treatment(START)
    item = plan.items[0]
    client = login_as(participant.user)
    url = f"/me/modules/{item.id}/pages/1"
    first = client.get(url)
    assert first.status_code == 200
    hits = _hits(app)
    again = client.get(url)
    assert _hits(app) == hits + 1 and again.get_data() == first.get_data()
    views = db.session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "module.page_view"))
    assert views == 2
    [read] = db.session.scalars(select(PageRead).where(PageRead.plan_item_id == item.id)).all()
    assert read.first_read_at == read.last_read_at == NOW


def test_the_last_read_moves_only_after_a_few_minutes(app, in_treatment, login_as, frozen_now) -> None:
    frozen_now(NOW)
    participant, plan = in_treatment(START)
    client = login_as(participant.user)
    url = f"/me/modules/{plan.items[0].id}/pages/1"
    client.get(url)
    soon = NOW + dt.timedelta(seconds=LAST_READ_RESOLUTION - 1)
    frozen_now(soon)
    client.get(url)
    db.session.expire_all()
    assert db.session.scalar(select(PageRead.last_read_at)) == NOW
    later = NOW + dt.timedelta(seconds=LAST_READ_RESOLUTION)
    frozen_now(later)
    client.get(url)
    db.session.expire_all()
    assert db.session.scalar(select(PageRead.last_read_at)) == later


def test_a_first_read_renders_the_patients_pages_again(app, in_treatment, login_as, frozen_now) -> None:
    frozen_now(NOW)
    participant, plan = in_treatment(START)
    client = login_as(participant.user)
    client.get("/me/")
    hits = _hits(app)
    client.get("/me/")
    assert _hits(app) == hits + 1  # nothing changed: from the cache
    client.get(f"/me/modules/{plan.items[0].id}/pages/2")  # a first read: the patient's scope changes
    hits = _hits(app)
    client.get("/me/")
    assert _hits(app) == hits  # rendered again
    client.get(f"/me/modules/{plan.items[0].id}/pages/2")  # read again: no change
    client.get("/me/")
    assert _hits(app) == hits + 2
