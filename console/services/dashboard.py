"""The manager dashboards' data: every aggregate for one range, computed in SQL in one read.

``dashboard_bundle`` is what the page renders and what ``bench/dashboard.py`` times.
Tables come back as small pandas frames (one row per period or group, never per mention)
so the page can chart them, show them as tables and offer them as CSV unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from console.services.dashboard_filters import DashboardFilters, with_periods
from console.services.dashboard_reputation import (
    URGENCIES,
    change_table,
    headline,
    mix_by_period,
    net_sentiment_trend,
    share_of_voice,
    top_authors,
    topic_counts,
    voice_brand_ids,
    volume_by_sentiment,
)
from console.services.dashboard_sources import (
    daily_detail,
    hourly_series,
    open_now,
    period_counts,
    replies_sent,
    topic_periods,
)
from console.services.dashboard_team import (
    Durations,
    agent_workload,
    backlog,
    labels_of,
    response_histogram,
    sla_breakdown,
    sla_by_period,
    time_summary,
)
from console.services.rollup import Plan, plan
from console.services.sql_time import is_postgres

__all__ = ["DashboardData", "DashboardFilters", "dashboard_bundle", "frames_of"]


@dataclass(frozen=True)
class DashboardData:
    """Everything the dashboard shows for one set of filters.

    Attributes:
        filters: What was asked for.
        computed_at: When the figures were taken ("now" for backlog ages and overdue targets).
        headline: Mentions and net sentiment score, now and in the previous period.
        volume: ``period, sentiment, mentions`` in the team's zone.
        net_sentiment: ``period, positive, negative, classified, net_sentiment``.
        urgency_mix: Counts by urgency, with the change against the previous period.
        sentiment_mix: Counts by sentiment, with the change against the previous period.
        share_of_voice: Each brand's share among the chosen brands and their competitors.
        top_topics: Most frequent topics, with change.
        top_authors: Authors by reach.
        sla: First-response median, p90 and share within SLA, overall and per dimension.
        times: Median and p90 of first response, resolution and ingestion lag.
        response_histogram: Answered mentions per response-time bucket and urgency.
        sla_trend: Share within SLA per period.
        backlog: Open mentions by age and urgency, now.
        agents: Per-agent workload and response times.
    """

    filters: DashboardFilters
    computed_at: datetime
    headline: dict[str, float | int | None]
    volume: pd.DataFrame
    net_sentiment: pd.DataFrame
    urgency_mix: pd.DataFrame
    sentiment_mix: pd.DataFrame
    share_of_voice: pd.DataFrame
    top_topics: pd.DataFrame
    top_authors: pd.DataFrame
    sla: pd.DataFrame
    times: pd.DataFrame
    response_histogram: pd.DataFrame
    sla_trend: pd.DataFrame
    backlog: pd.DataFrame
    agents: pd.DataFrame


SETTINGS = (
    # JIT compiles for ~0.4 s whenever the planner's row guesses run high (jsonb unnesting does):
    # far longer than these grouped scans take.  LOCAL: only for this read's transaction.
    "SET LOCAL jit = off",
    # The reads are index lookups over a cached working set; the default 4.0 (spinning disks) made
    # PostgreSQL hash a million classifications to join a day's 5,000 mentions.
    "SET LOCAL random_page_cost = 1.1",
    # The daily detail groups ~40,000 rollup rows carrying packed durations (~10 MB for 90 days): with the
    # default 4 MB it sorted on disk (external merge, 92 of its 134 ms in EXPLAIN ANALYZE on 1M mentions).
    "SET LOCAL work_mem = '64MB'",
)


@dataclass(frozen=True)
class _Beside:
    """The reads run on the second connection: the time series, the period mix, topics, backlog, top authors."""

    hourly: pd.DataFrame
    counts: pd.DataFrame
    topics: pd.DataFrame
    open_frame: pd.DataFrame
    authors: pd.DataFrame


def _beside_reads(session: Session, filters: DashboardFilters, the_plan: Plan, voice: list[int] | None) -> _Beside:
    return _Beside(
        hourly=hourly_series(session, filters, the_plan),
        counts=period_counts(session, filters, the_plan, voice),
        topics=topic_periods(session, filters, the_plan),
        open_frame=open_now(session, filters, the_plan),
        authors=top_authors(session, filters),
    )


@contextmanager
def _second_session(session: Session) -> Iterator[Session | None]:
    """A read-only session for reads run beside ``session`` (see :func:`dashboard_bundle`); None when there is none.

    PostgreSQL runs one query per connection on one core, and SQLite steps one statement per connection
    (``sqlite3`` lets go of the GIL meanwhile): on two connections half the reads run while the other half and
    the pandas work on their results go on here.  On PostgreSQL the second imports the first's snapshot
    (``pg_export_snapshot``), so it sees the store as of the bundle's start.  A SQLite read outside a
    transaction sees the latest commit per statement, on either connection alike.  None for a session bound to
    one connection (a test's), an in-memory SQLite store, or a SQLite session with writes the second could not
    see: then everything runs in ``session``, in order.
    """
    engine = session.get_bind()
    if not isinstance(engine, Engine):
        yield None
    elif is_postgres(session):
        snapshot = session.scalar(text("SELECT pg_export_snapshot()"))
        with Session(engine) as other:
            connection = other.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            connection.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")  # noqa: S608 - the server's id
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")
            for setting in SETTINGS:
                connection.exec_driver_sql(setting)
            yield other
    elif _sqlite_file(session):
        with Session(engine) as other:
            yield other
    else:
        yield None


def _sqlite_file(session: Session) -> bool:
    database = session.get_bind().url.database or ""
    in_memory = not database or database == ":memory:" or database.startswith("file:") or "mode=memory" in database
    if in_memory or session.get_bind().url.get_backend_name() != "sqlite":
        return False
    return not getattr(session.connection().connection.driver_connection, "in_transaction", True)


def dashboard_bundle(session: Session, filters: DashboardFilters) -> DashboardData:
    """Compute every dashboard aggregate for ``filters``: about ten small grouped reads.

    Whole UTC days come from the rollups where they are up to date (see
    :mod:`console.services.rollup`), the rest from the mentions table: same figures, either way.
    Half the reads run on a second connection (on PostgreSQL, on the same snapshot: :func:`_second_session`).
    """
    if filters.now is None:  # pin one "now" so backlog and overdue agree with each other
        filters = DashboardFilters(**{f.name: getattr(filters, f.name) for f in fields(filters)} | {
            "now": filters.clock()
        })  # fmt: skip
    if is_postgres(session):
        for setting in SETTINGS:
            session.execute(text(setting))
    the_plan = plan(session, filters.clock())
    labels = labels_of(session)
    voice = voice_brand_ids(session, filters)
    with _second_session(session) as other, ThreadPoolExecutor(1, thread_name_prefix="dashboard") as pool:
        beside: Future[_Beside] | None = None
        if other is not None:
            beside = pool.submit(_beside_reads, other, filters, the_plan, voice)
        detail = daily_detail(session, filters, the_plan)
        durations = Durations(detail)
        sla = sla_breakdown(detail, durations, labels)
        replies = replies_sent(session, filters, the_plan)
        times = time_summary(durations)
        histogram = response_histogram(detail, durations)
        rest = beside.result() if beside is not None else _beside_reads(session, filters, the_plan, voice)
    hourly = with_periods(rest.hourly, filters)
    mix = mix_by_period(rest.counts, filters)
    volume = volume_by_sentiment(hourly, filters)
    return DashboardData(
        filters=filters,
        computed_at=filters.clock(),
        headline=headline(mix),
        volume=volume,
        net_sentiment=net_sentiment_trend(volume),
        urgency_mix=change_table(mix, "urgency", (*URGENCIES, "unclassified")),
        sentiment_mix=change_table(mix, "sentiment", ("negative", "neutral", "positive", "unclassified")),
        share_of_voice=share_of_voice(session, rest.counts),
        top_topics=topic_counts(rest.topics),
        top_authors=rest.authors,
        sla=sla,
        times=times,
        response_histogram=histogram,
        sla_trend=sla_by_period(hourly, filters),
        backlog=backlog(rest.open_frame),
        agents=agent_workload(detail, rest.open_frame, replies, sla, labels),
    )


def frames_of(data: DashboardData) -> dict[str, pd.DataFrame]:
    """Every table of the bundle by name, for CSV downloads and tests."""
    return {f.name: getattr(data, f.name) for f in fields(data) if isinstance(getattr(data, f.name), pd.DataFrame)}
