"""Many small parts of an export read in turns on a few connections, handed on in order, with bounded memory.

A big export split into two halves on two connections runs both at once, but the half that is not
being written must be held somewhere (a spool file) and written after the first: at the end one core
writes half the file while the other idles.  Cut into many small parts instead, read by the workers in
turns (part ``i`` by worker ``i % workers``), each worker holds at most the part it reads and one
finished part waiting for its turn; the parts are yielded in order as the writer gets to them, and
the last part alone is written after the reading ends.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any, TypeVar

P = TypeVar("P")
W = TypeVar("W")
T = TypeVar("T")


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def in_turns(parts: Sequence[P], workers: Sequence[W], read: Callable[[W, P], Iterator[T]]) -> Generator[T, None, None]:
    """The items of ``read(worker, part)`` for every part, in part order; part ``i`` is read by worker ``i % n``.

    Each worker reads its parts one after the other in its own thread, a whole part at a time, and waits
    while a finished part of its own is still waiting to be taken.  A worker's error is raised here, at
    its part's turn.  Closing the generator early stops every worker at its next item.
    """
    count = len(workers)
    if not parts:
        return
    waiting: list[queue.Queue[Any]] = [queue.Queue(maxsize=1) for _ in workers]
    stop = threading.Event()

    def put(box: queue.Queue[Any], item: Any) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work(w: int) -> None:
        try:
            for i in range(w, len(parts), count):
                items = []
                source = read(workers[w], parts[i])
                try:
                    for item in source:
                        if stop.is_set():
                            return
                        items.append(item)
                finally:
                    close = getattr(source, "close", None)
                    if close is not None:
                        close()
                if not put(waiting[w], items):
                    return
        except BaseException as exc:  # noqa: BLE001 - raised in the consuming thread at this part's turn
            put(waiting[w], _Failed(exc))

    threads = [threading.Thread(target=work, args=(w,), name=f"export-turn-{w}", daemon=True) for w in range(count)]
    for thread in threads:
        thread.start()
    try:
        for i in range(len(parts)):
            items = waiting[i % count].get()
            if isinstance(items, _Failed):
                raise items.error
            while items:
                yield items.pop(0)  # handed on, not kept: the part's memory goes as it is written
    finally:
        stop.set()
        for thread in threads:
            thread.join()
