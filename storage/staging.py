"""Load rows into a per-connection TEMP table fast: executemany on SQLite, COPY on PostgreSQL.

Bulk upserts then run as one ``INSERT … SELECT … ON CONFLICT`` from the staging table, which
skips the ORM's per-row parameter processing (the dominant cost at bulk-load rates).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

# (name, portable type) — the type names below are valid on both backends.
Column = tuple[str, str]
_PG_TYPES = {"text": "text", "int": "bigint", "bool": "boolean", "time": "timestamptz", "json": "jsonb"}
_SQLITE_TYPES = {"text": "TEXT", "int": "INTEGER", "bool": "INTEGER", "time": "DATETIME", "json": "JSON"}


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_time(value: datetime | None) -> str | None:
    """SQLAlchemy's SQLite text form, ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC (hot path: one call per time cell)."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = _utc(value)
    return value.isoformat(" ", "microseconds")[:26]


def _json(value: Any) -> str:
    """Orjson, as every mention's raw payload is encoded on the ingest path; what it cannot encode becomes a string."""
    return orjson.dumps(value, default=str).decode()


def converters(dialect: str) -> dict[str, Callable[[Any], Any]]:
    """Per-type value converters matching what SQLAlchemy itself would store on ``dialect``."""
    if dialect == "sqlite":
        return {
            "time": _sqlite_time,
            "json": lambda v: None if v is None else _json(v),
            "bool": lambda v: None if v is None else int(bool(v)),
        }
    return {
        "time": lambda v: None if v is None else _utc(v),
        "json": lambda v: None if v is None else _json(v),
        "bool": lambda v: None if v is None else bool(v),
    }


def stage(session: Session, name: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]]) -> None:
    """Replace the content of TEMP table ``name`` with ``rows`` (already converted with :func:`converters`)."""
    conn = session.connection()
    dialect = conn.dialect.name
    col_names = ", ".join(c for c, _ in columns)
    if dialect == "sqlite":
        ddl = ", ".join(f"{c} {_SQLITE_TYPES[t]}" for c, t in columns)
        conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({ddl})")
        conn.exec_driver_sql(f"DELETE FROM {name}")
        marks = ", ".join("?" for _ in columns)
        data = list(rows)
        if data:
            conn.exec_driver_sql(f"INSERT INTO {name} ({col_names}) VALUES ({marks})", data)
        return
    if dialect != "postgresql":
        raise NotImplementedError(f"staging supports sqlite and postgresql, not {dialect}")
    ddl = ", ".join(f"{c} {_PG_TYPES[t]}" for c, t in columns)
    conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({ddl}) ON COMMIT DELETE ROWS")
    conn.exec_driver_sql(f"DELETE FROM {name}")
    raw = conn.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f"COPY {name} ({col_names}) FROM STDIN") as copy:  # type: ignore[union-attr]
        for row in rows:
            copy.write_row(row)
