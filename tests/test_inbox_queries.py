"""The inbox's queries can use the open-queue partial index, and capped counts behave."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from console.services.inbox import COUNT_CAP, InboxFilters, _queue_query, count_by_status, count_queue, format_count
from console.services.permissions import Actor
from console.services.store import Store
from storage.enums import Role
from storage.ingest import ingest_batch
from storage.queue_index import NAME
from tests.factories import make_batch

AGENT = Actor(1, "jamie", Role.AGENT)
FILTERS = {
    "default": InboxFilters(),
    "brand": InboxFilters(brand_ids=[1]),
    "urgent_negative": InboxFilters(sentiments=["negative"], urgencies=["critical", "high"]),
    "x_replyable": InboxFilters(platforms=["x"], replyable=True),
}


def _sql(store: Store, filters: InboxFilters) -> str:
    query = _queue_query(filters).limit(50)
    return str(query.compile(store.engine, compile_kwargs={"literal_binds": True}))


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_queue_queries_can_use_the_open_queue_index(store: Store, name: str) -> None:
    with store.transaction() as s:
        ingest_batch(s, make_batch(30))
    sql = _sql(store, FILTERS[name])
    with store.read() as s:
        if store.engine.dialect.name == "sqlite":
            # INDEXED BY fails with "no query solution" unless the WHERE visibly implies the index's WHERE.
            forced = re.sub(r"\bFROM mentions\b", f"FROM mentions INDEXED BY {NAME}", sql)
            s.execute(text(forced)).all()
        else:
            for knob in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
                s.execute(text(f"SET LOCAL {knob} = off"))
            plan = "\n".join(r[0] for r in s.execute(text("EXPLAIN " + sql)))
            assert NAME in plan, plan


def test_counts_stop_at_the_cap(sqlite_store: Store) -> None:
    with sqlite_store.transaction() as s:
        ingest_batch(s, make_batch(25))
    with sqlite_store.read() as s:
        assert count_queue(s, AGENT, InboxFilters()) == 25
        assert count_queue(s, AGENT, InboxFilters(), cap=10) == 11
        assert count_by_status(s, AGENT, InboxFilters(), cap=10)["new"] == 11
    assert format_count(11, cap=10) == "10+"
    assert format_count(COUNT_CAP) == f"{COUNT_CAP:,}"
