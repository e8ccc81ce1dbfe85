"""SQLite exports: rows straight from the driver's cursor, read one chunk ahead in a second thread.

The export's cells are rendered by SQLite (see :mod:`console.services.export_columns`), so
every value is already a plain ``str``, ``int`` or ``float`` and SQLAlchemy's ``Row`` objects
add nothing but a Python call per row: the chunks here are the DBAPI cursor's own tuples.
``sqlite3`` releases the GIL while SQLite steps through the query, so a reader thread that
fetches the next chunk while this thread writes the current one keeps both cores busy.  It
is still one query on one connection, so the export reads one consistent snapshot.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from sqlalchemy.orm import Session

from console.services.mention_query import Column, MentionFilters, base_query

T = TypeVar("T")
AHEAD = 2
"""Chunks the reader may hold ready: memory stays a few chunks whatever the export's size."""
_DONE = object()


class _Failed:
    """The reader's exception, on its way to the consuming thread."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


@contextmanager
def without_mmap(session: Session) -> Iterator[None]:
    """Read through SQLite's page cache, not a memory map, for the export; the connection's setting comes back after.

    An export reads the whole database once; mapped pages stay resident and count as the process's
    memory (a 1M-mention store: +230 MB peak at 200,000 rows), while the bounded page cache does as well.
    """
    connection = session.connection()
    before = connection.exec_driver_sql("PRAGMA mmap_size").scalar()
    connection.exec_driver_sql("PRAGMA mmap_size=0")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA mmap_size={int(before or 0)}")


def raw_chunks(
    session: Session, filters: MentionFilters, rendered: Sequence[Column], chunk_rows: int
) -> Generator[list[tuple[Any, ...]], None, None]:
    """The export query's rows as the driver's tuples, ``chunk_rows`` at a time, oldest first."""
    result = session.connection().execute(base_query(rendered, filters))
    try:
        cursor = result.cursor
        while rows := cursor.fetchmany(chunk_rows):
            yield cast(list[tuple[Any, ...]], rows)  # sqlite3 returns a list of tuples
    finally:
        result.close()


def read_ahead(make: Callable[[], Iterator[T]], ahead: int = AHEAD) -> Generator[T, None, None]:
    """Items of ``make()`` produced in a thread, in order, at most ``ahead`` waiting; its error re-raised here.

    Closing the generator early stops the reader at its next item (it is never left blocked).
    """
    items: queue.Queue[Any] = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        source = make()
        try:
            for item in source:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consuming thread
            put(_Failed(exc))
        finally:
            close = getattr(source, "close", None)
            if close:
                close()

    thread = threading.Thread(target=produce, name="export-reader", daemon=True)
    thread.start()
    try:
        while (item := items.get()) is not _DONE:
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()
