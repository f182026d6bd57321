"""``flask --app wsgi content ...``: check the library, list it with word counts."""
from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

content_group = AppGroup("content", help="The module library and the tailoring rules.")


@content_group.command("check")
def check() -> None:
    """Check the library (done at start-up too) and compare it with the versions stored in plans.

    A module whose text changed while its version number did not is reported: bump
    ``version`` so that plans can tell the two apart.
    """
    from icbt.content import store
    from icbt.content.models import ModuleVersion
    from icbt.extensions import db

    content = store()
    problems = 0
    for lang, library in content.libraries.items():
        click.echo(f"{lang}: {len(library)} modules, rules version {content.rules.version}: OK")
        stored = db.session.execute(
            select(ModuleVersion.module_key, ModuleVersion.version, ModuleVersion.content_hash)
            .where(ModuleVersion.lang == lang)
        ).all()
        for key, version, digest in stored:
            module = library.get(key)
            if module is not None and module.version == version and module.content_hash != digest:
                problems += 1
                click.echo(f"  {module.path}: version {version} was changed after it was given to patients; "
                           f"bump 'version'.", err=True)
    if problems:
        raise click.exceptions.Exit(1)


@content_group.command("list")
def list_modules() -> None:
    """The modules: id, version, track/order, pages, worksheets, words."""
    from icbt.content import store

    library = store().library()
    click.echo(f"{'id':<20} {'v':>2} {'track/order':<18} {'pages':>5} {'sheets':>6} {'words':>6}  title")
    total = 0
    for module in library:
        total += module.word_count
        click.echo(f"{module.id:<20} {module.version:>2} {module.track + '/' + str(module.order):<18} "
                   f"{len(module.pages):>5} {len(module.worksheets):>6} {module.word_count:>6}  {module.title}")
    click.echo(f"{len(library)} modules, {total} words")
