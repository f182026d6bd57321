"""A benchmark server: a fresh database seeded with the bench world, gunicorn serving
bench.app:app on a loopback port (tests/liveserver.py does the process work)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.world import World, build_world
from tests.liveserver import LiveServer, flask_cli, server_environment


def seed(env: dict[str, str], database_url: str, n_patients: int) -> World:
    """Migrate with the real CLI, then seed the world in-process with the server's config."""
    from config import DevelopmentConfig, normalise_database_url
    from icbt import create_app
    from icbt.extensions import db

    flask_cli(env, "db", "upgrade")
    config = DevelopmentConfig(instance_path=env["ICBT_INSTANCE"])
    config.SQLALCHEMY_DATABASE_URI = normalise_database_url(database_url)
    app = create_app(config)
    try:
        with app.app_context():
            world = build_world(db.session, n_patients)
            db.session.commit()
    finally:
        app.extensions["icbt.db"].dispose()
    return world


@contextmanager
def bench_server(database_url: str, instance: Path, *, n_patients: int, workers: int,
                 log_path: Path) -> Iterator[tuple[LiveServer, World]]:
    instance.mkdir(parents=True, exist_ok=True)
    env = server_environment(instance, database_url)
    world = seed(env, database_url, n_patients)
    with LiveServer(env, app="bench.app:app", workers=workers, log_path=log_path, access_log=False) as server:
        yield server, world
