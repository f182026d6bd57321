"""The benchmark's reference routes, added to an app object by ``add_reference_routes``
(bench/app.py for gunicorn, bench/profile_pages.py in-process); see bench/app.py."""
from __future__ import annotations

from flask import Flask, Response
from flask_login import login_required


def hello() -> Response:
    return Response("hello\n", mimetype="text/plain")


@login_required
def hello_logged_in() -> Response:
    return Response("hello\n", mimetype="text/plain")


@login_required
def hello_audited() -> Response:
    from icbt.audit.services import record
    from icbt.extensions import db

    record(db.session, "bench.hello")
    return Response("hello\n", mimetype="text/plain")


def add_reference_routes(target: Flask) -> None:
    target.add_url_rule("/hello", "bench_hello", hello)
    target.add_url_rule("/hello/logged-in", "bench_hello_logged_in", hello_logged_in)
    target.add_url_rule("/hello/audited", "bench_hello_audited", hello_audited)

