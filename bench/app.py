"""The app the page benchmark serves: ``gunicorn bench.app:app``.

It is wsgi.py's app object with the benchmark's reference routes added (``add_reference_routes``):

- ``/hello``: plain text, no login, no template, no database. Its throughput is the
  framework's ceiling on this machine, measured beside each page in the same run; a page's
  share of it shows what the page itself costs.
- ``/hello/logged-in``: the same text for a logged-in user: what loading the user and checking
  the server-side session costs (one query).
- ``/hello/audited``: logged in, and one audit line written and committed, as every page that
  shows health data must do (DESIGN: every read of health data lands in the audit log). This
  is the floor of any such page: a page cannot be faster than it.

Why not routes in the product: they are added here, to the benchmark's copy of the app
object, so production serves no extra endpoint and needs no flag to hide one.
"""
from __future__ import annotations

import bench  # noqa: F401  (puts platform/ on sys.path)
from bench.routes import add_reference_routes

from wsgi import app  # noqa: E402

add_reference_routes(app)
