"""Engines and sessions: SQLite by default, PostgreSQL through psycopg 3."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

DATABASE_URL_ENV = "MENTIONDESK_DATABASE_URL"
DEFAULT_SQLITE_PATH = Path(".mentiondesk") / "mentiondesk.db"
SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_CACHE_KIB = 64 * 1024
"""Page cache per connection: the default 2 MiB thrashes once the mention indexes outgrow it."""
SQLITE_MMAP_BYTES = 256 * 1024 * 1024
SQLITE_WAL_CHECKPOINT_PAGES = 20_000
"""Checkpoint every ~80 MiB of WAL instead of ~4 MiB: at ingest rates the default checkpointed on
nearly every commit, and those fsyncs dominated the ingest time (docs/benchmarks.md, Ingest)."""


class DatabaseUrlError(ValueError):
    """The database URL cannot be used; the message says why in plain words."""


def default_url() -> str:
    """The embedded store, ``.mentiondesk/mentiondesk.db`` in the working directory (made absolute by resolve_url)."""
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"


def resolve_url(configured: str | None = None) -> str:
    """Pick the URL: environment first, then config, then the embedded SQLite file.

    A relative SQLite path is resolved here, once, against the working directory, so that child
    processes started elsewhere (the worker, the Streamlit console) open the same file.
    """
    return absolute_sqlite_url(os.environ.get(DATABASE_URL_ENV) or configured or default_url())


def absolute_sqlite_url(url: str, base: Path | None = None) -> str:
    """``url`` with a relative SQLite file path made absolute against ``base`` (default: the working directory).

    Other URLs, in-memory databases and ``file:`` URIs come back unchanged, as do unparseable
    strings, so that ``normalise_url`` reports those with its own message.
    """
    try:
        parsed = make_url(url)
    except Exception:  # reported later by normalise_url, in plain words
        return url
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return url
    if database.startswith("file:") or Path(database).is_absolute():
        return url
    absolute = os.path.abspath((base or Path.cwd()) / database)
    return parsed.set(database=absolute).render_as_string(hide_password=False)


def normalise_url(url: str) -> URL:
    """Route plain ``postgresql://`` URLs through psycopg 3 and reject unknown backends."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse message
        raise DatabaseUrlError(f"not a database URL: {url!r} ({exc})") from exc
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed
    raise DatabaseUrlError(f"unsupported database {backend!r}: use sqlite:///PATH or postgresql://…")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_CHECKPOINT_PAGES}")
    cursor.close()


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """Create an engine with the settings each backend needs to be safe and fast."""
    parsed = normalise_url(resolve_url(url) if url is None else url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (pages render after the transaction)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    with factory() as session, session.begin():
        yield session


def redact(url: str) -> str:
    """The URL with its password hidden, for logs and messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"
