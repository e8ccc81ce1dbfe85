"""The store a process works with: one engine, one session factory, migrations on demand."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from storage import migrate
from storage.db import make_engine, redact, resolve_url, session_factory

CONSOLE_BUSY_TIMEOUT_S = 5.0
"""How long a console write waits for SQLite's write lock before the page says the database is busy.

Storage's 10 s suits the worker, which nobody watches; a person at the console waited 10-14 s for a
traceback.  The worker's own write transactions held the lock 0.6 s at most over three passes of a
20,000-mention demo store (mostly under 1 ms), so 5 s is still ample for a lock that will be released,
and a lock that is not (a stuck process) is said in words after 5 s.
"""


@dataclass(frozen=True)
class Store:
    """An engine with its session factory; services open one transaction per unit of work."""

    url: str
    engine: Engine
    sessions: sessionmaker[Session]

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Commit on success, roll back on any exception."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries only; it never commits."""
        with self.sessions() as session:
            yield session

    def describe(self) -> str:
        """The URL without its password."""
        return redact(self.url)

    def dispose(self) -> None:
        """Close pooled connections (tests, forked workers)."""
        self.engine.dispose()


def open_store(url: str | None = None, *, upgrade: bool = False, busy_timeout_s: float | None = None) -> Store:
    """Open the store at ``url`` (env and config resolved), migrating it first when asked.

    ``busy_timeout_s`` shortens (or lengthens) how long a SQLite write waits for the lock; other databases
    ignore it.
    """
    resolved = resolve_url(url)
    if upgrade:
        migrate.upgrade(resolved)
    engine = make_engine(resolved)
    if busy_timeout_s is not None and engine.dialect.name == "sqlite":
        milliseconds = int(busy_timeout_s * 1000)

        def _busy_timeout(dbapi_connection: Any, _record: Any) -> None:  # after storage's pragmas: this one wins
            dbapi_connection.execute(f"PRAGMA busy_timeout={milliseconds}")

        event.listen(engine, "connect", _busy_timeout)
    return Store(resolved, engine, session_factory(engine))
