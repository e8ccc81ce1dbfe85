"""``mentiondesk outbox list / settle``: see the reply outbox, and settle replies parked for a human check.

A reply is parked (``needs_attention``) when the worker stopped while sending it and could not find it on
the platform: it may or may not be posted.  A manager looks at the thread and settles it with
``mentiondesk outbox settle ID --posted URL --as maya`` or ``--not-posted --as maya``; both are audited.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click
from sqlalchemy import select

from console.cli import UserFacingError
from console.commands import cli_actor, open_existing_store
from console.commands.db import url_option
from console.config import load_config
from console.services.errors import ServiceError
from console.services.permissions import Actor
from console.services.replies.outbox import outbox_replies, settle_reply
from console.services.store import Store
from console.ui.format import duration_words
from storage.enums import ReplyState
from storage.models import User

STATES = [s.value for s in ReplyState]
config_option = click.option(
    "--config", "config_file", type=click.Path(dir_okay=False), default=None, help="mentiondesk.toml path."
)


def _store(database_url: str | None, config_file: str | None) -> Store:
    return open_existing_store(database_url or load_config(config_file).database.url)


@click.group()
def outbox() -> None:
    """The reply outbox: list replies by state, settle parked ones."""


def _one_line(text: str | None, limit: int = 100) -> str:
    flat = " ".join((text or "").split()) or "—"
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@outbox.command("list")
@url_option
@config_option
@click.option(
    "--state",
    type=click.Choice([*STATES, "all"]),
    default=ReplyState.NEEDS_ATTENTION.value,
    show_default=True,
    help="Which replies to list.",
)
@click.option("--limit", type=click.IntRange(1, 10_000), default=200, show_default=True, help="At most this many.")
def list_command(database_url: str | None, config_file: str | None, state: str, limit: int) -> None:
    """One line per reply, oldest first: id, mention, state, attempts, age and last error."""
    store = _store(database_url, config_file)
    try:
        with store.read() as session:
            rows = outbox_replies(session, cli_actor(), None if state == "all" else ReplyState(state), limit=limit)
    finally:
        store.dispose()
    if not rows:
        click.echo("No replies." if state == "all" else f"No {state.replace('_', ' ')} replies.")
        return
    now = datetime.now(UTC)
    click.echo(f"{'ID':>7}  {'MENTION':>8}  {'STATE':<15}  {'ATTEMPTS':>8}  {'AGE':>10}  LAST ERROR")
    for reply in rows:
        age = duration_words(now - reply.created_at)
        click.echo(
            f"{reply.id:>7}  {reply.mention_id:>8}  {reply.state.value:<15}  {reply.attempts:>8}  {age:>10}  "
            f"{_one_line(reply.last_error)}"
        )


def _manager(store: Store, username: str) -> Actor:
    with store.read() as session:
        user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None or not user.is_active:
        raise UserFacingError(f"no active user {username!r}; --as takes the username of a manager or an admin")
    return Actor.of(user)


@outbox.command("settle")
@url_option
@config_option
@click.argument("reply_id", type=int)
@click.option("--posted", "posted_url", metavar="URL", default=None, help="It was posted: the reply's URL.")
@click.option("--not-posted", is_flag=True, help="It is not in the thread (a new reply may then be sent).")
@click.option("--as", "username", required=True, metavar="USERNAME", help="The manager who checked the thread.")
def settle_command(
    database_url: str | None,
    config_file: str | None,
    reply_id: int,
    posted_url: str | None,
    not_posted: bool,
    username: str,
) -> None:
    """Settle a reply parked as needs-attention: --posted URL, or --not-posted (audited)."""
    if (posted_url is None) == (not not_posted):
        raise UserFacingError("say either --posted URL or --not-posted")
    store = _store(database_url, config_file)
    try:
        actor = _manager(store, username)
        with store.transaction() as session:
            reply = settle_reply(session, actor, reply_id, posted=posted_url is not None, url=posted_url)
            state = reply.state.value
    except (ServiceError, PermissionError) as exc:
        raise UserFacingError(str(exc)) from None
    finally:
        store.dispose()
    verdict = f"posted at {posted_url}" if posted_url is not None else "not posted"
    click.echo(f"reply {reply_id} settled by {actor.username} as {verdict} (now {state})")
