"""The home's database schema and its migration history."""

from __future__ import annotations

import click

from core.settings import Settings
from crisiswatch.commands.common import CONTEXT, with_home


@click.group(context_settings=CONTEXT)
def db():
    """The database's schema: which revision of its migration history it is at, and
    bringing it to this release's."""


@db.command(context_settings=CONTEXT)
@with_home
def upgrade(settings: Settings):
    """Bring the home's database to this release's schema, in place.

    \b
    A home made by an earlier release (0.1.0 included) is upgraded step by step, each
    step said as it is applied; nothing in it is lost. Running it again does nothing.
    The other commands do this too when they open a home; `serve`, `demo` and
    `schedule` before they start anything else.
    """
    from core.store import Store
    from desk import migrations

    settings.ensure_home()
    store = Store(settings.database_url)
    said = []  # what the upgrade did: revisions applied, or tables lost at the head made again
    try:
        click.echo(f"database  {store.engine.url.render_as_string(hide_password=True)}")
        migrations.upgrade(store.engine, say=lambda line: (said.append(line), click.echo(line)))
    finally:
        store.close()
    now = migrations.describe(migrations.head())
    click.echo(f"the database is at {now}" + ("" if said else " already: nothing to do"))


@db.command(context_settings=CONTEXT)
@with_home
def current(settings: Settings):
    """The revision the home's database is at, and the one this release needs."""
    from core.store import Store
    from desk import migrations

    settings.ensure_home()
    store = Store(settings.database_url)
    try:
        with store.engine.connect() as connection:
            at = migrations.current(connection)
    finally:
        store.close()
    click.echo(f"database  {migrations.describe(at)}\nrelease   {migrations.describe(migrations.head())}")
    if not migrations.known(at):
        click.echo("ahead: a newer release upgraded the database; run that release or a newer one")
    elif at != migrations.head():
        click.echo("behind: run `crisiswatch db upgrade`")
