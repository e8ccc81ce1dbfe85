"""``mentiondesk demo`` / ``generate`` / ``serve``: the embedded default, and stores for benchmarks.

``demo`` and ``serve`` resolve the store URL once, in the folder the user ran them in (a relative SQLite
path becomes absolute there), and hand that absolute URL to their child processes. The children run in the
same folder, so ``mentiondesk.toml`` and ``.streamlit/secrets.toml`` there mean the same thing to the
worker, the console and the command that started them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import delete, func, select

from console.commands.db import url_option
from console.config import load_config
from console.services.dashboard import rollup
from console.services.demo_seed import demo_logins, seed_demo, store_is_empty
from console.services.store import Store, open_store
from storage.db import DATABASE_URL_ENV, resolve_url
from storage.maintenance import vacuum_analyze
from storage.models import Classification, Mention, Reply, Setting

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
"""The console; its theme is in ``console/.streamlit/config.toml``, which Streamlit reads beside the script."""
POLL_S = 0.5


def _progress(label: str) -> Progress:
    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())


DEMO_MENTIONS = 40_000
"""The default demo history: a month at about one mention a minute, which the live feed continues."""


def _seed(store: Store, mentions: int, seed: int, end: datetime | None, days: int = 30) -> None:
    cfg = load_config()
    with _progress("generating demo mentions") as bar:
        task = bar.add_task("seed", total=mentions)
        result = seed_demo(
            store, cfg, mentions=mentions, seed=seed, days=days, now=end, progress=lambda n: bar.advance(task, n)
        )
    click.echo(
        f"stored {result.new:,} new mentions ({result.duplicates:,} already there) from {result.authors:,} authors"
    )


@dataclass(frozen=True)
class ChildSpec:
    """A child process to start, and restart, in the caller's working directory."""

    name: str
    cmd: list[str]
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ), repr=False)

    def start(self) -> subprocess.Popen[bytes]:
        """Start it; ``cwd`` is inherited so relative config and secrets paths mean what they meant to the user."""
        return subprocess.Popen(self.cmd, env=self.env)  # noqa: S603 - our own interpreter and arguments


def _child_env(url: str) -> dict[str, str]:
    # The variable wins over --database-url in every child, so it must carry the absolute URL too.
    return {**os.environ, DATABASE_URL_ENV: url}


def streamlit_command(port: int, url: str) -> tuple[list[str], dict[str, str]]:
    """The Streamlit server command; it never opens a browser when there is no display.

    ``-P`` keeps the user's folder off ``sys.path``: a ``storage/`` folder there must not shadow our package.
    """
    headless = "false" if os.environ.get("DISPLAY") and not os.environ.get("CI") else "true"
    cmd = [
        sys.executable,
        "-P",
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.port",
        str(port),
        "--server.headless",
        headless,
        "--browser.gatherUsageStats",
        "false",
    ]
    return cmd, _child_env(url)


def console_child(port: int, url: str) -> ChildSpec:
    """The Streamlit console on ``port`` over the store at ``url`` (already absolute)."""
    cmd, env = streamlit_command(port, url)
    return ChildSpec("console", cmd, env)


def worker_child(url: str) -> ChildSpec:
    """The live worker over the store at ``url`` (already absolute)."""
    cmd = [sys.executable, "-P", "-m", "console.cli", "worker", "--database-url", url]
    return ChildSpec("worker", cmd, _child_env(url))


def _banner(port: int, store: Store) -> None:
    click.echo("")
    click.echo(f"  mentiondesk console: http://localhost:{port}   (store: {store.describe()})")
    click.echo("  demo logins:")
    for login in demo_logins():
        click.echo(f"    {login.role:<8} {login.username:<8} password: {login.password}")
    click.echo("  Ctrl-C stops the console and the worker.\n")


@dataclass(frozen=True)
class Backoff:
    """Seconds to wait before restarting the worker: doubling from ``first`` up to ``cap``.

    A worker that ran ``stable`` seconds before it stopped starts again after ``first``: one crash a day
    should not wait as long as a crash loop.
    """

    first: float = 5.0
    cap: float = 60.0
    stable: float = 60.0

    def next(self, previous: float | None, ran_for: float) -> float:
        """The delay after a run of ``ran_for`` seconds, given the ``previous`` delay (``None``: first stop)."""
        if previous is None or ran_for >= self.stable:
            return self.first
        return min(previous * 2, self.cap)


def exit_words(code: int) -> str:
    """How a child ended, in plain words: ``exit 1`` or ``killed by SIGKILL``."""
    if code >= 0:
        return f"exit {code}"
    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"killed by signal {-code}"


@dataclass
class _Restarting:
    """A child that is started again, after a backoff, whenever it stops."""

    spec: ChildSpec
    backoff: Backoff
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    delay: float | None = None
    restart_at: float | None = None

    def start(self, now: float) -> None:
        """Start the child now; its run time counts from ``now``."""
        self.process, self.started, self.restart_at = self.spec.start(), now, None

    def tick(self, now: float) -> None:
        """Notice that the child stopped and schedule its restart, or restart it when that is due."""
        if self.process is not None:
            code = self.process.poll()
            if code is None:
                return
            self.delay = self.backoff.next(self.delay, now - self.started)
            self.process, self.restart_at = None, now + self.delay
            click.echo(
                f"mentiondesk: the {self.spec.name} stopped ({exit_words(code)}); restarting in {self.delay:g} s",
                err=True,
            )
        elif self.restart_at is not None and now >= self.restart_at:
            self.start(now)


class _StopRequested(BaseException):
    """SIGTERM arrived: stop every child and exit cleanly (a BaseException, like KeyboardInterrupt)."""


def _raise_stop(_signum: int, _frame: FrameType | None) -> None:
    raise _StopRequested


def _stop_all(processes: list[subprocess.Popen[bytes] | None]) -> None:
    running = [p for p in processes if p is not None and p.poll() is None]
    for process in running:
        process.terminate()
    for process in running:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _supervise(console: ChildSpec, worker: ChildSpec | None = None, backoff: Backoff | None = None) -> int:
    """Serve until the console exits (its exit code) or Ctrl-C / SIGTERM (0); restart the worker whenever it stops.

    The console is what the user is looking at, so a worker crash must not take it down; the console
    exiting ends the demo, and the worker with it.
    """
    restarting = _Restarting(worker, backoff or Backoff()) if worker is not None else None
    serving: subprocess.Popen[bytes] | None = None
    in_main = threading.current_thread() is threading.main_thread()
    previous: Any = signal.signal(signal.SIGTERM, _raise_stop) if in_main else None
    try:
        if restarting is not None:
            restarting.start(time.monotonic())
        serving = console.start()
        while (code := serving.poll()) is None:
            if restarting is not None:
                restarting.tick(time.monotonic())
            time.sleep(POLL_S)
        click.echo(f"mentiondesk: the {console.name} stopped ({exit_words(code)})", err=True)
        return code
    except (KeyboardInterrupt, _StopRequested):
        return 0
    finally:
        if in_main:  # a second SIGTERM must not interrupt the stopping
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _stop_all([serving, restarting.process if restarting is not None else None])
        if in_main:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def _exit_like(code: int) -> None:
    """Exit as the console did: its own status, or 128 + N when signal N killed it (the shell's convention)."""
    if code:
        sys.exit(code if code > 0 else 128 - code)


@click.command()
@url_option
@click.option("--port", type=int, default=8501, show_default=True)
@click.option(
    "--mentions",
    type=click.IntRange(min=1),
    default=DEMO_MENTIONS,
    show_default=True,
    help="Demo history on first start; the live feed goes on at its rate (40,000 over 30 days: ~1 a minute).",
)
@click.option("--days", type=click.IntRange(1, 365), default=30, show_default=True, help="Days of demo history.")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--reset", is_flag=True, help="Seed again even if the store already has mentions.")
@click.option("--no-worker", is_flag=True, help="Serve the console without the live worker.")
def demo(
    database_url: str | None, port: int, mentions: int, days: int, seed: int, reset: bool, no_worker: bool
) -> None:
    """Prepare the demo store (SQLite by default, in ./.mentiondesk), start the live worker and serve the console."""
    url = resolve_url(database_url)
    store = open_store(url, upgrade=True)
    if reset or store_is_empty(store):
        _seed(store, mentions, seed, None, days)
    else:
        click.echo(f"using the existing demo store at {store.describe()} (--reset to seed again)")
    store.dispose()
    _banner(port, store)
    _exit_like(_supervise(console_child(port, url), None if no_worker else worker_child(url)))


@click.command()
@url_option
@click.option("--port", type=int, default=8501, show_default=True)
def serve(database_url: str | None, port: int) -> None:
    """Serve the console on an existing store (no seeding, no worker)."""
    url = resolve_url(database_url)
    open_store(url, upgrade=True).dispose()
    _exit_like(_supervise(console_child(port, url)))


@click.command()
@url_option
@click.option("--mentions", type=int, default=1_000_000, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option(
    "--end",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Last day of generated data (UTC). Default: yesterday, the last full day, so no row is dated after the "
    "clock and the live worker's rollup refresh sees every later write.",
)
def generate(database_url: str | None, mentions: int, seed: int, end: datetime | None) -> None:
    """Fill a store with seeded generated mentions, e.g. a 1,000,000-mention store for benchmarks."""
    if mentions <= 0:
        raise click.BadParameter("must be positive", param_hint="--mentions")
    last_day = end or datetime.now(UTC) - timedelta(days=1)
    anchor = last_day.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=UTC)
    store = open_store(database_url, upgrade=True)
    with store.transaction() as session:  # until the end, the store is not one to measure
        session.execute(delete(Setting).where(Setting.key == GENERATED_KEY))
    days = max(30, min(365, mentions // 5_000))
    _seed_window(store, mentions, seed, anchor + timedelta(days=1), days)
    with store.transaction() as session:
        held = session.scalar(select(func.count()).select_from(Mention)) or 0
        ready = {"mentions": held, "seed": seed, "end": anchor.date().isoformat()}
        session.add(Setting(key=GENERATED_KEY, value=ready))
    click.echo(f"ready to measure: {held:,} mentions (setting {GENERATED_KEY!r})")


GENERATED_KEY = "generate.ready"
"""The setting ``generate`` writes last, with the store's mention count: a store without it is incomplete."""


def _seed_window(store: Store, mentions: int, seed: int, end: datetime, days: int) -> None:
    cfg = load_config()
    with _progress(f"generating {mentions:,} mentions over {days} days") as bar:
        task = bar.add_task("seed", total=mentions)
        result = seed_demo(
            store, cfg, mentions=mentions, seed=seed, days=days, now=end, progress=lambda n: bar.advance(task, n)
        )
    click.echo(f"stored {result.new:,} new mentions ({result.duplicates:,} already there) in {store.describe()}")
    ready_for_benchmarks(store)


def _last_write(store: Store) -> datetime:
    """The newest time written into the store: the seeder dates rows up to its simulated end, past the clock."""
    with store.read() as session:
        moments = [
            session.scalar(select(func.max(column)))
            for column in (Mention.updated_at, Classification.created_at, Reply.sent_at)
        ]
    return max([datetime.now(UTC), *(rollup.as_utc(m) for m in moments if m is not None)])


def ready_for_benchmarks(store: Store) -> None:
    """Leave a generated store as the worker would after a while: rollups built and current, statistics analysed.

    The dashboard reads raw every day changed after the rollups' watermark, so without this a benchmark measures
    the first minutes of a new store, not a store in use.  Nothing else writes to the store meanwhile, so the
    rollups are judged as of its last write (the refresh's safety margin for late commits is not needed).
    """
    as_of = _last_write(store) + rollup.SAFETY_MARGIN
    with store.transaction() as session:
        days = rollup.rebuild(session, now=as_of)
    with store.transaction() as session:  # what the worker's next refresh would find: nothing to redo
        redone = rollup.refresh(session, now=as_of)
    if redone:
        raise click.ClickException(f"the dashboard rollups still redo {redone} days after a rebuild")
    vacuum_analyze(store.engine)
    click.echo(f"rollups built for {days:,} days and current; statistics analysed")
