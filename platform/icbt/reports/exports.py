"""Pseudonymised exports: participant-level wide CSV, item-level long CSV, a codebook, the
results, zipped.

Pseudonymised: participants appear by their trial code only. No names, e-mail addresses,
account ids or free text; free text (staff correction notes) only when the admin asks for it,
in its own file, flagged in the codebook.

Formula injection: a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is prefixed with an apostrophe, so a spreadsheet shows it as text instead of running it.
Numbers are written as numbers and never escaped (a negative residual gain stays -3.2).

Streaming: rows come from the database in chunks (``yield_per``) and go straight into the zip
member, so memory stays flat however large the trial.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from icbt.measures.instruments import Instrument, registry
from icbt.measures.models import Administration, AdministrationAnswer
from icbt.measures.services import ANALYSIS_SLOTS
from icbt.reports.loader import ParticipantRows, participant_data, stream_participants, trial_today
from icbt.trials.models import Participant, Trial

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 10000

ARM_LABELS = {"treatment": "Treatment (tailored ICBT)", "waitlist": "Waiting list (control)"}
STATUS_LABELS = {
    "applicant": "Screening not complete", "screened": "Screened, waiting for assessment",
    "eligible": "Eligible, waiting for randomisation", "excluded": "Assessed, not included",
    "randomised": "Randomised, not started", "active": "In treatment or waiting period",
    "completed": "Completed", "withdrawn": "Withdrawn",
}
ADMIN_STATUS_LABELS = {
    "scheduled": "Not yet open", "open": "Open, not answered", "submitted": "Answered in its window",
    "late": "Answered after its window (grace period)", "missed": "Not answered",
}


def escape_cell(value: Any) -> Any:
    """Neutralise a text cell a spreadsheet would read as a formula; numbers pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _cell(value: Any) -> Any:
    kind = type(value)
    if kind is int or kind is float:  # the common case first: most cells are numbers
        return value
    if value is None:
        return ""
    if kind is str:
        return "'" + value if value.startswith(FORMULA_PREFIXES) else value
    if isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return escape_cell(str(value))


class SafeCsvWriter:
    """csv.writer that escapes text cells and writes None as empty."""

    def __init__(self, handle: io.TextIOBase) -> None:
        self._writer = csv.writer(handle, lineterminator="\r\n")

    def writerow(self, row: Sequence[Any]) -> None:
        self._writer.writerow([_cell(v) for v in row])


# ---------------------------------------------------------------- columns

@dataclass
class Variable:
    name: str
    file: str
    type: str  # string | integer | number | boolean | date
    description: str
    values: dict[str, str] = field(default_factory=dict)


FLAG_COLUMNS = (
    ("assessed", "Assessed for eligibility by a therapist"),
    ("excluded", "Assessed and not included"),
    ("started", "Treatment (or the waiting period) has started"),
    ("completed_week3", "Week-3 alliance measure submitted"),
    ("completed_post", "Post-treatment measure submitted"),
)


def _instruments() -> dict[str, Instrument]:
    try:
        return registry()
    except Exception:  # noqa: BLE001 - outside an app: no definitions, columns from the data only
        return {}


def wide_columns(slots: Mapping[tuple[str, str], str]) -> tuple[list[str], list[Variable]]:
    instruments = _instruments()
    names = ["participant_code", "arm", "status"] + [f for f, _ in FLAG_COLUMNS]
    variables = [
        Variable("participant_code", "participants.csv", "string", "Pseudonymous participant code (the only identity in the export)"),
        Variable("arm", "participants.csv", "string", "Allocated arm (empty: not randomised)", ARM_LABELS),
        Variable("status", "participants.csv", "string", "Stage in the trial at export time", STATUS_LABELS),
    ] + [Variable(f, "participants.csv", "boolean", d, {"1": "yes", "0": "no"}) for f, d in FLAG_COLUMNS]
    for (instrument_id, timepoint), slot in slots.items():
        inst = instruments.get(instrument_id)
        label = f"{inst.name if inst else instrument_id} at {timepoint}"
        names += [f"{slot}_status", f"{slot}_revision", f"{slot}_missing_items"]
        variables += [
            Variable(f"{slot}_status", "participants.csv", "string", f"{label}: administration status", ADMIN_STATUS_LABELS),
            Variable(f"{slot}_revision", "participants.csv", "integer", f"{label}: revision used (0 = original, >0 = staff correction)"),
            Variable(f"{slot}_missing_items", "participants.csv", "integer", f"{label}: number of unanswered items"),
        ]
        for rule_key in (inst.score_keys if inst else ()):
            rule = next((r for r in inst.scores if r.key == rule_key.removesuffix("_clinical")), None) if inst else None
            what = rule.label if rule else rule_key
            if rule_key.endswith("_clinical"):
                desc = f"{label}: {what}, clinical score (mean x {rule.clinical_factor if rule else 10:g})"
            else:
                desc = f"{label}: {what} ({rule.method if rule else 'score'} of items; prorated within the missing-item limit)"
            names.append(f"{slot}_{rule_key}")
            variables.append(Variable(f"{slot}_{rule_key}", "participants.csv", "number", desc))
    names.append("residual_gain")
    variables.append(Variable("residual_gain", "participants.csv", "number",
                              "Treatment arm: observed minus predicted post-treatment CORE-OM clinical score "
                              "(OLS of post on pre, coefficients in results.json residual_gain); lower is better"))
    return names, variables


LONG_COLUMNS = ("participant_code", "arm", "instrument", "instrument_version", "timepoint", "revision", "current",
                "submitted_on", "item", "value", "scale_min", "scale_max")


def long_variables() -> list[Variable]:
    f = "items_long.csv"
    return [
        Variable("participant_code", f, "string", "Pseudonymous participant code"),
        Variable("arm", f, "string", "Allocated arm", ARM_LABELS),
        Variable("instrument", f, "string", "Instrument id (see instruments)"),
        Variable("instrument_version", f, "string", "Version of the instrument definition used for scoring"),
        Variable("timepoint", f, "string", "Time point", {"screening": "Screening", "pre": "Before treatment",
                                                          "week3": "Treatment week 3", "post": "After treatment"}),
        Variable("revision", f, "integer", "0 = original answers; >0 = a staff correction replacing the previous revision"),
        Variable("current", f, "boolean", "1 if this revision is the one the analysis uses (the latest)", {"1": "yes", "0": "no"}),
        Variable("submitted_on", f, "date", "Date the answers were submitted (UTC)"),
        Variable("item", f, "integer", "Item number within the instrument (see instruments for our short labels)"),
        Variable("value", f, "integer", "Answer as given (raw, before reverse scoring)"),
        Variable("scale_min", f, "integer", "Lowest possible answer of the item"),
        Variable("scale_max", f, "integer", "Highest possible answer of the item"),
    ]


# ---------------------------------------------------------------- the files

def write_participants_csv(session: Session, trial: Trial, handle: io.TextIOBase, *, results: Mapping[str, Any] | None = None,
                           slots: Mapping[tuple[str, str], str] | None = None,
                           progress: Callable[[float], None] | None = None) -> int:
    """Participant-level wide CSV: one row per participant, every stored score. Returns rows written."""
    slots = dict(slots or ANALYSIS_SLOTS)
    names, _ = wide_columns(slots)
    instruments = _instruments()
    fit = (results or {}).get("residual_gain") or {}
    slope, intercept = fit.get("slope"), fit.get("intercept")
    today = trial_today(trial)
    writer = SafeCsvWriter(handle)
    writer.writerow(names)
    n = 0
    for rows in stream_participants(session, trial, slots=slots, progress=progress):
        data = participant_data(rows, today)
        record: dict[str, Any] = {"participant_code": rows.code, "arm": rows.arm, "status": rows.status}
        for flag, _d in FLAG_COLUMNS:
            record[flag] = getattr(data, flag)
        for (instrument_id, _tp), slot in slots.items():
            adm = rows.slots.get(slot)
            if adm is None:
                continue
            record[f"{slot}_status"] = adm.status
            record[f"{slot}_revision"] = adm.revision
            record[f"{slot}_missing_items"] = len(adm.missing_items) if adm.submitted else None
            scores = adm.scores or {}
            inst = instruments.get(instrument_id)
            for key in (inst.score_keys if inst else scores.keys()):
                record[f"{slot}_{key}"] = scores.get(key)
        if (rows.arm == "treatment" and slope is not None and data.core_om_pre is not None
                and data.core_om_post is not None):
            record["residual_gain"] = data.core_om_post - (intercept + slope * data.core_om_pre)
        writer.writerow([record.get(name) for name in names])
        n += 1
    return n


def iter_answer_rows(session: Session, trial: Trial) -> Iterator[tuple[Any, ...]]:
    """The long CSV's rows, escaped, in administration and item order.

    Two ordered streams merged by administration id: the administrations (code, instrument,
    timepoint, revision...; one row each, formatted once) and their answers (plain integers).
    Core results (no ORM row processing) and server-side cursors keep it fast and flat in memory.
    """
    latest = (
        select(Administration.participant_id, Administration.instrument_id, Administration.timepoint,
               func.max(Administration.revision).label("latest"))
        .join(Participant, Participant.id == Administration.participant_id)
        .where(Participant.trial_id == trial.id)
        .group_by(Administration.participant_id, Administration.instrument_id, Administration.timepoint)
        .subquery()
    )
    administrations = (
        select(Administration.id, Participant.code, Participant.arm, Administration.instrument_id,
               Administration.instrument_version, Administration.timepoint, Administration.revision,
               Administration.revision == latest.c.latest, Administration.submitted_at)
        .join(Participant, Participant.id == Administration.participant_id)
        .join(latest, (latest.c.participant_id == Administration.participant_id)
              & (latest.c.instrument_id == Administration.instrument_id)
              & (latest.c.timepoint == Administration.timepoint))
        .where(Participant.trial_id == trial.id, Administration.submitted_at.is_not(None))
        .order_by(Administration.id)
    )
    answers = (
        select(AdministrationAnswer.administration_id, AdministrationAnswer.item_number, AdministrationAnswer.value,
               AdministrationAnswer.scale_min, AdministrationAnswer.scale_max)
        .join(Administration, Administration.id == AdministrationAnswer.administration_id)
        .join(Participant, Participant.id == Administration.participant_id)
        .where(Participant.trial_id == trial.id, Administration.submitted_at.is_not(None))
        .order_by(AdministrationAnswer.administration_id, AdministrationAnswer.item_number)
    )
    connection = session.connection().execution_options(yield_per=CHUNK)
    with connection.execute(administrations) as head_rows, connection.execute(answers) as answer_rows:
        heads = iter(head_rows)
        head_id: int | None = None
        prefix: tuple[Any, ...] = ()
        for adm_id, item, value, low, high in answer_rows:
            while head_id != adm_id:
                a_id, code, arm, instrument_id, version, timepoint, revision, current, submitted = next(heads)
                head_id = a_id
                prefix = (_cell(code), _cell(arm), _cell(instrument_id), _cell(version), _cell(timepoint), revision,
                          1 if current else 0, _cell(submitted))
            yield prefix + (item, value, low, high)


def write_items_long_csv(session: Session, trial: Trial, handle: io.TextIOBase,
                         progress: Callable[[float], None] | None = None) -> int:
    """Item-level long CSV: one row per stored answer (every revision, ``current`` marks the one used)."""
    total = session.scalar(
        select(func.count()).select_from(AdministrationAnswer)
        .join(Administration, Administration.id == AdministrationAnswer.administration_id)
        .join(Participant, Participant.id == Administration.participant_id)
        .where(Participant.trial_id == trial.id)
    ) or 0
    writer = csv.writer(handle, lineterminator="\r\n")  # rows come escaped from iter_answer_rows
    writer.writerow(LONG_COLUMNS)
    n = 0
    batch: list[tuple[Any, ...]] = []
    for row in iter_answer_rows(session, trial):
        batch.append(row)
        if len(batch) == CHUNK:
            writer.writerows(batch)
            n += len(batch)
            batch.clear()
            if progress and total:
                progress(n / total)
    writer.writerows(batch)
    return n + len(batch)


def write_free_text_csv(session: Session, trial: Trial, handle: io.TextIOBase) -> int:
    """Free text, only on request: staff correction notes, by participant code."""
    writer = SafeCsvWriter(handle)
    writer.writerow(("participant_code", "source", "instrument", "timepoint", "revision", "text"))
    stmt = (
        select(Participant.code, Administration.instrument_id, Administration.timepoint, Administration.revision,
               Administration.correction_reason)
        .join(Participant, Participant.id == Administration.participant_id)
        .where(Participant.trial_id == trial.id, Administration.correction_reason.is_not(None))
        .order_by(Administration.id)
        .execution_options(yield_per=CHUNK)
    )
    n = 0
    for code, instrument_id, timepoint, revision, text in session.execute(stmt):
        writer.writerow((code, "correction_reason", instrument_id, timepoint, revision, text))
        n += 1
    return n


def codebook(results: Mapping[str, Any] | None, *, include_free_text: bool,
             slots: Mapping[tuple[str, str], str] | None = None) -> dict[str, Any]:
    slots = dict(slots or ANALYSIS_SLOTS)
    _, wide_vars = wide_columns(slots)
    variables = wide_vars + long_variables()
    if include_free_text:
        f = "free_text.csv"
        variables += [
            Variable("participant_code", f, "string", "Pseudonymous participant code"),
            Variable("source", f, "string", "Where the text was written", {"correction_reason": "Staff note giving the reason for correcting answers"}),
            Variable("instrument", f, "string", "Instrument id"),
            Variable("timepoint", f, "string", "Time point"),
            Variable("revision", f, "integer", "Revision the note belongs to"),
            Variable("text", f, "string", "FREE TEXT: may identify a person; handle as identifiable data"),
        ]
    instruments = {}
    for inst_id, inst in sorted(_instruments().items()):
        if inst_id not in {i for i, _ in slots}:
            continue
        instruments[inst_id] = {
            "name": inst.name, "version": inst.version, "higher_is": inst.higher_is,
            "items": {str(i.number): {"label": i.label, "domain": i.domain, "reversed": i.reversed,
                                      "values": {str(o.value): o.label for o in i.options}} for i in inst.items},
            "scores": {r.key: {"label": r.label, "method": r.method, "items": list(r.items), "max_missing": r.max_missing,
                               "clinical_factor": r.clinical_factor} for r in inst.scores},
            "note": "Item labels are the platform's own short labels, not the licensed item wording.",
        }
    return {
        "format": "icbt-export/1",
        "pseudonymised": True,
        "contains_free_text": include_free_text,
        "free_text_warning": ("free_text.csv holds free text written by staff; it may identify a person."
                              if include_free_text else None),
        "formula_escaping": "Text cells starting with = + - @ TAB or CR are prefixed with an apostrophe.",
        "missing_values": "An empty cell is a missing value.",
        "trial": (results or {}).get("trial"),
        "data_fingerprint": (results or {}).get("data_fingerprint"),
        "instrument_versions_in_data": (results or {}).get("instrument_versions", {}),
        "instruments": instruments,
        "variables": [vars(v) for v in variables],
    }


def _codebook_csv(book: Mapping[str, Any]) -> str:
    out = io.StringIO()
    writer = SafeCsvWriter(out)
    writer.writerow(("file", "variable", "type", "description", "values"))
    for v in book["variables"]:
        values = "; ".join(f"{k} = {label}" for k, label in v["values"].items())
        writer.writerow((v["file"], v["name"], v["type"], v["description"], values))
    return out.getvalue()


def _member(archive: zipfile.ZipFile, name: str):  # type: ignore[no-untyped-def]
    return io.TextIOWrapper(archive.open(name, "w", force_zip64=True), encoding="utf-8", newline="")


def write_export_zip(session: Session, trial: Trial, results: Mapping[str, Any] | None, path: Path, *,
                     include_free_text: bool = False, progress: Callable[[float], None] | None = None) -> dict[str, int]:
    """Write the zip at ``path`` (atomically). Returns the row counts per file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    counts: dict[str, int] = {}

    def part(lo: float, hi: float) -> Callable[[float], None] | None:
        if progress is None:
            return None
        return lambda x: progress(lo + (hi - lo) * x)

    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        with _member(archive, "participants.csv") as handle:
            counts["participants.csv"] = write_participants_csv(session, trial, handle, results=results,
                                                                 progress=part(0.0, 0.3))
        with _member(archive, "items_long.csv") as handle:
            counts["items_long.csv"] = write_items_long_csv(session, trial, handle, progress=part(0.3, 0.95))
        if include_free_text:
            with _member(archive, "free_text.csv") as handle:
                counts["free_text.csv"] = write_free_text_csv(session, trial, handle)
        book = codebook(results, include_free_text=include_free_text)
        archive.writestr("codebook.json", json.dumps(book, indent=2, ensure_ascii=False))
        archive.writestr("codebook.csv", _codebook_csv(book))
        if results is not None:
            archive.writestr("results.json", json.dumps(results, indent=2, sort_keys=True, allow_nan=False))
    os.replace(tmp, path)
    if progress:
        progress(1.0)
    return counts


def write_export_dir(session: Session, trial: Trial, results: Mapping[str, Any] | None, folder: Path, *,
                     include_free_text: bool = False) -> dict[str, int]:
    """The same files as the zip, loose in ``folder`` (``flask --app wsgi export DIR``)."""
    folder.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with open(folder / "participants.csv", "w", encoding="utf-8", newline="") as handle:
        counts["participants.csv"] = write_participants_csv(session, trial, handle, results=results)
    with open(folder / "items_long.csv", "w", encoding="utf-8", newline="") as handle:
        counts["items_long.csv"] = write_items_long_csv(session, trial, handle)
    if include_free_text:
        with open(folder / "free_text.csv", "w", encoding="utf-8", newline="") as handle:
            counts["free_text.csv"] = write_free_text_csv(session, trial, handle)
    book = codebook(results, include_free_text=include_free_text)
    (folder / "codebook.json").write_text(json.dumps(book, indent=2, ensure_ascii=False), encoding="utf-8")
    (folder / "codebook.csv").write_text(_codebook_csv(book), encoding="utf-8", newline="")
    if results is not None:
        (folder / "results.json").write_text(json.dumps(results, indent=2, sort_keys=True, allow_nan=False), encoding="utf-8")
    return counts


__all__ = ["escape_cell", "write_export_zip", "write_export_dir", "write_participants_csv", "write_items_long_csv",
           "codebook", "ParticipantRows"]
