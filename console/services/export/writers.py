"""One writer per file format, each taking the export's typed batches a chunk at a time."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from console.services.export.cells import csv_lines, iso_utc, spreadsheet_cells
from console.services.export.read import arrow_schema
from console.services.mention_query import Column

XLSX_MAX_ROWS = 1_048_576
"""Excel's sheet limit, header included; longer exports continue on a new sheet."""
DICTIONARY_COLUMNS = frozenset(
    ("platform", "brand", "brand_id", "source_id", "language", "replyable_reason", "status", "assignee")
    + ("assignee_id", "sentiment", "urgency", "priority", "model_name", "model_version", "model_sentiment")
    + ("model_urgency", "model_priority", "topics", "model_language")
)
"""Parquet dictionary-encodes only these few-valued columns: dictionaries for every column (pyarrow's default)
made writing slower and the file bigger, as ids, texts and times rarely repeat."""
UNSTATED_COLUMNS = frozenset(
    ("external_id", "url", "author_handle", "author_name", "text", "conversation_id", "in_reply_to_external_id")
    + ("raw_json",)
)
"""Free text: no min/max statistics in Parquet (whole values, never used to skip a row group)."""


class Writer(Protocol):
    """Writes chunks of an export to one file."""

    def write(self, chunk: pa.Table) -> None:
        """Append the chunk's rows."""

    def close(self) -> None:
        """Finish the file."""


class CsvWriter:
    """UTF-8 CSV with a header (see :mod:`console.services.export.cells`)."""

    def __init__(self, path: Path, columns: Sequence[Column], _compression: str) -> None:
        self.columns = columns
        self.file = path.open("wb")
        self.file.write((",".join(c.name for c in columns) + "\r\n").encode())  # plain names: nothing to quote

    def write(self, chunk: pa.Table) -> None:
        """Append the chunk's lines."""
        for batch in chunk.to_batches():
            self.file.write(csv_lines(batch, self.columns))

    def close(self) -> None:
        """Close the file."""
        self.file.close()


class XlsxWriter:
    """openpyxl in write-only mode: rows go to disk as they come, one sheet per million rows."""

    def __init__(self, path: Path, columns: Sequence[Column], _compression: str) -> None:
        self.path, self.columns = path, columns
        self.book = Workbook(write_only=True)
        self.sheet: Any = None
        self.rows_in_sheet = XLSX_MAX_ROWS

    def write(self, chunk: pa.Table) -> None:
        """Append the chunk's rows, starting a new sheet at Excel's row limit."""
        for batch in chunk.to_batches():
            cells = [c.to_pylist() for c in spreadsheet_cells(batch, self.columns, text_booleans=False)]
            for row in zip(*cells, strict=True):
                if self.rows_in_sheet >= XLSX_MAX_ROWS:
                    self._next_sheet()
                self.sheet.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in row])
                self.rows_in_sheet += 1

    def _next_sheet(self) -> None:
        number = len(self.book.worksheets) + 1
        self.sheet = self.book.create_sheet("mentions" if number == 1 else f"mentions {number}")
        self.sheet.append([c.name for c in self.columns])
        self.rows_in_sheet = 1

    def close(self) -> None:
        """Save the workbook (an empty export still gets its header row)."""
        if self.sheet is None:
            self._next_sheet()
        self.book.save(self.path)


class JsonlWriter:
    """One JSON object per line: native types, times as ISO 8601 UTC strings, the raw payload as an object."""

    def __init__(self, path: Path, columns: Sequence[Column], _compression: str) -> None:
        self.columns = columns
        self.file = path.open("w", encoding="utf-8")

    def write(self, chunk: pa.Table) -> None:
        """Append the chunk's lines."""
        names = [c.name for c in self.columns]
        for batch in chunk.to_batches():
            values = [
                self._values(array, column.kind) for array, column in zip(batch.columns, self.columns, strict=True)
            ]
            self.file.writelines(
                json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False) + "\n"
                for row in zip(*values, strict=True)
            )

    @staticmethod
    def _values(array: pa.Array, kind: str) -> list[Any]:
        if kind == "time":
            return iso_utc(array).to_pylist()  # type: ignore[no-any-return]
        if kind == "json":
            return [None if v is None else json.loads(v) for v in array.to_pylist()]
        return array.to_pylist()  # type: ignore[no-any-return]

    def close(self) -> None:
        """Close the file."""
        self.file.close()


class ParquetWriter:
    """Typed columns, one row group per chunk, dictionaries and statistics only where they pay."""

    def __init__(self, path: Path, columns: Sequence[Column], compression: str) -> None:
        schema = arrow_schema(columns)
        self.out = pq.ParquetWriter(
            path,
            schema,
            compression=compression,
            use_dictionary=[n for n in schema.names if n in DICTIONARY_COLUMNS],
            write_statistics=[n for n in schema.names if n not in UNSTATED_COLUMNS],
        )

    def write(self, chunk: pa.Table) -> None:
        """Append the chunk as one row group."""
        self.out.write_table(chunk, row_group_size=chunk.num_rows)

    def close(self) -> None:
        """Write the footer."""
        self.out.close()


WRITERS: dict[str, Callable[[Path, Sequence[Column], str], Writer]] = {
    "csv": CsvWriter,
    "xlsx": XlsxWriter,
    "parquet": ParquetWriter,
    "jsonl": JsonlWriter,
}
