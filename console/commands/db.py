"""``mentiondesk db``: schema migrations."""

from __future__ import annotations

import click

from console.commands import open_existing_store
from storage import migrate
from storage.db import redact, resolve_url

url_option = click.option(
    "--database-url",
    envvar="MENTIONDESK_DATABASE_URL",
    default=None,
    help="Store URL (default: the SQLite file).",
)


@click.group()
def db() -> None:
    """Create and migrate the store."""


@db.command()
@url_option
@click.option("--revision", default="head", show_default=True)
def upgrade(database_url: str | None, revision: str) -> None:
    """Apply migrations up to REVISION."""
    url = resolve_url(database_url)
    migrate.upgrade(url, revision)
    click.echo(f"{redact(url)} is at {migrate.current(url)}")


@db.command()
@url_option
def check(database_url: str | None) -> None:
    """Fail if the models and the migrations disagree (on a store at the latest migration)."""
    url = resolve_url(database_url)
    open_existing_store(url).dispose()
    migrate.check(url)
    click.echo("no drift: models and migrations agree")


@db.command()
@url_option
def current(database_url: str | None) -> None:
    """Show the revision the store is at; fail, saying how to fix it, when it is not this version's."""
    store = open_existing_store(database_url)
    store.dispose()
    click.echo(migrate.current(store.url))
