"""Every page and every worksheet of every module in the library renders for a patient, and
a complete answer to each worksheet can be handed in."""
from __future__ import annotations

import datetime as dt
import random

from markupsafe import escape
from sqlalchemy import select

from icbt.content import store
from icbt.content.services import module_of
from icbt.extensions import db
from icbt.treatment.demo_answers import answer_worksheet
from icbt.treatment.models import Homework
from icbt.treatment.services import change_plan, module_keys

START = dt.date(2026, 1, 5)


def _form(raw: dict) -> dict[str, str]:
    data = {}
    for field_id, value in raw.items():
        if isinstance(value, list):
            for r, row in enumerate(value):
                for col, cell in row.items():
                    data[f"w.{field_id}.{r}.{col}"] = cell
        else:
            data[f"w.{field_id}"] = value
    return data


def test_every_module_page_and_worksheet(in_treatment, therapist, login_as, frozen_now) -> None:
    library = store().library()
    participant, plan = in_treatment(START, primary="panic", severity="severe")
    # Put every module of the library into this plan (weeks allowing), then open them all.
    participant.trial.weeks = len(library)
    for module in library:
        if module.id not in module_keys(plan):
            change_plan(db.session, plan, actor=therapist, action="add", module_key=module.id,
                        reason="Test every module.", today=START)
    db.session.commit()
    assert sorted(module_keys(plan)) == sorted(m.id for m in library)
    frozen_now(dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc))
    client = login_as(participant.user)
    plan_page = client.get("/me/plan").get_data(as_text=True)
    rng = random.Random(3)
    for item in plan.items:
        module = module_of(item.module_version)
        assert str(escape(module.title)) in plan_page
        for n, page in enumerate(module.pages, start=1):
            response = client.get(f"/me/modules/{item.id}/pages/{n}")
            assert response.status_code == 200, (module.id, n)
            assert str(escape(page.title)) in response.get_data(as_text=True)
        for sheet in module.worksheets:
            url = f"/me/modules/{item.id}/worksheets/{sheet.id}"
            html = client.get(url).get_data(as_text=True)
            assert all(str(escape(spec.label)) in html for spec in sheet.fields), module.id
            response = client.post(url, data={**_form(answer_worksheet(module.id, sheet, rng)), "action": "submit"})
            assert response.status_code == 302, (module.id, response.get_data(as_text=True)[:2000])
    statuses = db.session.scalars(select(Homework.status)).all()
    assert len(statuses) == sum(len(module_of(i.module_version).worksheets) for i in plan.items)
    assert set(statuses) == {"submitted"}
    client.post("/auth/logout")
    therapist_page = login_as(therapist).get(f"/therapist/patients/{participant.id}").get_data(as_text=True)
    assert therapist_page.count("to read") == len(statuses)
