"""Export columns rendered by the database, so a million-row export makes no Python object per cell.

Two renderings of :data:`console.services.mention_query.COLUMNS`:

* :func:`csv_columns`: every cell already as its CSV text (times ISO 8601 ``...Z``, booleans
  ``true``/``false``, topics joined with ``"; "``, text neutralised against formula injection),
  for ``csv.writer`` to write as it comes;
* :func:`arrow_columns`: cells in forms Arrow parses in C++ (times as UTC text, booleans as
  numbers, topics joined with a unit separator), turned into typed batches by
  :func:`arrow_batch_from`, or by PyArrow's CSV reader straight from PostgreSQL's ``COPY``.

The ``json`` kind (raw payloads, only on request) is not rendered here: callers use the
Python path for it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Integer,
    String,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session

from console.services.mention_query import Column, _Current
from console.services.sql_time import is_postgres

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
TRIGGER_CODES = tuple(ord(c) for c in FORMULA_TRIGGERS)
LIST_SEPARATOR = "; "
UNIT_SEPARATOR = "\x1f"
"""Joins topics for Arrow: a control character no topic name contains."""


def supported(columns: Sequence[Column]) -> bool:
    """Whether every column can be rendered in SQL (the raw payload cannot)."""
    return all(c.kind != "json" for c in columns)


def _neutralised(value: ColumnElement[Any], session: Session | None = None) -> ColumnElement[str]:
    """``'`` + the value when it starts with a formula trigger (PostgreSQL: ``ascii``, a third of ``substr``'s cost)."""
    if session is not None and is_postgres(session):
        return case((func.ascii(value).in_(TRIGGER_CODES), literal("'") + value), else_=value)
    first = func.substr(value, 1, 1)
    return case((first.in_(FORMULA_TRIGGERS), literal("'") + value), else_=value)


def _topics(session: Session, separator: str, *, neutralised: bool = False) -> ColumnElement[str]:
    """The current classification's topics joined in order; NULL without a classification, '' when none.

    PostgreSQL prints jsonb arrays canonically (``["a", "b"]``), and a topic name with a quote or a control
    character prints with a backslash; so without a backslash the names are the text between ``", "``
    separators, which string functions take apart far faster than ``jsonb_array_elements_text`` and an
    aggregate per row.  Anything else (and SQLite, whose stored text depends on the writer) takes the
    aggregate.  ``neutralised`` prefixes the formula quote, looking only at the first name's first character.
    """
    slow = _joined_topics(session, separator)
    if neutralised:
        slow = _neutralised(slow, session)
    if not is_postgres(session):
        return case((_Current.id.is_(None), None), else_=slow)
    printed = cast(_Current.topics, Text)
    names: ColumnElement[str] = func.replace(func.substr(printed, 3, func.length(printed) - 4), '", "', separator)
    if neutralised:
        first = func.ascii(func.substr(printed, 3, 1))
        names = case((first.in_(TRIGGER_CODES), literal("'")), else_=literal("")) + names
    return case(
        (_Current.id.is_(None), None),
        (and_(func.strpos(printed, "\\") == 0, printed.like('["%')), names),
        (printed == "[]", literal("")),
        else_=slow,
    )


def _joined_topics(session: Session, separator: str) -> ColumnElement[str]:
    if is_postgres(session):
        elements = func.jsonb_array_elements_text(_Current.topics).table_valued("value")
        joined = select(func.string_agg(elements.c.value, literal(separator))).scalar_subquery()
    else:
        elements = func.json_each(_Current.topics).table_valued("value")
        joined = select(func.group_concat(elements.c.value, separator)).scalar_subquery()
    return func.coalesce(joined, literal(""))


def _iso_utc(session: Session, value: Any) -> ColumnElement[str]:
    """``2026-11-02T09:00:00Z``, with ``.ffffff`` only when there are microseconds (as ``isoformat``)."""
    if is_postgres(session):
        # One to_char with microseconds, then drop a zero fraction as isoformat does: cheaper per row than
        # the text cast, which had to be repeated to pad its trimmed fraction.
        stamp = func.to_char(func.timezone("UTC", value), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        return func.replace(stamp, ".000000Z", "Z")
    stored = type_coerce(value, String)  # SQLAlchemy's text form: 'YYYY-MM-DD HH:MM:SS.ffffff'
    micro = func.substr(stored, 21, 6)
    fraction = case((micro.in_(["", "000000"]), literal("")), else_=literal(".") + micro)
    return func.substr(stored, 1, 10) + literal("T") + func.substr(stored, 12, 8) + fraction + literal("Z")


def _utc_text(session: Session, value: Any) -> ColumnElement[str]:
    """A UTC time as ``YYYY-MM-DD HH:MM:SS[.ffffff]`` text, which Arrow casts to a timestamp."""
    if is_postgres(session):
        return cast(func.timezone("UTC", value), String)
    return type_coerce(value, String)


def csv_columns(session: Session, columns: Sequence[Column]) -> list[ColumnElement[Any]]:
    """Each column as the exact text the CSV holds (numbers left as numbers)."""
    out: list[ColumnElement[Any]] = []
    for column in columns:
        source = column.source
        if column.kind == "time":
            out.append(_iso_utc(session, source))
        elif column.kind == "bool":
            out.append(case((source.is_(None), None), (source, literal("true")), else_=literal("false")))
        elif column.kind == "list":
            out.append(_topics(session, LIST_SEPARATOR, neutralised=True))
        elif column.kind == "str":
            out.append(_neutralised(type_coerce(source, String), session))
        else:
            out.append(source)
    return [c.label(f"c{i}") for i, c in enumerate(out)]


def arrow_columns(session: Session, columns: Sequence[Column]) -> list[ColumnElement[Any]]:
    """Each column in the form :func:`arrow_batch_from` (or Arrow's CSV reader) converts in C++."""
    out: list[ColumnElement[Any]] = []
    for column in columns:
        source = column.source
        if column.kind == "time":
            out.append(_utc_text(session, source))
        elif column.kind == "bool":
            out.append(type_coerce(source, Boolean) if is_postgres(session) else type_coerce(source, Integer))
        elif column.kind == "list":
            out.append(_topics(session, UNIT_SEPARATOR))
        elif column.kind == "str":
            out.append(type_coerce(source, String))
        else:
            out.append(source)
    return [c.label(f"c{i}") for i, c in enumerate(out)]


def csv_read_types(columns: Sequence[Column]) -> dict[str, pa.DataType]:
    """Types for Arrow's CSV reader over :func:`arrow_columns` (times and topics fixed up afterwards)."""
    kinds = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "str": pa.string()}
    return {c.name: kinds.get(c.kind, pa.string()) for c in columns}


def arrow_batch_from(rows: list[tuple[Any, ...]], columns: Sequence[Column], schema: pa.Schema) -> pa.RecordBatch:
    """Rows of :func:`arrow_columns` as a typed batch (one C++ conversion per column)."""
    cells = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    arrays = []
    for values, column, field in zip(cells, columns, schema, strict=True):
        if column.kind in ("time", "list"):
            arrays.append(finish(pa.array(values, type=pa.string()), column, field.type))
        elif column.kind == "bool":
            arrays.append(pa.array(values, type=pa.int64()).cast(pa.bool_()))
        else:
            arrays.append(pa.array(values, type=field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def finish(array: pa.Array, column: Column, target: pa.DataType) -> pa.Array:
    """A time or topics column read as text, converted to its export type."""
    if column.kind == "time":
        return pc.cast(pc.cast(array, pa.timestamp("us")), target)  # naive UTC text -> tz-aware UTC
    if column.kind == "list":
        return split_topics(array)
    return array.cast(target)


def split_topics(joined: pa.Array) -> pa.Array:
    """Unit-separated topics as ``list<string>``: NULL stays NULL and ``''`` is an empty list."""
    parts = pc.split_pattern(joined, UNIT_SEPARATOR)
    empty = pc.fill_null(pc.equal(joined, ""), False)
    lengths = pc.if_else(empty, 0, pc.list_value_length(parts))
    keep = pc.invert(pc.take(empty, pc.list_parent_indices(parts)))
    values = pc.filter(pc.list_flatten(parts), keep)
    offsets = np.concatenate([[0], np.cumsum(pc.fill_null(lengths, 0).to_numpy(zero_copy_only=False))])
    return pa.ListArray.from_arrays(
        pa.array(offsets, type=pa.int32()), values, type=pa.list_(pa.string()), mask=pc.is_null(joined)
    )


JSONB_SEPARATOR = '", "'
"""Between two names of a topic array as PostgreSQL prints jsonb."""
MINIFIED_SEPARATOR = '","'
"""Between two names of a topic array as SQLite's ``json()`` minifies it."""


def topics_from_jsonb(printed: pa.Array, separator: str = JSONB_SEPARATOR) -> pa.Array:
    """Printed JSON topic arrays (``["a", "b"]``) as ``list<string>``; NULL stays NULL.

    PostgreSQL prints a jsonb array canonically (SQLite's ``json()`` too, minified: ``separator`` tells which)
    and prints a quote, a backslash or a control character in a name with a backslash; so where there is no
    backslash the names are the text between separators, taken apart here in C++ (a unit separator, being a
    control character, cannot be in such a name).  Rows with a backslash (rare) are decoded by ``json.loads``.
    """
    inner = pc.utf8_slice_codeunits(printed, 2, -2)  # '["a", "b"]' -> 'a", "b'; '[]' -> ''
    lists = split_topics(pc.replace_substring(inner, separator, UNIT_SEPARATOR))
    canonical = pc.or_(pc.starts_with(printed, '["'), pc.equal(printed, "[]"))
    plain = pc.and_(canonical, pc.and_not(pc.invert(pc.match_substring(printed, "\\")), pc.equal(printed, '[""]')))
    slow = pc.and_not(pc.is_valid(printed), pc.fill_null(plain, True))  # '[""]' would read as no names
    if not pc.any(slow).as_py():
        return lists
    values = lists.to_pylist()
    for i in pc.indices_nonzero(slow).to_pylist():
        values[i] = json.loads(printed[i].as_py())
    return pa.array(values, type=pa.list_(pa.string()))
