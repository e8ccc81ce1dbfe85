"""Planner statistics: after bulk loads, and now and then, so partial indexes get chosen."""

from __future__ import annotations

from sqlalchemy import Engine, text

ANALYZED_TABLES = ("mentions", "authors", "classifications", "replies")


def refresh_statistics(engine: Engine, *, full: bool = False) -> None:
    """SQLite: ``PRAGMA optimize`` (or a full ``ANALYZE``); PostgreSQL: ``ANALYZE`` the busy tables.

    SQLite picks the open-queue partial index only once it has statistics; without them it sorts the
    whole open queue for every page.
    """
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("ANALYZE" if full else "PRAGMA optimize"))
        else:
            conn.execute(text(f"ANALYZE {', '.join(ANALYZED_TABLES)}"))


def vacuum_analyze(engine: Engine) -> None:
    """After a bulk build: reclaim dead rows and refresh every table's statistics (outside a transaction)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))
