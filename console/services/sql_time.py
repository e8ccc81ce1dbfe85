"""Portable SQL expressions for time buckets and durations (SQLite and PostgreSQL).

Aggregates run in the database; Python only labels and rolls up the few grouped rows.
Buckets are UTC hours in SQL and become the team's local hours or days in Python, so
days come out right across DST changes on both backends (SQLite knows no time zones).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, cast, func
from sqlalchemy.orm import Session

HOUR_FORMAT = "%Y-%m-%d %H:00:00"


def is_postgres(session: Session) -> bool:
    """Whether the session talks to PostgreSQL (else SQLite)."""
    return session.get_bind().dialect.name == "postgresql"


def utc_hour(session: Session, column: Any) -> ColumnElement[Any]:
    """The UTC hour a timestamp falls in, as a value :func:`parse_hour` understands."""
    if is_postgres(session):
        return func.date_trunc("hour", func.timezone("UTC", column))
    return func.strftime(HOUR_FORMAT, column)


def parse_hour(value: Any) -> datetime:
    """A bucket value from :func:`utc_hour` as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def seconds_between(session: Session, start: Any, end: Any) -> ColumnElement[float]:
    """``end - start`` in seconds, as a float expression."""
    if is_postgres(session):
        return cast(func.extract("epoch", end - start), Float)
    # julianday carries ~1e-5 s of float noise; milliseconds keep 3600 s from reading 3599.99999.
    return func.round((func.julianday(end) - func.julianday(start)) * 86400.0, 3)
