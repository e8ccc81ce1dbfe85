"""Export cells as a spreadsheet shows them, rendered column by column in Arrow: no Python object per cell.

Mention text is written by strangers, so CSV and Excel cells that a spreadsheet would run as a formula
(starting with ``=``, ``+``, ``-``, ``@``, tab or CR) get a leading single quote, as OWASP advises.  Spreadsheets
trim what comes before the sign, so a trigger behind leading whitespace of any kind (spaces, NBSP and the other
Unicode spaces, LF, CR, control characters, a BOM or zero-width characters) counts too.  Times
are ISO 8601 in UTC (``2026-11-02T09:00:00Z``, microseconds only when there are some), topics are joined
with ``"; "``.  CSV lines are those of Python's ``csv`` module with its ``excel`` dialect: minimal quoting,
inner quotes doubled, CRLF, and an empty field for a missing value.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from console.services.mention_query import Column

FORMULA_PATTERN = r"^(?:[\t\r]|[\p{Z}\p{Cc}\p{Cf}]*[=+\-@])"
"""The one rule, for every export (RE2, as Arrow runs it): a tab or CR first, or a sign after any run of
separators (``Z``: spaces, NBSP, line and paragraph separators), controls (``Cc``: tab, LF, CR…) and format
characters (``Cf``: BOM, zero-width and bidi marks).  Anchored, so plain text fails at its first character."""
_SIGNS = frozenset("=+-@")
_SKIPPED = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})
"""The Unicode categories of :data:`FORMULA_PATTERN`'s ``[\\p{Z}\\p{Cc}\\p{Cf}]``."""
LIST_SEPARATOR = "; "
_QUOTED_CHARACTERS = np.frombuffer(b'",\r\n', dtype=np.uint8)


def neutralise(value: str) -> str:
    """Prefix a single quote to text a spreadsheet would read as a formula: :data:`FORMULA_PATTERN`, per cell.

    The same rule in Python (an Arrow call per cell is far slower); a test holds the two to the same answers.
    """
    if value.startswith(("\t", "\r")):
        return "'" + value
    for character in value:
        if character in _SIGNS:
            return "'" + value
        if unicodedata.category(character) not in _SKIPPED:
            return value
    return value


def neutralised(text: pa.Array) -> pa.Array:
    """:func:`neutralise` over a string array."""
    risky = pc.fill_null(pc.match_substring_regex(text, FORMULA_PATTERN), False)
    return _changed(text, risky, lambda few: pc.binary_join_element_wise("'", few, ""))


def iso_utc(times: pa.Array) -> pa.Array:
    """UTC timestamps as ``2026-11-02T09:00:00Z``, or ``...09:00:00.000120Z`` (as ``datetime.isoformat``).

    Cast to text as naive UTC and patched in C++: Arrow's cast or ``strftime`` of the aware one is far slower
    (see docs/benchmarks.md, "Issue 13").
    """
    text = pc.cast(pc.cast(times, pa.timestamp("us")), pa.string())  # 2026-11-02 09:00:00.000000
    text = pc.replace_substring(pc.utf8_replace_slice(text, 10, 11, "T"), ".000000", "")
    return pc.binary_join_element_wise(text, "Z", "")


def spreadsheet_cells(batch: pa.RecordBatch, columns: Sequence[Column], *, text_booleans: bool) -> list[pa.Array]:
    """Each column of an export batch as CSV and Excel cells: text neutralised, times ISO, topics joined.

    Numbers stay numbers; booleans too unless ``text_booleans`` (CSV's ``true``/``false``).
    """
    cells = []
    for array, column in zip(batch.columns, columns, strict=True):
        if column.kind == "time":
            cells.append(iso_utc(array))
        elif column.kind == "list":
            cells.append(neutralised(pc.binary_join(array, LIST_SEPARATOR)))
        elif column.kind in ("str", "json"):
            cells.append(neutralised(array))
        elif column.kind == "bool" and text_booleans:
            cells.append(pc.if_else(array, "true", "false"))
        else:
            cells.append(array)
    return cells


def csv_lines(batch: pa.RecordBatch, columns: Sequence[Column]) -> memoryview:
    """The batch as CSV lines, ready to write."""
    cells = [
        _quoted(cell) if pa.types.is_string(cell.type) else cell.cast(pa.string())
        for cell in spreadsheet_cells(batch, columns, text_booleans=True)
    ]
    lines = pc.binary_join_element_wise(*cells, ",", null_handling="replace")
    lines = pc.binary_join_element_wise(lines, "\r\n", "")
    if not len(lines):
        return memoryview(b"")
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    return memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]]


def _quoted(text: pa.Array) -> pa.Array:
    """Quoted, inner quotes doubled, where the text holds a comma, a quote or a line break.

    Most columns hold none: a look at the column's character buffer settles it without a regex per cell.
    """
    data = text.buffers()[2]
    if data is None or not np.isin(np.frombuffer(data, dtype=np.uint8), _QUOTED_CHARACTERS).any():
        return text
    needs = pc.fill_null(pc.match_substring_regex(text, '[",\r\n]'), False)
    return _changed(
        text, needs, lambda few: pc.binary_join_element_wise('"', pc.replace_substring(few, '"', '""'), '"', "")
    )


def _changed(text: pa.Array, where: pa.Array, change: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """``text`` with ``change`` applied only where ``where`` holds (usually few cells or none)."""
    if not pc.any(where).as_py():
        return text
    return pc.replace_with_mask(text, where, change(text.filter(where)))
