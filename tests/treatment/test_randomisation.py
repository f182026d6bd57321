"""Randomisation: permuted blocks (pure), and allocation by the admin (service and HTTP):
balance within blocks, reproducibility from the seed, concealment, never changed."""
from __future__ import annotations

import re
from collections import Counter

import pytest
from sqlalchemy import func, select

from icbt.audit.models import AuditEvent
from icbt.extensions import db
from icbt.treatment.models import ModulePlan
from icbt.trials.allocation import Allocation, AllocationError, cross_over, import_allocation, randomise
from icbt.trials.randomisation import allocation_at, blocks, check_block_sizes, sequence
from tests.treatment.conftest import assess, screen

# ------------------------------------------------------------------ pure


def test_every_block_is_balanced_and_both_sizes_occur() -> None:
    gen = blocks(12345, "all", block_sizes=(2, 4))
    sizes = Counter()
    for _ in range(500):
        block = next(gen)
        sizes[len(block)] += 1
        assert Counter(block) == {"treatment": len(block) // 2, "waitlist": len(block) // 2}
    assert set(sizes) == {2, 4}
    assert min(sizes.values()) > 150  # each size chosen about half of the time


def test_the_imbalance_never_exceeds_half_the_largest_block() -> None:
    for seed in range(50):
        seq = sequence(seed, "all", 200, block_sizes=(2, 4, 6))
        diff = 0
        for arm in seq:
            diff += 1 if arm == "treatment" else -1
            assert abs(diff) <= 3


def test_the_sequence_is_reproducible_from_the_seed() -> None:
    assert sequence(2026, "panic", 40) == sequence(2026, "panic", 40)
    assert [allocation_at(2026, "panic", i) for i in range(40)] == sequence(2026, "panic", 40)
    assert sequence(2026, "panic", 40) != sequence(2027, "panic", 40)


def test_strata_have_independent_sequences() -> None:
    assert sequence(7, "panic", 30) != sequence(7, "gad", 30)
    # Allocating in one stratum does not move another: the sequence depends on (seed, stratum) only.
    assert sequence(7, "gad", 10) == sequence(7, "gad", 30)[:10]


def test_the_sequence_is_not_trivially_alternating() -> None:
    seq = sequence(99, "all", 100)
    assert seq != ["treatment", "waitlist"] * 50 and seq != ["waitlist", "treatment"] * 50


@pytest.mark.parametrize("sizes", [(), (3,), (0,), (2, 5)])
def test_block_sizes_must_suit_the_arms(sizes) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        check_block_sizes(sizes)


# ------------------------------------------------------------------ service

def _eligible(factory, therapist, trial=None, primary="panic"):  # type: ignore[no-untyped-def]
    participant = factory.participant(therapist=therapist, trial=trial)
    screen(participant, panic=5)
    assess(participant, therapist, primary)
    return participant


def test_randomisation_follows_the_stored_seed(factory, therapist, admin) -> None:
    trial = factory.trial(settings={"randomisation_seed": 424242})
    people = [_eligible(factory, therapist, trial) for _ in range(8)]
    arms = [randomise(db.session, p, actor=admin).arm for p in people]
    db.session.commit()
    assert arms == sequence(424242, "all", 8)
    assert [p.arm for p in people] == arms
    assert {p.status for p in people} == {"randomised"}
    # Treatment participants get a proposed plan at once; waiting-list participants none.
    plans = {pl.participant_id for pl in db.session.scalars(select(ModulePlan))}
    assert plans == {p.id for p in people if p.arm == "treatment"}
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "participant.randomise")).all()
    assert sorted(e.participant_id for e in events) == sorted(p.id for p in people)


def test_stratified_randomisation_uses_one_sequence_per_primary_problem(factory, therapist, admin) -> None:
    trial = factory.trial(settings={"randomisation_seed": 5, "randomisation_stratify_by": "primary_problem"})
    panic = [_eligible(factory, therapist, trial, "panic") for _ in range(5)]
    gad = [_eligible(factory, therapist, trial, "gad") for _ in range(5)]
    for a, b in zip(panic, gad):  # interleaved, as in real life
        randomise(db.session, a, actor=admin)
        randomise(db.session, b, actor=admin)
    assert [p.arm for p in panic] == sequence(5, "panic", 5)
    assert [p.arm for p in gad] == sequence(5, "gad", 5)
    strata = dict(db.session.execute(select(Allocation.participant_id, Allocation.stratum)).all())
    assert {strata[p.id] for p in panic} == {"panic"} and {strata[p.id] for p in gad} == {"gad"}


def test_a_seed_is_created_and_stored_before_the_first_allocation(factory, therapist, admin) -> None:
    trial = factory.trial()
    people = [_eligible(factory, therapist, trial) for _ in range(4)]
    randomise(db.session, people[0], actor=admin)
    seed = trial.settings["randomisation_seed"]
    for p in people[1:]:
        randomise(db.session, p, actor=admin)
    assert [p.arm for p in people] == sequence(seed, "all", 4)


def test_an_allocation_is_never_changed(factory, therapist, admin) -> None:
    participant = _eligible(factory, therapist)
    allocation = randomise(db.session, participant, actor=admin)
    db.session.commit()
    with pytest.raises(AllocationError, match="already randomised"):
        randomise(db.session, participant, actor=admin)
    allocation.arm = "waitlist" if allocation.arm == "treatment" else "treatment"
    with pytest.raises(AllocationError, match="never changed"):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(AllocationError, match="never deleted"):
        db.session.delete(db.session.get(Allocation, allocation.id))
        db.session.flush()
    db.session.rollback()
    with pytest.raises(Exception):  # the database refuses a second allocation for the participant
        db.session.execute(Allocation.__table__.insert().values(
            trial_id=participant.trial_id, participant_id=participant.id, arm="treatment", stratum="x",
            sequence_index=99, method="sequence", note="", allocated_at=allocation.allocated_at))
    db.session.rollback()


def test_only_eligible_participants_are_randomised(factory, therapist, admin) -> None:
    applicant = factory.participant(therapist=therapist)
    with pytest.raises(AllocationError, match="eligible"):
        randomise(db.session, applicant, actor=admin)
    assert db.session.scalar(select(func.count()).select_from(Allocation)) == 0


def test_nothing_stored_reveals_the_next_allocation(factory, therapist, admin, login_as) -> None:
    """Concealment: before a participant is randomised no allocation row or list exists,
    and the admin's page is the same whatever the next arm will be."""
    trial = factory.trial(settings={"randomisation_seed": 1})
    _eligible(factory, therapist, trial)
    client = login_as(admin)
    pages = {}
    for seed in range(1, 40):
        if len(pages) == 2:
            break
        trial.settings = {"randomisation_seed": seed}
        db.session.commit()
        html = client.get("/admin/randomisation").get_data(as_text=True)
        pages[allocation_at(seed, "all", 0)] = re.sub(r'name="csrf_token" type="hidden" value="[^"]*"', "", html)
    assert set(pages) == {"treatment", "waitlist"}  # the seeds disagree about the next arm...
    assert pages["treatment"] == pages["waitlist"]  # ...and the page does not show it
    assert "Treatment" not in pages["treatment"] and "Waiting list" not in pages["treatment"]
    assert db.session.scalar(select(func.count()).select_from(Allocation)) == 0


def test_the_admin_randomises_from_the_page_and_sees_the_allocation(factory, therapist, admin, login_as) -> None:
    trial = factory.trial(settings={"randomisation_seed": 77})
    first, second = _eligible(factory, therapist, trial), _eligible(factory, therapist, trial)
    client = login_as(admin)
    response = client.post(f"/admin/randomisation/{first.id}", follow_redirects=True)
    html = response.get_data(as_text=True)
    expected = sequence(77, "all", 2)
    assert response.status_code == 200
    label = {"treatment": "treatment", "waitlist": "waiting list"}[expected[0]]
    assert f"{first.code} was randomised to {label}" in html
    client.post(f"/admin/randomisation/{first.id}", follow_redirects=True)  # a second press changes nothing
    response = client.post(f"/admin/randomisation/trials/{trial.id}/all", follow_redirects=True)
    assert response.status_code == 200
    db.session.expire_all()
    assert [db.session.get(type(first), p.id).arm for p in (first, second)] == expected
    assert db.session.scalar(select(func.count()).select_from(Allocation)) == 2


def test_only_admins_randomise(factory, therapist, login_as) -> None:
    participant = _eligible(factory, therapist)
    client = login_as(therapist)
    assert client.get("/admin/randomisation").status_code == 403
    assert client.post(f"/admin/randomisation/{participant.id}").status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Allocation)) == 0


def test_cross_over_keeps_the_waiting_list_allocation(factory, therapist, admin) -> None:
    participant = _eligible(factory, therapist)
    import_allocation(db.session, participant, "waitlist", note="test", actor=admin)
    participant.status = "active"
    with pytest.raises(AllocationError, match="waiting period"):
        cross_over(db.session, participant, actor=admin)
    participant.status = "completed"
    plan = cross_over(db.session, participant, actor=admin)
    db.session.commit()
    assert plan.is_crossover and plan.status == "proposed"
    assert participant.arm == "waitlist"
    assert db.session.scalar(select(Allocation.arm).where(Allocation.participant_id == participant.id)) == "waitlist"
    with pytest.raises(Exception):
        cross_over(db.session, participant, actor=admin)
    db.session.rollback()


def test_simultaneous_randomisations_take_distinct_places_in_the_sequence(app, factory, therapist, admin) -> None:
    import threading

    from tests.conftest import login

    trial = factory.trial(settings={"randomisation_seed": 31337})
    people = [_eligible(factory, therapist, trial) for _ in range(6)]
    clients = []
    for _ in people:
        c = app.test_client()
        login(c, admin)
        clients.append(c)
    barrier = threading.Barrier(len(people))
    codes: list[int] = []

    def go(c, p) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        codes.append(c.post(f"/admin/randomisation/{p.id}").status_code)

    threads = [threading.Thread(target=go, args=(c, p)) for c, p in zip(clients, people)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [302] * 6
    rows = db.session.execute(select(Allocation.sequence_index, Allocation.arm)).all()
    expected = sequence(31337, "all", 6)
    assert sorted(i for i, _ in rows) == list(range(6))
    assert all(arm == expected[i] for i, arm in rows)
