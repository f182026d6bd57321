"""The app the page benchmark serves: ``gunicorn bench.app:app``.

It is wsgi.py's app object with one more route, ``/hello``, returning plain text: the same
app (same before/after-request hooks, CSP headers, session handling), minus templates and
database. Its throughput is the framework's ceiling on this machine, measured beside each
page in the same run; a page's share of it shows what the page itself costs.

Why not a route in the product: it is added here, to the benchmark's copy of the app object,
so production serves no extra unauthenticated endpoint and needs no flag to hide one.
"""
from __future__ import annotations

import bench  # noqa: F401  (puts platform/ on sys.path)
from flask import Response

from wsgi import app


def hello() -> Response:
    return Response("hello\n", mimetype="text/plain")


app.add_url_rule("/hello", "bench_hello", hello)
