"""``mentiondesk worker``: run sources, classify new mentions, send queued replies."""

from __future__ import annotations

import signal
import threading

import click

from console.commands.db import url_option
from console.services.store import open_store
from console.worker.factory import build_connector
from console.worker.loop import run_forever


@click.command()
@url_option
@click.option("--poll", type=float, default=1.0, show_default=True, help="Seconds between scheduling passes.")
def worker(database_url: str | None, poll: float) -> None:
    """Run the worker until interrupted (Ctrl-C or SIGTERM)."""
    store = open_store(database_url, upgrade=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"worker running on {store.describe()}; Ctrl-C to stop")
    run_forever(store, build_connector, poll_s=poll, stop=stop)
