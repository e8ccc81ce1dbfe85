"""The benchmark stores: built once by ``mentiondesk generate``, reused while they are complete.

A 1M-mention store takes 15-25 minutes to generate on 2 cores, so ``make bench`` keeps one per size: SQLite in
``.mentiondesk/bench/store_<size>.db`` (git-ignored) and PostgreSQL in its own database ``bench_<size>`` on the
server of ``MENTIONDESK_TEST_PG_URL`` (never the ``test`` database itself).  A store is reused only if it holds
``generate``'s ready mark (written last) for that many mentions and the same last day, still holds them, and its
schema is at the code's head revision; otherwise it is wiped and generated again.  The last day is fixed (the one
docs/benchmarks.md used), so every machine measures the same seeded store, whatever the day.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psycopg
from alembic.script import ScriptDirectory
from psycopg import sql
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bench._common import PG_URL
from console.commands.demo import GENERATED_KEY
from console.services.store import open_store
from storage import migrate
from storage.models import Mention, Setting

ROOT = Path(__file__).resolve().parents[1]
SQLITE_DIR = ROOT / ".mentiondesk" / "bench"
END = "2026-01-31"
"""``generate --end``: the stores' last day of mentions."""


def size_label(mentions: int) -> str:
    """``1m``, ``20k`` or the plain number: names a store by its size."""
    if mentions % 1_000_000 == 0:
        return f"{mentions // 1_000_000}m"
    if mentions % 1_000 == 0:
        return f"{mentions // 1_000}k"
    return str(mentions)


def sqlite_url(mentions: int) -> str:
    return f"sqlite:///{SQLITE_DIR / f'store_{size_label(mentions)}.db'}"


def postgres_url(mentions: int) -> str:
    return make_url(PG_URL).set(database=f"bench_{size_label(mentions)}").render_as_string(hide_password=False)


def _server_url() -> str:
    """The server's maintenance database, for creating and dropping the bench databases."""
    return make_url(PG_URL).set(database="postgres").render_as_string(hide_password=False)


def _database(url: str) -> str:
    name = make_url(url).database
    if not name:
        raise SystemExit(f"bench: no database name in {url}")
    return name


def _postgres_exists(url: str) -> bool:
    with psycopg.connect(_server_url(), autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (_database(url),)).fetchone() is not None


def _sqlite_path(url: str) -> Path:
    return Path(make_url(url).database or "")


def not_ready(url: str, mentions: int) -> str | None:
    """Why the store at ``url`` cannot be measured as it is, or None when it can."""
    if url.startswith("sqlite") and not _sqlite_path(url).exists():
        return "no store yet"
    if url.startswith("postgresql") and not _postgres_exists(url):
        return "no database yet"
    head = ScriptDirectory.from_config(migrate.alembic_config(url)).get_current_head()
    revision = migrate.current(url)
    if revision != head:
        return f"schema at revision {revision}, the code's head is {head}"
    store = open_store(url)
    try:
        with store.read() as session:
            mark = session.get(Setting, GENERATED_KEY)
            held = session.scalar(select(func.count()).select_from(Mention)) or 0
    finally:
        store.dispose()
    if mark is None:
        return "incomplete: generate did not finish"
    if mark.value.get("mentions") != mentions:
        return f"generated with {mark.value.get('mentions'):,} mentions, not {mentions:,}"
    if mark.value.get("end") != END:
        return f"generated up to {mark.value.get('end')}, not {END}"
    if held != mentions:
        return f"holds {held:,} mentions, {mentions:,} when generated"
    return None


def _wipe(url: str) -> None:
    if url.startswith("sqlite"):
        path = _sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    name = sql.Identifier(_database(url))
    with psycopg.connect(_server_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def ensure(url: str, mentions: int, *, rebuild: bool = False) -> None:
    """Leave a complete ``mentions``-mention store at ``url``: the cached one, or a freshly generated one."""
    reason = "--rebuild" if rebuild else not_ready(url, mentions)
    if reason is None:
        print(f"# reusing the {mentions:,}-mention store at {url}", flush=True)
        return
    print(f"# generating {mentions:,} mentions into {url} ({reason})", flush=True)
    _wipe(url)
    started = time.perf_counter()
    command = [sys.executable, "-m", "console.cli", "generate", "--mentions", str(mentions), "--end", END]
    command += ["--database-url", url]
    subprocess.run(command, cwd=ROOT, check=True)
    print(f"# generated {url} in {time.perf_counter() - started:.0f} s", flush=True)
    if (late := not_ready(url, mentions)) is not None:
        raise SystemExit(f"bench: {url} is still not ready after generate: {late}")
