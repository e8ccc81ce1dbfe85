"""Portable SQL expressions for time buckets, durations and percentiles (SQLite and PostgreSQL).

Aggregates run in the database; Python only labels and rolls up the few grouped rows.
Buckets are UTC hours in SQL and become the team's local hours or days in Python, so
days come out right across DST changes on both backends (SQLite knows no time zones).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, Integer, Select, cast, func, literal, or_, select, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import KeyedColumnElement

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


def percentiles_by_group(
    session: Session,
    value: ColumnElement[Any],
    group: ColumnElement[Any] | None,
    where: Sequence[Any],
    qs: Sequence[float] = (50, 90),
    from_: Any = None,
) -> dict[Any, tuple[int, list[float]]]:
    """``{group: (count, [percentile per q])}`` with linear interpolation, computed in SQL.

    ``group=None`` gives one row keyed ``"all"``.

    PostgreSQL uses ``percentile_cont``.  SQLite has no ordered-set aggregates, so a window
    query ranks each group's values and returns only the two rows around each wanted rank;
    Python interpolates between those two values.  Both match
    numpy's linear percentile.
    """
    if is_postgres(session):
        return _pg_percentiles(session, value, group, where, qs, from_)
    return _window_percentiles(session, value, group, where, qs, from_)


def _base(columns: list[Any], from_: Any) -> Select[Any]:
    query = select(*columns)
    return query.select_from(from_) if from_ is not None else query


def _pg_percentiles(
    session: Session, value: Any, group: Any | None, where: Sequence[Any], qs: Sequence[float], from_: Any
) -> dict[Any, tuple[int, list[float]]]:
    aggs = [func.percentile_cont(q / 100).within_group(value) for q in qs]
    key = group if group is not None else literal("all")
    query = _base([key.label("g"), func.count(value), *aggs], from_).where(*where, value.is_not(None))
    if group is not None:
        query = query.group_by(group)
    return {row[0]: (row[1], [float(v) for v in row[2:]]) for row in session.execute(query) if row[1]}


def _window_percentiles(
    session: Session, value: Any, group: Any | None, where: Sequence[Any], qs: Sequence[float], from_: Any
) -> dict[Any, tuple[int, list[float]]]:
    key = group if group is not None else literal("all")
    ranked = (
        _base(
            [
                key.label("g"),
                value.label("v"),
                (func.row_number().over(partition_by=group, order_by=value) - 1).label("r"),
                func.count().over(partition_by=group).label("n"),
            ],
            from_,
        )
        .where(*where, value.is_not(None))
        .subquery()
    )
    g: KeyedColumnElement[Any] = ranked.c.g
    r, n = ranked.c.r, ranked.c.n
    wanted = []
    for q in qs:
        low = cast((n - 1) * (q / 100.0), Integer)  # truncation is floor: ranks are never negative
        wanted.append(or_(r == low, r == low + 1))
    rows = session.execute(select(g, ranked.c.v, r, n).where(or_(*wanted)))
    picked: dict[Any, dict[int, float]] = {}
    counts: dict[Any, int] = {}
    for key, v, rank_no, count in rows:
        picked.setdefault(key, {})[rank_no] = float(v)
        counts[key] = count
    return {key: (counts[key], [_interpolate(picked[key], counts[key], q) for q in qs]) for key in picked}


def _interpolate(values: dict[int, float], count: int, q: float) -> float:
    rank = (count - 1) * (q / 100.0)  # the same float arithmetic as the SQL side
    low, high = math.floor(rank), math.ceil(rank)
    return values[low] + (values[high] - values[low]) * (rank - low)


def percentiles_by_dimension(
    session: Session,
    value: ColumnElement[Any],
    dimensions: dict[str, ColumnElement[Any]],
    where: Sequence[Any],
    qs: Sequence[float] = (50, 90),
) -> dict[tuple[str, Any], tuple[int, list[float]]]:
    """Percentiles overall (``("all", "all")``) and by each dimension on its own, keyed ``(dimension, group)``.

    PostgreSQL does it in one scan with ``GROUPING SETS``; SQLite runs one window query per dimension.
    """
    if not is_postgres(session):
        overall = percentiles_by_group(session, value, None, where, qs).get("all")
        out = {("all", "all"): overall} if overall else {}
        for name, column in dimensions.items():
            out |= {(name, k): v for k, v in percentiles_by_group(session, value, column, where, qs).items()}
        return out
    columns = list(dimensions.values())
    names = list(dimensions)
    mask = func.grouping(*columns)
    aggs = [func.percentile_cont(q / 100).within_group(value) for q in qs]
    sets = func.grouping_sets(*[tuple_(c) for c in columns], tuple_())
    query = select(mask, *columns, func.count(value), *aggs).where(*where, value.is_not(None)).group_by(sets)
    full = (1 << len(columns)) - 1
    out = {}
    for row in session.execute(query):
        bits, keys, n, figures = row[0], row[1 : 1 + len(columns)], row[1 + len(columns)], row[2 + len(columns) :]
        if not n:
            continue
        grouped = [i for i in range(len(columns)) if not bits & (1 << (len(columns) - 1 - i))]
        key = ("all", "all") if bits == full else (names[grouped[0]], keys[grouped[0]])
        out[key] = (int(n), [float(v) for v in figures])
    return out
