"""``mentiondesk user add NAME --role ROLE``: console users live in the store, never in config."""

from __future__ import annotations

import sys

import click

from console.cli import UserFacingError
from console.commands import cli_actor
from console.commands.db import url_option
from console.services import audit
from console.services.store import open_store
from console.services.users import UserExistsError, create_user
from storage.enums import Role


@click.group()
def user() -> None:
    """Manage console users."""


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@user.command("add")
@url_option
@click.argument("name")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True, help="What the user may do.")
@click.option("--display-name", default="", help="Full name, used for sign-offs and initials.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def add(database_url: str | None, name: str, role: str, display_name: str, password_stdin: bool) -> None:
    """Create a user; the password is prompted (or read from stdin) and stored only as an argon2 hash."""
    password = _read_password(password_stdin)
    store = open_store(database_url, upgrade=True)
    try:
        with store.transaction() as session:
            created = create_user(session, name.strip(), password, Role(role), display_name.strip())
            audit.record(
                session,
                cli_actor(),
                "user.create",
                "user",
                created.id,
                after={"username": created.username, "role": role},
            )
    except UserExistsError as exc:
        raise UserFacingError(str(exc)) from None
    except ValueError as exc:
        raise UserFacingError(str(exc)) from None
    finally:
        store.dispose()
    click.echo(f"created {role} {name.strip()}")
