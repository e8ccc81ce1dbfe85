"""Dashboard aggregates for 90 days: rollups + SQL GROUP BYs (ours) vs pandas over every row (baseline).

    mentiondesk generate --mentions 1000000 --database-url URL     # once
    python bench/dashboard.py --database-url URL [--database-url URL2] --mentions 1000000

The store's rollups must be built (the worker keeps them; ``console.services.dashboard.rollup.rebuild``
builds them at once).  For each store it computes the whole ``dashboard_bundle`` for the 90 days up to the newest
mention (best of ``--repeat`` warm runs, plus the cold first run), then the naive baseline
that loads every mention of the range (and the previous period) into pandas and
aggregates there.  Prints ``RESULT dashboard_ms_<db> <ms>`` and the baseline beside it,
with the Python peak memory (tracemalloc, numpy included) of each.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402
from sqlalchemy import delete, func, select  # noqa: E402

from bench._common import machine, result  # noqa: E402
from console.services.dashboard.reads import DashboardFilters, dashboard_bundle  # noqa: E402
from console.services.dashboard.rollup import plan  # noqa: E402
from console.services.permissions import Actor  # noqa: E402
from console.services.store import Store, open_store  # noqa: E402
from storage.models import Author, Brand, Classification, Mention, RollupState, User  # noqa: E402

DAYS = 90
ACTOR = Actor.system("bench")


def db_name(store: Store) -> str:
    return "postgresql" if store.engine.dialect.name == "postgresql" else "sqlite"


def filters_for(store: Store) -> DashboardFilters:
    with store.read() as session:
        newest = session.scalar(select(func.max(Mention.created_at)))
    if newest is None:
        raise SystemExit(
            f"{store.describe()} is empty: fill it with `mentiondesk generate --mentions N --database-url URL`"
        )
    end = newest.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return DashboardFilters(end - timedelta(days=DAYS), end, timezone="Europe/London", now=end)


def ours(store: Store, filters: DashboardFilters) -> None:
    with store.read() as session:
        dashboard_bundle(session, ACTOR, filters)


def ours_without_rollups(store: Store, filters: DashboardFilters) -> None:
    """The same SQL aggregates over the mentions table alone (the rollups forgotten in this read only)."""
    with store.read() as session:
        session.execute(delete(RollupState))
        dashboard_bundle(session, ACTOR, filters)


def naive(store: Store, filters: DashboardFilters) -> None:
    """Every mention of both periods into pandas, then the same figures computed there."""
    query = (
        select(
            Mention.created_at,
            Mention.sentiment,
            Mention.urgency,
            Mention.platform,
            Mention.status,
            Mention.first_response_at,
            Mention.resolved_at,
            Mention.fetched_at,
            Mention.first_response_due_at,
            Mention.is_brand_post,
            Brand.name.label("brand"),
            Author.handle,
            Author.followers,
            User.username.label("agent"),
            Classification.topics,
        )
        .outerjoin(Brand, Brand.id == Mention.brand_id)
        .outerjoin(Author, Author.id == Mention.author_id)
        .outerjoin(User, User.id == Mention.assignee_id)
        .outerjoin(Classification, (Classification.mention_id == Mention.id) & Classification.is_current.is_(True))
        .where(Mention.created_at >= filters.previous_start, Mention.created_at < filters.end)
    )
    with store.read() as session:
        df = pd.DataFrame(session.execute(query).all(), columns=list(query.selected_columns.keys()))
    df = df[~df["is_brand_post"]]
    df["created_at"] = pd.to_datetime(df["created_at"], utc=True)
    cur = df[df["created_at"] >= pd.Timestamp(filters.start)]
    cur.groupby([cur["created_at"].dt.tz_convert(filters.timezone).dt.normalize(), "sentiment"]).size()
    df.groupby([df["created_at"] >= pd.Timestamp(filters.start), "sentiment", "urgency"]).size()
    df.groupby([df["created_at"] >= pd.Timestamp(filters.start), "brand"]).size()
    df.explode("topics").groupby([df["created_at"] >= pd.Timestamp(filters.start), "topics"]).size()
    cur.groupby("handle")["followers"].agg(["size", "max"]).nlargest(10, "max")
    response = (pd.to_datetime(cur["first_response_at"], utc=True) - cur["created_at"]).dt.total_seconds()
    for key in ("brand", "platform", "agent", "urgency"):
        response.groupby(cur[key]).quantile([0.5, 0.9])
    hit = pd.to_datetime(cur["first_response_at"], utc=True) <= pd.to_datetime(cur["first_response_due_at"], utc=True)
    hit.groupby(cur["created_at"].dt.tz_convert(filters.timezone).dt.normalize()).mean()
    (pd.to_datetime(cur["resolved_at"], utc=True) - cur["created_at"]).dt.total_seconds().quantile([0.5, 0.9])
    (pd.to_datetime(cur["fetched_at"], utc=True) - cur["created_at"]).dt.total_seconds().quantile([0.5, 0.9])
    with store.read() as session:  # backlog: every open mention, aged in pandas
        backlog = pd.DataFrame(
            session.execute(
                select(Mention.created_at, Mention.urgency).where(Mention.status.in_(["new", "open", "pending"]))
            ).all(),
            columns=["created_at", "urgency"],
        )
    pd.cut(
        (pd.Timestamp(filters.clock()) - pd.to_datetime(backlog["created_at"], utc=True)).dt.total_seconds(),
        [0, 3600, 14400, 86400, 259200, 604800, float("inf")],
    ).value_counts()
    cur.groupby("agent").size()


def measure(fn, store: Store, filters: DashboardFilters, repeat: int) -> tuple[float, float, float]:
    """(cold ms, best warm ms, peak MB)."""
    tracemalloc.start()
    t = time.perf_counter()
    fn(store, filters)
    cold = (time.perf_counter() - t) * 1000
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    warm = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn(store, filters)
        warm.append((time.perf_counter() - t) * 1000)
    return cold, min(warm), peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", action="append", required=True, help="A store filled by `mentiondesk generate`."
    )
    parser.add_argument("--mentions", type=int, default=None, help="Mentions the store should hold (checked).")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--without-rollups", action="store_true", help="Also time the SQL path with no rollups.")
    args = parser.parse_args()
    print(f"# {machine()}")
    for url in args.database_url:
        store = open_store(url)
        with store.read() as session:
            held = session.scalar(select(func.count()).select_from(Mention)) or 0
        if args.mentions and held < args.mentions:
            raise SystemExit(f"{store.describe()} holds {held:,} mentions, fewer than --mentions {args.mentions:,}")
        filters = filters_for(store)
        name = db_name(store)
        print(f"# {name}: {held:,} mentions in store, {DAYS} days to {filters.end.isoformat()}")
        with store.read() as session:
            the_plan = plan(session, filters.clock())
        if not the_plan.built:
            print("# no rollups: run `mentiondesk worker` (or console.services.dashboard.rollup.rebuild) first")
        raw_days = sorted(d.date().isoformat() for d in the_plan.raw_days)
        print(f"# rollups built: {the_plan.built}; days read raw: {raw_days}")
        print(f"# load average before: {os.getloadavg()}")
        cold, warm, peak = measure(ours, store, filters, args.repeat)
        result(f"dashboard_ms_{name}", warm, "ms")
        result(f"dashboard_cold_ms_{name}", cold, "ms")
        result(f"dashboard_peak_mb_{name}", peak, "MB")
        if args.without_rollups:
            cold, warm, peak = measure(ours_without_rollups, store, filters, 1)
            result(f"dashboard_without_rollups_ms_{name}", warm, "ms")
        if not args.no_baseline:
            cold, warm, peak = measure(naive, store, filters, 1)
            result(f"dashboard_baseline_ms_{name}", warm, "ms")
            result(f"dashboard_baseline_peak_mb_{name}", peak, "MB")
        print(f"# load average after: {os.getloadavg()}")
        store.dispose()


if __name__ == "__main__":
    main()
