"""The pages the benchmarks measure: one line each.

``path`` may use the ``World`` fields as placeholders ({participant_id}, ...); ``role`` is
who is logged in ("anonymous" for none). Used by the throughput benchmark (bench/throughput.py),
the SQL statement counts (bench/queries.py) and tests/journeys/test_query_counts.py.

When a capability lands, add its pages here, e.g.
    Page("module page", "patient", "/me/modules/{module_id}"),
    Page("message thread", "patient", "/me/messages"),
and the World field they need in bench/world.py.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    name: str
    role: str
    path: str
    caseload_bound: bool = False  # True: may list the caseload, its query count is the one to watch
    min_patients: int = 0  # the page exists only with a caseload of at least this size


PAGES: list[Page] = [
    Page("patient dashboard", "patient", "/me/"),
    Page("module page", "patient", "/me/modules/{module_item_id}/pages/1"),
    Page("message thread", "patient", "/me/messages"),
    Page("therapist caseload", "therapist", "/therapist/", caseload_bound=True),
    Page("caseload, page 2", "therapist", "/therapist/?page=2", caseload_bound=True, min_patients=26),
    Page("therapist: one patient", "therapist", "/therapist/patients/{participant_id}"),
    Page("admin dashboard", "admin", "/admin/", caseload_bound=True),
    Page("admin participants", "admin", "/admin/participants", caseload_bound=True),
    Page("login form", "anonymous", "/auth/login"),
]

# The framework's own ceiling, measured beside every page: a plain-text route added to the
# same app object by bench/routes.py (same hooks, no template, no database).
HELLO = Page("hello (bare route)", "anonymous", "/hello")

# Reference rows measured like pages (bench/routes.py): what logging in costs, and the floor
# of any page that shows health data (logged in + one audit line written and committed).
REFERENCES: list[Page] = [
    Page("ref: hello, logged in", "patient", "/hello/logged-in"),
    Page("ref: hello + audit line", "patient", "/hello/audited"),
]
