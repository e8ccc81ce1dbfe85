"""The store a process works with: one engine, one session factory, migrations on demand."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from storage import migrate
from storage.db import make_engine, redact, resolve_url, session_factory


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


def open_store(url: str | None = None, *, upgrade: bool = False) -> Store:
    """Open the store at ``url`` (env and config resolved), migrating it first when asked."""
    resolved = resolve_url(url)
    if upgrade:
        migrate.upgrade(resolved)
    engine = make_engine(resolved)
    return Store(resolved, engine, session_factory(engine))
