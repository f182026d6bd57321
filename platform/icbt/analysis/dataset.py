"""The analysis's input: one plain record per participant, no database objects.

``TrialDataset`` is what ``icbt.reports.loader.load_dataset`` builds from the database and what
``icbt.analysis.results.analyse`` consumes; tests and benchmarks build it by hand.
Scores are the stored computed scores: CORE-OM as the clinical score (mean x 10, 0-40),
WAI and expected alliance as sums (total 12-84, subscales 4-28), GAD-7 and PHQ-9 totals.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

ALLIANCE_PARTS = ("total", "task", "bond", "goal")


@dataclass(frozen=True, slots=True)
class AllianceScores:
    total: float | None = None
    task: float | None = None
    bond: float | None = None
    goal: float | None = None

    def get(self, part: str) -> float | None:
        return getattr(self, part)

    @property
    def is_empty(self) -> bool:
        return all(getattr(self, part) is None for part in ALLIANCE_PARTS)


NO_ALLIANCE = AllianceScores()


@dataclass(frozen=True, slots=True)
class ParticipantData:
    """One participant, pseudonymised: the code is the only identity the analysis sees."""

    code: str
    arm: str | None  # None = not randomised
    gad7_screening: float | None = None  # GAD-7 total at screening (0-21)
    phq9_screening: float | None = None  # PHQ-9 total at screening (0-27)
    core_om_pre: float | None = None
    core_om_post: float | None = None
    wai_week3: AllianceScores = NO_ALLIANCE
    expected: AllianceScores = NO_ALLIANCE
    # CONSORT flow flags
    assessed: bool = False  # assessed for eligibility by a therapist
    excluded: bool = False  # assessed and not included
    started: bool = False  # treatment (or the waiting period) began
    completed_week3: bool = False  # week-3 alliance measure submitted
    completed_post: bool = False  # post-treatment measure submitted

    def canonical(self) -> list[Any]:
        """A fixed-order, JSON-ready list of every field (floats rounded to 10 decimals)."""

        def num(value: float | None) -> float | None:
            return None if value is None else round(float(value), 10)

        return [
            self.code, self.arm,
            num(self.gad7_screening), num(self.phq9_screening), num(self.core_om_pre), num(self.core_om_post),
            [num(self.wai_week3.get(p)) for p in ALLIANCE_PARTS],
            [num(self.expected.get(p)) for p in ALLIANCE_PARTS],
            self.assessed, self.excluded, self.started, self.completed_week3, self.completed_post,
        ]


@dataclass
class TrialDataset:
    trial_slug: str
    participants: list[ParticipantData] = field(default_factory=list)
    instrument_versions: dict[str, str] = field(default_factory=dict)

    def __iter__(self) -> Iterator[ParticipantData]:
        return iter(self.participants)

    def __len__(self) -> int:
        return len(self.participants)

    def in_arm(self, arm: str) -> list[ParticipantData]:
        return [p for p in self.participants if p.arm == arm]

    def sorted(self) -> TrialDataset:
        """The same data with participants in code order (the canonical order)."""
        return TrialDataset(self.trial_slug, sorted(self.participants, key=lambda p: p.code),
                            dict(self.instrument_versions))

    def fingerprint(self) -> str:
        return data_fingerprint(self)


def _canonical_lines(dataset: TrialDataset) -> Iterable[bytes]:
    header = {"format": 1, "trial": dataset.trial_slug,
              "instruments": dict(sorted(dataset.instrument_versions.items()))}
    yield json.dumps(header, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    for participant in sorted(dataset.participants, key=lambda p: p.code):
        yield json.dumps(participant.canonical(), separators=(",", ":"), allow_nan=False).encode() + b"\n"


def data_fingerprint(dataset: TrialDataset) -> str:
    """sha256 of the canonical serialisation: one JSON line per participant, sorted by code.

    Independent of participant order and of how the values were loaded; any change to a score,
    arm or flow flag changes it.
    """
    digest = hashlib.sha256()
    for line in _canonical_lines(dataset):
        digest.update(line)
    return "sha256:" + digest.hexdigest()
