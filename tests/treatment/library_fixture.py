"""Small module libraries written into temporary folders (good ones and bad ones)."""
from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REAL_MODULES = ROOT / "modules"

# The library table of modules/README.md: id -> (track, order, targets).
README_TABLE = {
    "intro": ("core", 1, []),
    "relapse-prevention": ("core", 2, []),
    "panic-1": ("panic", 1, ["panic"]),
    "panic-2": ("panic", 2, ["panic"]),
    "agoraphobia-1": ("agoraphobia", 1, ["agoraphobia", "panic"]),
    "agoraphobia-2": ("agoraphobia", 2, ["agoraphobia", "panic"]),
    "social-1": ("social_anxiety", 1, ["social_anxiety"]),
    "social-2": ("social_anxiety", 2, ["social_anxiety"]),
    "worry-1": ("gad", 1, ["gad"]),
    "worry-2": ("gad", 2, ["gad"]),
    "health-1": ("health_anxiety", 1, ["health_anxiety"]),
    "activation-1": ("depression", 1, ["depression"]),
    "sleep-1": ("insomnia", 1, ["insomnia"]),
    "stress-1": ("stress", 1, ["stress", "gad"]),
    "relaxation-1": ("relaxation", 1, ["panic", "gad", "stress", "insomnia"]),
    "trauma-1": ("ptsd", 1, ["ptsd"]),
    "thoughts-1": ("cognitive", 1, ["gad", "social_anxiety", "depression", "health_anxiety"]),
}

PAGES = """# Page one

Some *text* for page one, with [a link](https://example.org).

# Page two

Text for page two.

# Page three

Text for page three.
"""


def module_text(module_id: str, *, version: int = 1, title: str | None = None, track: str | None = None,
                order: int | None = None, targets: list[str] | None = None, worksheets: str | None = None,
                body: str = PAGES, extra: str = "") -> str:
    t_track, t_order, t_targets = README_TABLE.get(module_id, ("extra", 1, []))
    worksheets = worksheets or """
  - id: sheet
    title: A worksheet
    intro: Fill this in.
    fields:
      - {id: note, type: text, label: What you noticed, required: true, max_length: 200}
      - {id: fear, type: scale, label: How strong the fear was, min: 0, max: 10, min_label: None, max_label: Worst}
      - {id: minutes, type: number, label: Minutes, min: 0, max: 600}
      - {id: what, type: choice, label: What you did, options: [Stayed, Left]}
      - id: steps
        type: rows
        label: My steps
        min_rows: 1
        max_rows: 5
        columns:
          - {id: step, type: text, label: Step, max_length: 100}
          - {id: level, type: scale, label: Fear, min: 0, max: 100}"""
    return (
        "---\n"
        f"id: {module_id}\n"
        f"version: {version}\n"
        f"title: {title or 'Module ' + module_id}\n"
        "summary: A short summary.\n"
        f"targets: [{', '.join(targets if targets is not None else t_targets)}]\n"
        f"track: {track or t_track}\n"
        f"order: {order or t_order}\n"
        "estimated_minutes: 30\n"
        f"worksheets:{worksheets}\n"
        f"{extra}"
        "---\n"
        f"{body}"
    )


def write_library(root: Path, texts: dict[str, str] | None = None, *, rules: bool = True) -> Path:
    """A complete small library (every README id) in ``root``; ``texts`` replaces or adds files."""
    folder = root / "en"
    folder.mkdir(parents=True, exist_ok=True)
    for module_id in README_TABLE:
        (folder / f"{module_id}.md").write_text(module_text(module_id), encoding="utf-8")
    for name, text in (texts or {}).items():
        (folder / f"{name}.md").write_text(text, encoding="utf-8")
    if rules:
        shutil.copy(REAL_MODULES / "tailoring.yaml", root / "tailoring.yaml")
    return root
