"""Inbox query latency: the first page of the default queue and three common filters.

    python bench/inbox.py --database-url URL [--runs 40]

Run it on a store built by ``mentiondesk generate --mentions 1000000``.  Each query is the console's
own (``console.services.inbox.list_queue`` + ``count_queue``); the baseline runs the same SQL with
the mention indexes switched off (``NOT INDEXED`` on SQLite, planner index scans off on PostgreSQL),
in the same process.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench._common import machine, result  # noqa: E402
from console.services.inbox import InboxFilters, _queue_query, count_by_status, count_queue, list_queue  # noqa: E402
from console.services.permissions import Actor  # noqa: E402
from console.services.store import open_store  # noqa: E402
from storage.models import Brand, Mention  # noqa: E402

ACTOR = Actor.system("bench")
"""The services check a role; the bench reads as the operator (an admin), as the command line does."""


def scenarios(session: Session) -> dict[str, InboxFilters]:
    """The default queue and three filters agents use all day."""
    brand_id = session.scalar(select(Brand.id).where(Brand.is_competitor.is_(False)).order_by(Brand.id))
    return {
        "default": InboxFilters(),
        "brand": InboxFilters(brand_ids=[brand_id] if brand_id else []),
        "urgent_negative": InboxFilters(sentiments=["negative"], urgencies=["critical", "high"]),
        "x_replyable": InboxFilters(platforms=["x"], replyable=True),
    }


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[-1]


def measure(fn: Callable[[], object], runs: int) -> list[float]:
    for _ in range(2):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def unindexed_sql(session: Session, filters: InboxFilters) -> str:
    """The page query as literal SQL, with the mentions table's indexes disabled on SQLite."""
    query = _queue_query(filters).limit(filters.page_size)
    sql = str(query.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
    if session.get_bind().dialect.name == "sqlite":
        sql = re.sub(r"\bFROM mentions\b", "FROM mentions NOT INDEXED", sql)
    return sql


def baseline(session: Session, filters: InboxFilters) -> Callable[[], object]:
    sql = text(unindexed_sql(session, filters))
    pg = session.get_bind().dialect.name == "postgresql"

    def run() -> object:
        if pg:
            for knob in ("enable_indexscan", "enable_bitmapscan", "enable_indexonlyscan"):
                session.execute(text(f"SET LOCAL {knob} = off"))
        rows = session.execute(sql).all()
        session.rollback()
        return rows

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--baseline-runs", type=int, default=5)
    args = parser.parse_args()
    store = open_store(args.database_url)
    db = "postgres" if store.engine.dialect.name == "postgresql" else "sqlite"
    ours_all: list[float] = []
    with store.read() as session:
        total = session.scalar(select(func.count()).select_from(Mention)) or 0
        print(f"# {machine()} · {db} · {total:,} mentions", flush=True)
        for name, filters in scenarios(session).items():

            def page(f: InboxFilters = filters) -> object:
                return list_queue(session, ACTOR, f), count_queue(session, ACTOR, f)

            ours = measure(page, args.runs)
            base = measure(baseline(session, filters), args.baseline_runs)
            ours_all += ours
            result(f"inbox_p95_ms_{db}_{name}", p95(ours), "ms")
            result(f"inbox_baseline_p95_ms_{db}_{name}", p95(base), "ms")
        counters = measure(lambda: count_by_status(session, ACTOR, InboxFilters()), args.runs)
        result(f"inbox_status_counters_p95_ms_{db}", p95(counters), "ms")
    result(f"inbox_p95_ms_{db}", p95(ours_all), "ms")
    store.dispose()


if __name__ == "__main__":
    main()
