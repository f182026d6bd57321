"""Plans: the proposal keeps the assigned module versions; the therapist reorders, adds and
removes with a reason, approves with a start date, opens a module early; every change is
stored with who, when and why."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from icbt.content import store
from icbt.content.library import load_library
from icbt.content.models import ModuleVersion
from icbt.content.services import module_of, snapshot_module
from icbt.extensions import db
from icbt.tailoring.engine import Profile, TrialSettings, propose
from icbt.treatment.models import ModulePlan, PlanChange
from icbt.treatment.services import PlanError, change_plan, module_keys, propose_plan
from icbt.trials.allocation import import_allocation
from tests.treatment.conftest import assess, screen
from tests.treatment.library_fixture import module_text, write_library

TODAY = dt.date(2026, 3, 2)
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def proposed(factory, therapist, frozen_now):  # type: ignore[no-untyped-def]
    frozen_now(NOW)
    participant = factory.participant(therapist=therapist)
    screen(participant, panic=8, phq_9=2)  # PHQ-9 = 9 x 2 = 18
    assess(participant, therapist, "panic", "severe", {"depression": "moderate"})
    import_allocation(db.session, participant, "treatment", note="test", actor=therapist)
    participant.status = "randomised"
    plan = propose_plan(db.session, participant, actor=therapist)
    db.session.commit()
    return participant, plan


def _plan(participant) -> ModulePlan:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    return db.session.scalar(select(ModulePlan).where(ModulePlan.participant_id == participant.id))


def test_the_proposal_is_the_engines_plan_with_versions_and_reasons(proposed) -> None:
    participant, plan = proposed
    expected = propose(Profile.of("panic", "severe", {"depression": "moderate"}, scores={"gad-7": 0, "phq-9": 18}),
                       TrialSettings(participant.trial.weeks, participant.trial.module_cap), store().rules)
    assert module_keys(plan) == expected.module_ids
    for item, entry in zip(plan.items, expected.entries):
        module = store().library().get(item.module_key)
        assert (item.version, item.content_hash) == (module.version, module.content_hash)
        assert item.reason == entry.reason.to_dict()
    assert plan.status == "proposed" and plan.changes[0].action == "propose"


def test_the_therapist_changes_the_plan_with_reasons(proposed, therapist, login_as) -> None:
    participant, plan = proposed
    client = login_as(therapist)
    url = f"/therapist/patients/{participant.id}/plan"
    page = client.get(url).get_data(as_text=True)
    assert "Panic is the primary problem, severity severe." in page
    # The screening score of the problem's questionnaire is cited (modules/tailoring.yaml: screeners).
    assert "PHQ-9 = 18: Low mood (depression) is comorbid, severity moderate." in page
    # A change without a reason is refused on the field.
    html = client.post(url + "/change", data={"action": "remove", "module": "panic-2", "reason": ""}).get_data(as_text=True)
    assert "Write the reason for this change." in html
    before = module_keys(_plan(participant))
    assert client.post(url + "/change", data={"action": "remove", "module": "agoraphobia-2",
                                              "reason": "No avoidance at assessment."}).status_code == 302
    assert client.post(url + "/change", data={"action": "move", "module": "activation-1", "position": "2",
                                              "reason": "Low mood blocks everything else."}).status_code == 302
    assert client.post(url + "/change", data={"action": "add", "module": "health-1",
                                              "reason": "Checks her pulse all day."}).status_code == 302
    after = module_keys(_plan(participant))
    expected = [k for k in before if k != "agoraphobia-2"]
    expected.remove("activation-1")
    expected.insert(1, "activation-1")
    expected.insert(len(expected) - 1, "health-1")
    assert after == expected
    changes = _plan(participant).changes
    assert [c.action for c in changes] == ["propose", "remove", "move", "add"]
    assert all(c.actor_id == therapist.id for c in changes[1:])
    assert changes[2].reason == "Low mood blocks everything else." and changes[2].to_position == 2
    assert changes[3].modules_after == after
    added = next(i for i in _plan(participant).items if i.module_key == "health-1")
    assert added.reason == {"kind": "therapist", "note": "Checks her pulse all day."}
    history = client.get(url).get_data(as_text=True)
    assert "Checks her pulse all day." in history and "No avoidance at assessment." in history


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "remove", "module": "intro"}, "fixed"),
        ({"action": "move", "module": "relapse-prevention", "position": "3"}, "fixed"),
        ({"action": "add", "module": "panic-1"}, "already in the plan"),
        ({"action": "remove", "module": "health-1"}, "not in the plan"),
        ({"action": "move", "module": "panic-2", "position": "1"}, "position 2 to"),
        ({"action": "add", "module": "no-such"}, "Not a valid choice"),
    ],
)
def test_changes_that_break_the_plan_are_refused(proposed, therapist, login_as, data, message) -> None:
    participant, plan = proposed
    before = module_keys(plan)
    html = login_as(therapist).post(f"/therapist/patients/{participant.id}/plan/change",
                                    data={**data, "reason": "A reason."}).get_data(as_text=True)
    assert message in html
    assert module_keys(_plan(participant)) == before


def test_a_plan_never_exceeds_the_trial_weeks(proposed, therapist) -> None:
    participant, plan = proposed
    participant.trial.weeks = len(plan.items)
    with pytest.raises(PlanError, match="remove one first"):
        change_plan(db.session, plan, actor=therapist, action="add", module_key="health-1", reason="Needed.",
                    today=TODAY)


def test_approval_sets_the_start_and_open_modules_stay_put(proposed, therapist, login_as, frozen_now) -> None:
    participant, plan = proposed
    client = login_as(therapist)
    url = f"/therapist/patients/{participant.id}/plan"
    html = client.post(url + "/approve", data={"start_date": "2026-03-01"}).get_data(as_text=True)
    assert "cannot be in the past" in html
    assert client.post(url + "/approve", data={"start_date": "2026-03-02", "note": "Agreed on the phone."}).status_code == 302
    plan = _plan(participant)
    assert plan.status == "approved" and plan.start_date == TODAY and plan.approved_by_id == therapist.id
    db.session.refresh(participant)
    assert participant.start_date == TODAY and participant.status == "active"
    # Two weeks later modules 1-3 are open: they cannot move; later ones can.
    frozen_now(NOW + dt.timedelta(days=14))
    keys = module_keys(plan)
    html = client.post(url + "/change", data={"action": "move", "module": keys[1], "position": "6",
                                              "reason": "Try later."}).get_data(as_text=True)
    assert "already open" in html
    html = client.post(url + "/change", data={"action": "move", "module": keys[5], "position": "3",
                                              "reason": "Try earlier."}).get_data(as_text=True)
    assert "position 4 to" in html
    assert client.post(url + "/change", data={"action": "move", "module": keys[5], "position": "4",
                                              "reason": "Sooner is better."}).status_code == 302
    assert module_keys(_plan(participant))[3] == keys[5]


def test_the_therapist_opens_a_module_early_with_a_reason(proposed, therapist, login_as) -> None:
    participant, plan = proposed
    client = login_as(therapist)
    url = f"/therapist/patients/{participant.id}/plan"
    client.post(url + "/approve", data={"start_date": "2026-03-02"})
    third = _plan(participant).items[2]
    client.post(f"{url}/items/{third.id}/unlock", data={"reason": ""})
    assert _plan(participant).items[2].unlocked_early_at is None
    assert client.post(f"{url}/items/{third.id}/unlock", data={"reason": "Going away next week."}).status_code == 302
    plan = _plan(participant)
    assert plan.items[2].unlocked_early_by_id == therapist.id
    assert plan.changes[-1].action == "unlock" and plan.changes[-1].reason == "Going away next week."
    # The patient can open it now, but not the fourth.
    client.post("/auth/logout")
    patient = login_as(participant.user)
    assert patient.get(f"/me/modules/{third.id}/pages/1").status_code == 200
    assert patient.get(f"/me/modules/{plan.items[3].id}/pages/1").status_code == 302


def test_a_patient_keeps_the_version_they_were_assigned(proposed, tmp_path) -> None:
    """A new version of a module in the library does not change an existing plan."""
    participant, plan = proposed
    item = plan.items[1]
    old_title = module_of(item.module_version).title
    new_root = write_library(tmp_path, {item.module_key: module_text(item.module_key, version=9, title="Rewritten")})
    new_module = load_library(new_root).get(item.module_key)
    newer = snapshot_module(db.session, new_module)
    db.session.commit()
    assert newer.id != item.module_version_id
    db.session.expire_all()
    item = _plan(participant).items[1]
    assert module_of(item.module_version).title == old_title and item.version == 1
    assert db.session.scalar(select(ModuleVersion.title).where(ModuleVersion.version == 9)) == "Rewritten"


def test_every_change_is_kept(proposed) -> None:
    participant, plan = proposed
    changes = db.session.scalars(select(PlanChange).where(PlanChange.plan_id == plan.id)).all()
    assert [c.modules_after for c in changes] == [module_keys(plan)]
