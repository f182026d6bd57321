"""The tailoring engine: an assessed profile and trial settings in, an ordered plan out.

A pure function of plain values (``propose``): no database, no app, no clock, no
randomness. The rules come from ``modules/tailoring.yaml`` (``TailoringRules``):

1. The fixed first module (the introduction) opens the plan and the fixed last module
   (relapse prevention) closes it.
2. Problems are ranked: the primary problem first, then the comorbid problems by severity
   (severe, moderate, mild), ties broken by the order of the problem keys.
3. Each problem is *given* the first modules of its list: the primary problem as many as
   its severity allows (``primary``), each comorbid one by its severity (``comorbid``).
4. The cap is ``min(weeks, module_cap)`` modules, fixed ones included. When not everything
   fits, every problem first gets its first module (in rank order), then the rest is
   filled in rank order; what is left out is reported with its reason.
5. A module several problems share (relaxation, thinking traps) appears once; its reason
   names every problem it serves.
6. A plan shorter than ``fill_to`` is lengthened with further modules of the same
   problems' lists, then with ``fill_with`` (general skills), within the cap.
7. The plan is ordered by problem rank, then by position in that problem's list.

Every module carries a reason and every problem or module that did not fit is reported.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from icbt.tailoring.problems import PROBLEM_KEYS, SEVERITIES, problem_label, severity_label
from icbt.tailoring.rules import TailoringRules

DEFAULT_WEEKS = 10


class ProfileError(ValueError):
    """The profile cannot be tailored (unknown problem, bad severity, primary also comorbid)."""


@dataclass(frozen=True)
class Profile:
    primary: str
    severity: str
    comorbid: tuple[tuple[str, str], ...] = ()
    # Screening questionnaire scores by instrument id, e.g. (("gad-7", 15),): cited in reasons.
    scores: tuple[tuple[str, float], ...] = ()

    @classmethod
    def of(cls, primary: str, severity: str, comorbid: dict[str, str] | Iterable[tuple[str, str]] = (),
           scores: dict[str, float] | None = None) -> Profile:
        items = comorbid.items() if isinstance(comorbid, dict) else comorbid
        return cls(primary=primary, severity=severity, comorbid=tuple(items),
                   scores=tuple(sorted((scores or {}).items())))

    def score(self, instrument_id: str | None) -> float | None:
        return dict(self.scores).get(instrument_id) if instrument_id else None

    def check(self) -> None:
        if self.primary not in PROBLEM_KEYS:
            raise ProfileError(f"unknown primary problem {self.primary!r}")
        if self.severity not in SEVERITIES:
            raise ProfileError(f"unknown severity {self.severity!r} for the primary problem")
        seen = {self.primary}
        for problem, severity in self.comorbid:
            if problem not in PROBLEM_KEYS:
                raise ProfileError(f"unknown comorbid problem {problem!r}")
            if severity not in SEVERITIES:
                raise ProfileError(f"unknown severity {severity!r} for {problem!r}")
            if problem in seen:
                raise ProfileError(f"{problem!r} is listed twice (primary or comorbid)")
            seen.add(problem)
        for instrument_id, value in self.scores:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ProfileError(f"the score of {instrument_id!r} must be a number, not {value!r}")


@dataclass(frozen=True)
class TrialSettings:
    weeks: int = DEFAULT_WEEKS
    module_cap: int | None = None

    @property
    def cap(self) -> int:
        return min(self.weeks, self.module_cap) if self.module_cap else self.weeks


@dataclass(frozen=True)
class Reason:
    """Why a module is in the plan (or why something is not). Plain data, stored as JSON."""

    kind: str  # fixed_first | fixed_last | primary | comorbid | fill | therapist
    problem: str | None = None
    severity: str | None = None
    note: str | None = None  # the therapist's own words (kind "therapist")
    also: tuple[tuple[str, str, str], ...] = ()  # further (problem, role, severity) served
    score: tuple[str, float] | None = None  # (instrument id, score) of the problem's screener

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.problem:
            out["problem"] = self.problem
        if self.severity:
            out["severity"] = self.severity
        if self.note:
            out["note"] = self.note
        if self.also:
            out["also"] = [list(a) for a in self.also]
        if self.score:
            out["score"] = {"instrument": self.score[0], "value": self.score[1]}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reason:
        score = data.get("score")
        return cls(kind=data.get("kind", ""), problem=data.get("problem"), severity=data.get("severity"),
                   note=data.get("note"), also=tuple(tuple(a) for a in data.get("also", ())),  # type: ignore[misc]
                   score=(score["instrument"], score["value"]) if isinstance(score, dict) else None)


@dataclass(frozen=True)
class PlanEntry:
    module_id: str
    reason: Reason


@dataclass(frozen=True)
class LeftOut:
    """A module a problem was given but that did not fit; ``module_id`` None: the whole problem."""

    problem: str
    role: str
    severity: str
    module_id: str | None
    cap: int

    def to_dict(self) -> dict[str, Any]:
        return {"problem": self.problem, "role": self.role, "severity": self.severity,
                "module_id": self.module_id, "cap": self.cap}


@dataclass(frozen=True)
class Proposal:
    entries: tuple[PlanEntry, ...]
    left_out: tuple[LeftOut, ...]
    cap: int
    rules_version: int

    @property
    def module_ids(self) -> list[str]:
        return [e.module_id for e in self.entries]

    def to_dict(self) -> dict[str, Any]:
        return {
            "modules": [{"module_id": e.module_id, "reason": e.reason.to_dict()} for e in self.entries],
            "left_out": [lo.to_dict() for lo in self.left_out],
            "cap": self.cap,
            "rules_version": self.rules_version,
        }


@dataclass
class _Ranked:
    problem: str
    role: str
    severity: str
    modules: tuple[str, ...]
    given: int


def rank_problems(profile: Profile) -> list[tuple[str, str, str]]:
    """(problem, role, severity): primary first, comorbid by severity then key order."""
    order = {key: i for i, key in enumerate(PROBLEM_KEYS)}
    weight = {s: i for i, s in enumerate(SEVERITIES)}
    comorbid = sorted(profile.comorbid, key=lambda ps: (-weight[ps[1]], order[ps[0]]))
    return [(profile.primary, "primary", profile.severity)] + [(p, "comorbid", s) for p, s in comorbid]


def propose(profile: Profile, settings: TrialSettings, rules: TailoringRules) -> Proposal:
    """The proposed plan for ``profile`` under ``settings`` and ``rules`` (deterministic)."""
    profile.check()
    cap = settings.cap
    if cap < 1:
        raise ProfileError("the trial allows no modules (weeks or module cap below 1)")
    fixed = [rules.first] + ([rules.last] if cap >= 2 else [])
    room = cap - len(fixed)
    ranked = [
        _Ranked(p, role, sev, rules.problems[p], rules.entitlement(p, role, sev))
        for p, role, sev in rank_problems(profile)
    ]

    chosen: list[str] = []
    chooser: dict[str, tuple[int, int]] = {}  # module -> (rank, index) of the problem that took it
    left_out: list[LeftOut] = []

    def take(module: str, rank: int, index: int) -> bool:
        nonlocal room
        if module in chooser:
            return True
        if room <= 0:
            return False
        room -= 1
        chosen.append(module)
        chooser[module] = (rank, index)
        return True

    # First every problem gets its first module (unless one it is given is already in),
    # then each problem the rest of what it is given, in rank order.
    for rank, r in enumerate(ranked):
        given = r.modules[: r.given]
        if given and not any(m in chooser for m in given):
            take(given[0], rank, 0)
    for rank, r in enumerate(ranked):
        for i, m in enumerate(r.modules[: r.given]):
            if not take(m, rank, i):
                left_out.append(LeftOut(r.problem, r.role, r.severity, m, cap))

    # A short plan is lengthened: further modules of the same problems, then general skills.
    fill_to = min(rules.fill_to, cap)
    fills: list[str] = []
    for rank, r in enumerate(ranked):
        for i, m in enumerate(r.modules[r.given:], start=r.given):
            if len(chosen) + len(fixed) >= fill_to:
                break
            take(m, rank, i)
    for i, m in enumerate(rules.fill_with):
        if len(chosen) + len(fixed) >= fill_to:
            break
        if m not in chooser and take(m, len(ranked), i):
            fills.append(m)

    # A problem none of whose modules is in the plan is reported whole, not module by module.
    for r in ranked:
        if not any(m in chooser for m in r.modules):
            left_out = [lo for lo in left_out if lo.problem != r.problem]
            left_out.append(LeftOut(r.problem, r.role, r.severity, None, cap))

    def order_key(m: str) -> tuple[int, int]:
        if m in fills:
            return (len(ranked), fills.index(m))
        wanting = [(k, r.modules.index(m)) for k, r in enumerate(ranked) if m in r.modules[: r.given]]
        return min(wanting) if wanting else chooser[m]

    entries: list[PlanEntry] = [PlanEntry(rules.first, Reason("fixed_first"))]
    for m in sorted(chosen, key=order_key):
        if m in fills:
            entries.append(PlanEntry(m, Reason("fill", note=str(fill_to))))
            continue
        head_rank, index = order_key(m)
        head = ranked[head_rank]
        extra = index >= head.given  # taken only to lengthen a short plan
        also = tuple((r.problem, r.role, r.severity) for k, r in enumerate(ranked)
                     if k != head_rank and m in r.modules)
        instrument = rules.screeners.get(head.problem)
        value = profile.score(instrument)
        entries.append(PlanEntry(m, Reason(head.role, head.problem, head.severity,
                                           note=str(fill_to) if extra else None, also=also,
                                           score=(instrument, value) if instrument and value is not None else None)))
    if cap >= 2:
        entries.append(PlanEntry(rules.last, Reason("fixed_last")))
    else:
        left_out.append(LeftOut("", "fixed", "", rules.last, cap))
    return Proposal(entries=tuple(entries), left_out=tuple(left_out), cap=cap, rules_version=rules.version)


# ------------------------------------------------------------------ words for people

def _identity(text: str, **kwargs: Any) -> str:
    return text % kwargs if kwargs else text


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def describe_reason(reason: Reason | dict[str, Any], gettext: Callable[..., str] = _identity,
                    instrument_name: Callable[[str], str] = str.upper) -> str:
    """A plain sentence for a reason, e.g. "Social anxiety is comorbid, severity moderate.",
    or with a screening score: "GAD-7 = 15: Worry (generalised anxiety) is the primary
    problem, severity severe."."""
    if isinstance(reason, dict):
        reason = Reason.from_dict(reason)
    _ = gettext
    kind = reason.kind
    if kind == "fixed_first":
        text = _("Always the first module: how the programme and CBT work.")
    elif kind == "fixed_last":
        text = _("Always the last module: keeping what you have learned.")
    elif kind == "fill":
        text = _("Added because the plan had room (under %(n)s modules): a general skill that helps with anxiety.",
                 n=reason.note or "")
    elif kind == "therapist":
        text = _("Added by the therapist: %(note)s", note=reason.note or "")
    elif kind in ("primary", "comorbid"):
        params = {"problem": problem_label(reason.problem), "severity": severity_label(reason.severity)}
        if kind == "primary":
            text = _("%(problem)s is the primary problem, severity %(severity)s.", **params)
        else:
            text = _("%(problem)s is comorbid, severity %(severity)s.", **params)
        if reason.score:
            text = _("%(instrument)s = %(score)s:", instrument=instrument_name(reason.score[0]),
                     score=_number(reason.score[1])) + " " + text
        if reason.note:
            text += " " + _("Added because the plan had room (under %(n)s modules).", n=reason.note)
    else:
        text = reason.note or kind
    for problem, role, severity in reason.also:
        params = {"problem": problem_label(problem), "severity": severity_label(severity)}
        if role == "primary":
            text += " " + _("Also serves %(problem)s (primary, %(severity)s).", **params)
        else:
            text += " " + _("Also serves %(problem)s (comorbid, %(severity)s).", **params)
    return text


def describe_left_out(item: LeftOut | dict[str, Any], gettext: Callable[..., str] = _identity,
                      title: Callable[[str], str] = str) -> str:
    """A plain sentence for what did not fit."""
    if isinstance(item, dict):
        item = LeftOut(**item)
    _ = gettext
    params = {"problem": problem_label(item.problem), "severity": severity_label(item.severity), "cap": item.cap}
    if item.role == "fixed":
        return _("%(module)s did not fit: the plan allows only %(cap)s module(s).",
                 module=title(item.module_id or ""), cap=item.cap)
    if item.module_id is None:
        if item.role == "primary":
            return _("Could not fit %(problem)s (primary, %(severity)s): the plan is full at %(cap)s modules.", **params)
        return _("Could not fit %(problem)s (comorbid, %(severity)s): the plan is full at %(cap)s modules.", **params)
    return _("Left out %(module)s for %(problem)s (%(severity)s): the plan is full at %(cap)s modules.",
             module=title(item.module_id), **params)
