"""The manager dashboards' data: every aggregate for one range, computed in SQL in one read.

``dashboard_bundle`` is what the page renders and what ``bench/dashboard.py`` times.
Tables come back as small pandas frames (one row per period or group, never per mention)
so the page can chart them, show them as tables and offer them as CSV unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from console.services.dashboard_filters import DashboardFilters
from console.services.dashboard_reputation import (
    URGENCIES,
    change_table,
    headline,
    mix_by_period,
    net_sentiment_trend,
    share_of_voice,
    top_authors,
    topic_counts,
    volume_by_sentiment,
)
from console.services.dashboard_team import (
    agent_workload,
    backlog,
    hourly_cube,
    response_histogram,
    sla_breakdown,
    sla_by_period,
    time_summary,
)
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


def dashboard_bundle(session: Session, filters: DashboardFilters) -> DashboardData:
    """Compute every dashboard aggregate for ``filters`` (about a dozen grouped queries)."""
    if filters.now is None:  # pin one "now" so backlog and overdue agree with each other
        filters = DashboardFilters(**{f.name: getattr(filters, f.name) for f in fields(filters)} | {
            "now": filters.clock()
        })  # fmt: skip
    if is_postgres(session):
        # JIT compiles for ~0.4 s whenever the planner's row guesses run high (jsonb unnesting does):
        # far longer than these grouped scans take.  LOCAL: only for this read's transaction.
        session.execute(text("SET LOCAL jit = off"))
    cube = hourly_cube(session, filters)
    volume = volume_by_sentiment(session, filters, cube)
    mix = mix_by_period(session, filters)
    sla = sla_breakdown(session, filters)
    return DashboardData(
        filters=filters,
        computed_at=filters.clock(),
        headline=headline(mix),
        volume=volume,
        net_sentiment=net_sentiment_trend(volume),
        urgency_mix=change_table(mix, "urgency", (*URGENCIES, "unclassified")),
        sentiment_mix=change_table(mix, "sentiment", ("negative", "neutral", "positive", "unclassified")),
        share_of_voice=share_of_voice(session, filters),
        top_topics=topic_counts(session, filters),
        top_authors=top_authors(session, filters),
        sla=sla,
        times=time_summary(session, filters),
        response_histogram=response_histogram(session, filters),
        sla_trend=sla_by_period(session, filters, cube),
        backlog=backlog(session, filters),
        agents=agent_workload(session, filters, sla),
    )


def frames_of(data: DashboardData) -> dict[str, pd.DataFrame]:
    """Every table of the bundle by name, for CSV downloads and tests."""
    return {f.name: getattr(data, f.name) for f in fields(data) if isinstance(getattr(data, f.name), pd.DataFrame)}
