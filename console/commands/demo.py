"""``mentiondesk demo`` / ``generate`` / ``serve``: the embedded default, and stores for benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from console.commands.db import url_option
from console.config import load_config
from console.services.demo_seed import demo_logins, seed_demo, store_is_empty
from console.services.store import Store, open_store
from storage.db import resolve_url

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
PROJECT_ROOT = APP.parent.parent


def _progress(label: str) -> Progress:
    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())


def _seed(store: Store, mentions: int, seed: int, end: datetime | None) -> None:
    cfg = load_config()
    with _progress("generating demo mentions") as bar:
        task = bar.add_task("seed", total=mentions)
        result = seed_demo(store, cfg, mentions=mentions, seed=seed, now=end, progress=lambda n: bar.advance(task, n))
    click.echo(
        f"stored {result.new:,} new mentions ({result.duplicates:,} already there) from {result.authors:,} authors"
    )


def streamlit_command(port: int, url: str) -> tuple[list[str], dict[str, str]]:
    """The Streamlit server command; it never opens a browser when there is no display."""
    headless = "false" if os.environ.get("DISPLAY") and not os.environ.get("CI") else "true"
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
        "--server.headless", headless, "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    return cmd, {**os.environ, "MENTIONDESK_DATABASE_URL": url}


def _banner(port: int, store: Store) -> None:
    click.echo("")
    click.echo(f"  mentiondesk console: http://localhost:{port}   (store: {store.describe()})")
    click.echo("  demo logins:")
    for login in demo_logins():
        click.echo(f"    {login.role:<8} {login.username:<8} password: {login.password}")
    click.echo("  Ctrl-C stops the console and the worker.\n")


def _supervise(children: list[subprocess.Popen[bytes]]) -> None:
    def stop(*_: object) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()

    signal.signal(signal.SIGTERM, lambda *a: (stop(), sys.exit(0)))
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


@click.command()
@url_option
@click.option("--port", type=int, default=8501, show_default=True)
@click.option("--mentions", type=int, default=5_000, show_default=True, help="Demo mentions on first start.")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--reset", is_flag=True, help="Seed again even if the store already has mentions.")
@click.option("--no-worker", is_flag=True, help="Serve the console without the live worker.")
def demo(database_url: str | None, port: int, mentions: int, seed: int, reset: bool, no_worker: bool) -> None:
    """Prepare the demo store (SQLite by default), start the live worker and serve the console."""
    url = resolve_url(database_url)
    store = open_store(url, upgrade=True)
    if reset or store_is_empty(store):
        _seed(store, mentions, seed, None)
    else:
        click.echo(f"using the existing demo store at {store.describe()} (--reset to seed again)")
    store.dispose()
    children = []
    if not no_worker:
        worker_cmd = [sys.executable, "-m", "console.cli", "worker", "--database-url", url]
        children.append(subprocess.Popen(worker_cmd, cwd=PROJECT_ROOT))  # noqa: S603 - our own interpreter
    cmd, env = streamlit_command(port, url)
    children.append(subprocess.Popen(cmd, env=env, cwd=PROJECT_ROOT))  # noqa: S603
    _banner(port, store)
    _supervise(children)


@click.command()
@url_option
@click.option("--port", type=int, default=8501, show_default=True)
def serve(database_url: str | None, port: int) -> None:
    """Serve the console on an existing store (no seeding, no worker)."""
    url = resolve_url(database_url)
    open_store(url, upgrade=True).dispose()
    cmd, env = streamlit_command(port, url)
    _supervise([subprocess.Popen(cmd, env=env, cwd=PROJECT_ROOT)])  # noqa: S603


@click.command()
@url_option
@click.option("--mentions", type=int, default=1_000_000, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option(
    "--end",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Last day of generated data (UTC). Default: today, so the same seed on the same day gives the same store.",
)
def generate(database_url: str | None, mentions: int, seed: int, end: datetime | None) -> None:
    """Fill a store with seeded generated mentions, e.g. a 1,000,000-mention store for benchmarks."""
    if mentions <= 0:
        raise click.BadParameter("must be positive", param_hint="--mentions")
    anchor = (end or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=UTC)
    store = open_store(database_url, upgrade=True)
    days = max(30, min(365, mentions // 5_000))
    _seed_window(store, mentions, seed, anchor + timedelta(days=1), days)


def _seed_window(store: Store, mentions: int, seed: int, end: datetime, days: int) -> None:
    cfg = load_config()
    with _progress(f"generating {mentions:,} mentions over {days} days") as bar:
        task = bar.add_task("seed", total=mentions)
        result = seed_demo(
            store, cfg, mentions=mentions, seed=seed, days=days, now=end, progress=lambda n: bar.advance(task, n)
        )
    click.echo(f"stored {result.new:,} new mentions ({result.duplicates:,} already there) in {store.describe()}")
