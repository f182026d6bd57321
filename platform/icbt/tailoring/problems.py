"""The problem areas a profile is made of, and how severe each is. Keys are stable data."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

# Order matters: it breaks ties between comorbid problems of the same severity and it
# is the order of the intake form.
PROBLEM_KEYS: tuple[str, ...] = (
    "panic", "agoraphobia", "social_anxiety", "gad", "health_anxiety", "ptsd",
    "depression", "insomnia", "stress",
)

SEVERITIES: tuple[str, ...] = ("mild", "moderate", "severe")

PROBLEM_LABELS = {
    "panic": _l("Panic"),
    "agoraphobia": _l("Agoraphobia and avoidance"),
    "social_anxiety": _l("Social anxiety"),
    "gad": _l("Worry (generalised anxiety)"),
    "health_anxiety": _l("Health anxiety"),
    "ptsd": _l("Trauma-related anxiety"),
    "depression": _l("Low mood (depression)"),
    "insomnia": _l("Sleep problems (insomnia)"),
    "stress": _l("Stress"),
}

SEVERITY_LABELS = {
    "mild": _l("mild"),
    "moderate": _l("moderate"),
    "severe": _l("severe"),
}


def problem_label(key: str | None) -> str:
    return str(PROBLEM_LABELS.get(key or "", key or ""))


def severity_label(key: str | None) -> str:
    return str(SEVERITY_LABELS.get(key or "", key or ""))

# How the intake screening asks about each problem: the patient's words, not diagnoses.
PROBLEM_QUESTIONS = {
    "panic": _l("Sudden rushes of strong fear, with a racing heart or feeling you might faint"),
    "agoraphobia": _l("Avoiding places like shops, buses or being far from home because of anxiety"),
    "social_anxiety": _l("Fear of being judged or embarrassed when other people are around"),
    "gad": _l("Worrying a lot about many things, and finding it hard to stop"),
    "health_anxiety": _l("Worrying that you are seriously ill, or checking your body a lot"),
    "ptsd": _l("Memories of something frightening that happened to you, which still upset you"),
    "depression": _l("Feeling low, or losing interest in things you used to enjoy"),
    "insomnia": _l("Trouble falling asleep, staying asleep, or waking too early"),
    "stress": _l("Feeling stressed and overloaded by what you have to do"),
}
