"""Parts read in turns: every item once and in part order, errors at their part's turn, memory bounded, stoppable."""

from __future__ import annotations

import threading
import time

import pytest

from console.services.export_turns import in_turns


def _read(worker, part):
    for k in range(part[1]):
        yield (worker, part[0], k)


def test_items_come_in_part_order_and_each_part_from_its_worker():
    parts = [(i, i % 4) for i in range(11)]  # some parts are empty
    items = list(in_turns(parts, ["a", "b"], _read))
    assert [(p, k) for _, p, k in items] == [(i, k) for i, n in parts for k in range(n)]
    assert all(worker == ("a", "b")[p % 2] for worker, p, _ in items)


@pytest.mark.parametrize("workers", [["a"], ["a", "b", "c"]])
def test_any_number_of_workers_and_fewer_parts_than_workers(workers):
    parts = [(0, 2), (1, 1)]
    assert [(p, k) for _, p, k in in_turns(parts, workers, _read)] == [(0, 0), (0, 1), (1, 0)]
    assert list(in_turns([], workers, _read)) == []


def test_a_workers_error_is_raised_at_its_parts_turn():
    def read(worker, part):
        if part == 3:
            raise RuntimeError("connection lost")
        yield part

    seen = []
    with pytest.raises(RuntimeError, match="connection lost"):
        for item in in_turns(list(range(6)), ["a", "b"], read):
            seen.append(item)
    assert seen == [0, 1, 2]  # everything before the failed part, nothing after it


def test_a_worker_holds_at_most_one_finished_part_ahead():
    started: list[int] = []

    def read(worker, part):
        started.append(part)
        yield part

    items = in_turns(list(range(20)), ["a", "b"], read)
    assert next(items) == 0
    time.sleep(0.3)  # the consumer is slow: the workers fill what they may and wait
    assert max(started) <= 4  # part 0 taken; at most parts 1..4 read (one waiting, one read, per worker)
    assert list(items) == list(range(1, 20))


def test_closing_early_stops_the_workers():
    produced: list[int] = []

    def read(worker, part):
        for k in range(3 if part == 0 else 10**9):  # part 1 never ends
            produced.append(k)
            yield k
            time.sleep(0.001)

    items = in_turns([0, 1], ["a", "b"], read)
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()  # returns once every worker has stopped
    assert not [t for t in threading.enumerate() if t.name.startswith("export-turn")]
    count = len(produced)
    time.sleep(0.05)
    assert len(produced) == count
