"""Demo step: full measurement histories, answered item by item and scored by the real code.

For every demo participant: screening (GAD-7, PHQ-9) at intake; for the randomised, CORE-OM
before treatment and (past the end) after it in both arms; expected alliance and the week-3
WAI-S in the treatment arm. Some items are left blank, some administrations are missed or
answered late, a few risk answers raise alerts (most already acknowledged).

The latent outcome model follows the pilot (Bergman Nordgren et al. 2013) in form: within the
treatment arm, week-3 alliance relates to residual gain with r about -0.47 and expected
alliance with r about -0.15. Among the completers, the residual part of the outcome is built
orthogonal to the pre score (so it IS the residual gain) with that correlation to the latent
alliance; answers are then drawn item by item around the latent scores, so the realised
correlations scatter around the targets, as real data would.

Deterministic: every draw comes from ``random.Random`` seeded from ``ctx.rng`` and the
participant's code; idempotent: a participant who already has answers is left alone.
"""
from __future__ import annotations

import datetime as dt
import math
import random

import numpy as np
from sqlalchemy import select

from icbt.demo import DemoContext, demo_step
from icbt.measures import services
from icbt.measures.instruments import Instrument, get_instrument
from icbt.measures.models import Administration
from icbt.trials.models import Participant

UTC = dt.timezone.utc
RHO_WEEK3 = -0.47  # week-3 alliance vs residual gain (pilot: r = -.47)
RHO_EXPECTED = -0.15  # expected alliance vs residual gain (pilot: r = -.17)
ITEM_NOISE = 0.6
P_ITEM_BLANK = 0.015


def _orthonormal_residual(y: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """y with its projection on ``basis`` (columns) removed, scaled to unit SD."""
    coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
    r = y - basis @ coef
    sd = float(np.std(r))
    return r / sd if sd > 1e-12 else r


def latent_scores(participants: list[dict], rng: random.Random) -> None:
    """Fill in pre/post CORE-OM clinical targets and alliance targets (pure: dicts in place)."""
    for p in participants:
        p["pre"] = min(36.0, max(4.0, rng.gauss(18.5, 5.5)))
        p["z_wai"] = rng.gauss(0, 1)
        p["z_exp"] = rng.gauss(0, 1)
        p["noise"] = (rng.gauss(0, 1), rng.gauss(0, 1), rng.gauss(0, 3.5))
    # The analysis pairs week-3 alliance with residual gain among those who have pre, post and
    # week 3: build the relation on exactly that group.
    completers = [p for p in participants if p["arm"] == "treatment" and p["post_answered"]
                  and p["pre_answered"] and p["week3_answered"]]
    if len(completers) >= 4:
        pre = np.array([p["pre"] for p in completers])
        wai = np.array([p["z_wai"] for p in completers])
        one = np.ones_like(pre)
        wai_t = _orthonormal_residual(wai, np.column_stack([one, pre]))
        n1 = _orthonormal_residual(np.array([p["noise"][0] for p in completers]), np.column_stack([one, pre, wai]))
        e = RHO_WEEK3 * wai_t + math.sqrt(1 - RHO_WEEK3**2) * n1
        n2 = _orthonormal_residual(np.array([p["noise"][1] for p in completers]), np.column_stack([one, pre, wai, n1]))
        z_exp = RHO_EXPECTED * e + math.sqrt(1 - RHO_EXPECTED**2) * n2
        for p, e_i, x_i in zip(completers, e, z_exp):
            p["e"], p["z_exp"] = float(e_i), float(x_i)
    for p in participants:
        if p["arm"] == "treatment":
            e = p.get("e", p["noise"][0])
            p["post"] = 3.5 + 0.55 * p["pre"] + 4.5 * e
        else:
            p["post"] = 1.5 + 0.92 * p["pre"] + p["noise"][2]
        p["post"] = min(38.0, max(0.5, p["post"]))
        p["wai_total"] = min(82.0, max(18.0, 61 + 10 * p["z_wai"]))
        p["exp_total"] = min(82.0, max(18.0, 59 + 9 * p["z_exp"]))


def answers_for_mean(instrument: Instrument, scored_mean: float, rng: random.Random, *, risk_rate: float = 0.0,
                     blank_rate: float = P_ITEM_BLANK) -> dict[int, int | None]:
    """Raw answers, item by item, whose scored values scatter around ``scored_mean``
    (reverse-scored items are answered the other way round, as a person would)."""
    answers: dict[int, int | None] = {}
    for item in instrument.items:
        if item.risk:
            scored = 1 if rng.random() < risk_rate else 0
            if scored and rng.random() < 0.2:
                scored = 2
        else:
            scored = round(scored_mean + rng.gauss(0, ITEM_NOISE))
        scored = min(item.maximum, max(item.minimum, scored))
        raw = item.minimum + item.maximum - scored if item.reversed else scored
        answers[item.number] = None if (not item.risk and rng.random() < blank_rate) else raw
    return answers


def _moment_in(adm: Administration, now: dt.datetime, rng: random.Random, *, late: bool = False,
               by_now: bool = False) -> dt.datetime | None:
    """When the participant answered: inside the window (or a little after, if late), never in
    the future (None: not yet). ``by_now``: someone who answers does so before ``now``."""
    if late:
        moment = adm.closes_at + dt.timedelta(hours=rng.uniform(6, 24 * 5))
    else:
        end = min(adm.closes_at, now) if by_now else adm.closes_at
        span = (end - adm.opens_at).total_seconds()
        if span <= 0:
            return None
        moment = adm.opens_at + dt.timedelta(seconds=rng.uniform(0.05, 0.8) * span)
    return moment if moment <= now else None


@demo_step
def measurement_histories(ctx: DemoContext) -> None:
    session = ctx.session
    assert ctx.trial is not None
    # The seed is drawn from the demo rng once and kept with the trial, so a re-run (whose rng
    # has been consumed differently by steps that found their rows already there) answers alike.
    base = ctx.trial.setting("demo_measures_seed")
    if base is None:
        base = ctx.rng.randrange(1, 2**31)
        ctx.trial.settings = {**(ctx.trial.settings or {}), "demo_measures_seed": base}
    now = dt.datetime.combine(ctx.today, dt.time(12, 0), tzinfo=UTC)
    core, wai, expected = get_instrument("core-om"), get_instrument("wai-s"), get_instrument("expected-alliance")
    people: list[dict] = []
    for participant in sorted({p.id: p for p in ctx.participants}.values(), key=lambda p: p.code):
        prng = random.Random(f"{base}:{participant.code}")
        done = session.scalar(select(Administration.id).where(
            Administration.participant_id == participant.id, Administration.submitted_at.is_not(None)).limit(1))
        fresh = done is None
        if fresh and participant.start_date is not None and participant.randomised_at is not None:
            participant.created_at = participant.randomised_at - dt.timedelta(days=prng.randint(8, 20))
        elif fresh:
            participant.created_at = now - dt.timedelta(days=prng.randint(1, 12), hours=prng.randint(0, 8))
        weeks_done = (ctx.today - participant.start_date).days if participant.start_date else -1
        people.append({
            "participant": participant, "rng": prng, "fresh": fresh, "arm": participant.arm,
            # decided up front so that the latent model knows who completes
            "post_answered": participant.arm is not None and weeks_done >= 7 * ctx.trial.weeks and prng.random() < 0.9,
            "week3_answered": prng.random() < 0.88,
            "expected_answered": prng.random() < 0.92,
            "pre_answered": prng.random() < 0.96,
        })
    latent_scores([p for p in people if p["arm"]], random.Random(f"{base}:latent"))
    submitted = 0
    for person in people:
        participant, prng = person["participant"], person["rng"]
        administrations = services.materialise_schedule(session, participant, now=now, notify=False)
        if not person["fresh"]:
            continue
        for adm in administrations:
            plan = _plan(adm, person, core, wai, expected, prng)
            if plan is None:
                continue
            answers, late = plan
            moment = _moment_in(adm, now, prng, late=late, by_now=adm.timepoint in ("post", "screening"))
            if moment is None:
                if adm.opens_at <= now and prng.random() < 0.3:  # open now: some have started
                    services.save_draft(session, adm, {k: v for k, v in list(answers.items())[:5]}, now=now)
                continue
            outcome = services.submit(session, adm, answers, idempotency_key=f"demo-{participant.code}-{adm.instrument_id}-{adm.timepoint}",
                                      now=moment, notify=False)
            submitted += 1
            for alert in outcome.alerts:
                alert.created_at = moment
                if moment < now - dt.timedelta(days=7) and participant.therapist is not None:
                    alert.acknowledged_at = moment + dt.timedelta(hours=prng.randint(2, 30))
                    alert.acknowledged_by_id = participant.therapist.id
                    alert.note = "Phoned the patient the same day; no acute risk; safety plan reviewed."
        services.refresh_statuses(session, administrations, now=now, notify=False)
    if submitted:
        ctx.count("questionnaires answered", submitted)
    session.flush()


def _plan(adm: Administration, person: dict, core: Instrument, wai: Instrument, expected: Instrument,
          rng: random.Random) -> tuple[dict[int, int | None], bool] | None:
    """The answers a participant gives to ``adm`` and whether late, or None (not answered)."""
    participant: Participant = person["participant"]
    late = rng.random() < 0.06
    if adm.timepoint == "screening":
        # Past the intake everyone has answered the screening; an applicant is still at it
        # (never all of it: the last questionnaire is what they have left).
        if participant.status == "applicant" and (adm.instrument_id == "phq-9" or rng.random() < 0.6):
            return None
        level = (person.get("pre", rng.gauss(18, 5)) / 10) * 0.9  # 0-3 scale, roughly
        instrument = get_instrument(adm.instrument_id)
        answers = answers_for_mean(instrument, level, rng, risk_rate=0.05, blank_rate=0.0)
        return answers, False
    if participant.arm is None:
        return None
    if adm.instrument_id == "core-om" and adm.timepoint == "pre":
        if not person["pre_answered"]:
            return None
        return answers_for_mean(core, _core_item_mean(person["pre"]), rng, risk_rate=0.002 * person["pre"]), late
    if adm.instrument_id == "core-om" and adm.timepoint == "post":
        if not person["post_answered"]:
            return None
        return answers_for_mean(core, _core_item_mean(person["post"]), rng, risk_rate=0.002 * person["post"]), False
    if adm.instrument_id == "expected-alliance":
        if not person["expected_answered"]:
            return None
        return answers_for_mean(expected, person["exp_total"] / 12, rng), late
    if adm.instrument_id == "wai-s":
        if not person["week3_answered"]:
            return None
        return answers_for_mean(wai, person["wai_total"] / 12, rng), late
    return None


def _core_item_mean(clinical: float) -> float:
    """The mean a non-risk item should have so that the total (risk items mostly 0) comes out
    near ``clinical`` / 10."""
    return min(4.0, clinical / 10 * 34 / 28)
