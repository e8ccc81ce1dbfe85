"""CSV lines rendered in Arrow from a batch of export cells: no Python object per cell.

The lines are those Python's ``csv`` module writes with its ``excel`` dialect (minimal quoting,
inner quotes doubled, CRLF), with the cells of :class:`console.services.export.CsvWriter`: times
ISO 8601 ``...Z`` (microseconds only when there are some), booleans ``true``/``false``, topics joined
with ``"; "``, text with a formula's first character neutralised; NULL as an empty field.  A batch
may hold SQLite's stored forms (times as text, booleans as 0/1, topics joined by a unit separator) or
the export's Arrow types (timestamps, booleans, lists), as the ADBC drivers give them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from console.services.export_columns import LIST_SEPARATOR, UNIT_SEPARATOR
from console.services.mention_query import Column

FORMULA_PATTERN = r"^[=+\-@\t\r]"
NEEDS_QUOTES = r'[",\r\n]'
NEEDS_QUOTES_BYTES = b'",\r\n'
FORMULA_FIRST = pa.array(["=", "+", "-", "@", "\t", "\r"])


def csv_lines(batch: pa.RecordBatch, columns: Sequence[Column]) -> memoryview:
    """The batch as CSV lines (see the module's description), ready to write."""
    cells = []
    for array, column in zip(batch.columns, columns, strict=True):
        kind = column.kind
        if kind == "time":
            cells.append(iso_utc(array) if pa.types.is_string(array.type) else iso_from_timestamps(array))
        elif kind == "bool":
            cells.append(pc.if_else(array.cast(pa.bool_()), "true", "false"))
        elif kind in ("str", "list"):
            if pa.types.is_list(array.type):
                text = pc.binary_join(array, LIST_SEPARATOR)
            else:
                text = array.cast(pa.string())
                if kind == "list":
                    text = pc.replace_substring(text, UNIT_SEPARATOR, LIST_SEPARATOR)
            cells.append(quoted(neutralised(text)))
        else:
            cells.append(array.cast(pa.string()))
    lines = pc.binary_join_element_wise(*cells, ",", null_handling="replace")
    return joined_bytes(pc.binary_join_element_wise(lines, "\r\n", ""))


def neutralised(text: pa.Array) -> pa.Array:
    """``'`` before text a spreadsheet would run as a formula (as :func:`console.services.export.neutralise`)."""
    first = pc.utf8_slice_codeunits(text, 0, 1)
    risky = pc.fill_null(pc.is_in(first, value_set=FORMULA_FIRST), False)
    return _changed(text, risky, lambda few: pc.binary_join_element_wise("'", few, ""))


def quoted(text: pa.Array) -> pa.Array:
    """Quoted, inner quotes doubled, where the text holds a comma, a quote or a line break (``QUOTE_MINIMAL``).

    Most columns never hold one: a look at the column's whole character buffer settles it without a regex.
    """
    if not _may_hold(text, NEEDS_QUOTES_BYTES):
        return text
    needs = pc.fill_null(pc.match_substring_regex(text, NEEDS_QUOTES), False)
    return _changed(text, needs, lambda few: pc.binary_join_element_wise('"', _doubled(few), '"', ""))


def _may_hold(text: pa.Array, characters: bytes) -> bool:
    """Whether any of the ASCII ``characters`` occurs in the array's character buffer (a slice's neighbours too)."""
    data = text.buffers()[2]
    if data is None:
        return False
    chars = np.frombuffer(data, dtype=np.uint8)
    return bool(np.isin(chars, np.frombuffer(characters, dtype=np.uint8)).any())


def _changed(text: pa.Array, where: pa.Array, change: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """``text`` with ``change`` applied where ``where`` holds: to those values only (usually few or none).

    Changing every value and choosing with ``if_else`` cost ~3x as much over a million mentions' columns.
    """
    if not pc.any(where).as_py():
        return text
    return pc.replace_with_mask(text, where, change(text.filter(where)))


def iso_utc(stored: pa.Array) -> pa.Array:
    """SQLite's ``YYYY-MM-DD HH:MM:SS[.ffffff]`` UTC text as ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` (no zero fraction)."""
    iso = pc.replace_substring(pc.utf8_replace_slice(stored, 10, 11, "T"), ".000000", "")
    return pc.binary_join_element_wise(iso, "Z", "")


def iso_from_timestamps(times: pa.Array) -> pa.Array:
    """UTC timestamps as ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``, as :func:`console.services.export.iso_utc` writes them.

    Formatting each value (Arrow's ``strftime`` or cast, numpy's ``datetime_as_string``) cost 0.3-1.1 s per
    column per million rows.  Here a value is split into its day, second of the day and microsecond, and each
    piece's text is taken from a small table (the export's few hundred distinct days, formatted once; every
    second of a day; every three digits), then the pieces are joined, all in Arrow.
    """
    valid = times.drop_null()
    if len(valid) == 0:
        return pa.nulls(len(times), pa.string())
    micros = valid.cast(pa.int64()).to_numpy(zero_copy_only=False)
    days, in_day = np.divmod(micros, 86_400_000_000)
    seconds, fraction = np.divmod(in_day, 1_000_000)
    first_day, last_day = int(days.min()), int(days.max())
    if last_day - first_day > MAX_DAYS_TABLE:  # a very long span: format the days themselves
        day_text = pa.array(np.datetime_as_string(days.astype("datetime64[D]")), pa.string())
    else:
        span = np.arange(first_day, last_day + 1).astype("datetime64[D]")
        day_text = pa.array(np.datetime_as_string(span), pa.string()).take(pa.array(days - first_day))
    text = pc.binary_join_element_wise(day_text, _seconds_table().take(pa.array(seconds)), "T")
    if fraction.any():
        high, low = np.divmod(fraction, 1000)
        digits = _three_digits()
        dotted = pc.binary_join_element_wise(".", digits.take(pa.array(high)), digits.take(pa.array(low)), "")
        text = pc.replace_with_mask(
            text,
            pa.array(fraction != 0),
            pc.binary_join_element_wise(
                text.filter(pa.array(fraction != 0)), dotted.filter(pa.array(fraction != 0)), ""
            ),
        )
    text = pc.binary_join_element_wise(text, "Z", "")
    if times.null_count == 0:
        return text
    return pc.replace_with_mask(pa.nulls(len(times), pa.string()), pc.is_valid(times), text)


MAX_DAYS_TABLE = 100_000


@cache
def _seconds_table() -> pa.Array:
    """``HH:MM:SS`` for each of a day's 86,400 seconds."""
    return pa.array([f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)], pa.string())


@cache
def _three_digits() -> pa.Array:
    return pa.array([f"{n:03d}" for n in range(1000)], pa.string())


def joined_bytes(lines: pa.Array) -> memoryview:
    """The string array's characters end to end (its values are whole lines, none NULL)."""
    offsets = lines.buffers()[1]
    start, end = (
        int.from_bytes(offsets[(lines.offset + i) * 4 : (lines.offset + i + 1) * 4], "little", signed=True)
        for i in (0, len(lines))
    )
    return memoryview(lines.buffers()[2])[start:end]


def _doubled(text: pa.Array) -> pa.Array:
    return pc.replace_substring(text, '"', '""')
