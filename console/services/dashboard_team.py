"""Team aggregates: SLA compliance, response-time distributions, backlog by age, per-agent workload.

Response times here are the mention-level ones stored on each row (created -> first reply
sent, created -> resolved, created -> fetched), in wall-clock seconds.  Compliance judges
the stored ``sla_due_at``, which the SLA service computed in the brand's business hours.
A running first response already past its due time counts as a miss, as in
:func:`console.services.sla_reports.summarize`, so an ignored backlog never looks compliant.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from console.services.dashboard_filters import DashboardFilters, in_range, period_frame, scope
from console.services.sla_reports import NO_AGENT
from console.services.sql_time import (
    is_postgres,
    percentiles_by_dimension,
    percentiles_by_group,
    seconds_between,
    utc_hour,
)
from storage.enums import OPEN_STATUSES
from storage.models import Brand, Mention, Reply, User

SLA_DIMENSIONS = ("brand", "platform", "agent", "urgency")
RESPONSE_BUCKETS = ((15 * 60, "< 15 min"), (3600, "15-60 min"), (4 * 3600, "1-4 h"), (24 * 3600, "4-24 h"))
SLOWEST_BUCKET = "> 24 h"
BACKLOG_AGES = (
    (timedelta(hours=1), "< 1 h"),
    (timedelta(hours=4), "1-4 h"),
    (timedelta(hours=24), "4-24 h"),
    (timedelta(days=3), "1-3 d"),
    (timedelta(days=7), "3-7 d"),
)
OLDEST_AGE = "> 7 d"
_OPEN = [s.value for s in OPEN_STATUSES]


_DIMENSIONS: dict[str, Any] = {
    "brand": Mention.brand_id,
    "platform": Mention.platform,
    "agent": Mention.assignee_id,
    "urgency": Mention.urgency,
}
_MISSING = {"brand": "(no brand)", "platform": "(none)", "agent": NO_AGENT, "urgency": "unclassified"}


def _sla_counts(filters: DashboardFilters) -> tuple[ColumnElement[int], ColumnElement[int]]:
    """``(hit, judged)`` sums over first-response targets at the dashboard's "now"."""
    due, answered = Mention.sla_due_at, Mention.first_response_at
    hit = and_(due.is_not(None), answered.is_not(None), answered <= due)
    missed = and_(due.is_not(None), or_(answered > due, and_(answered.is_(None), due < filters.clock())))
    return func.sum(case((hit, 1), else_=0)), func.sum(case((or_(hit, missed), 1), else_=0))


def _labels(session: Session) -> dict[str, dict[Any, str]]:
    """Brand and agent names by id (small tables), so the big queries group on the ids alone."""
    return {
        "brand": dict(session.execute(select(Brand.id, Brand.name)).tuples().all()),
        "agent": dict(session.execute(select(User.id, User.username)).tuples().all()),
    }


def _label(labels: dict[str, dict[Any, str]], dimension: str, key: Any) -> str:
    if key is None:
        return _MISSING[dimension]
    return labels.get(dimension, {}).get(key, str(key))


def sla_breakdown(session: Session, filters: DashboardFilters) -> pd.DataFrame:
    """First response median/p90 and share within SLA, overall and by brand, platform, agent, urgency.

    Two scans: one cube of counts by all four dimensions (rolled up here), and the
    percentiles per dimension (one ``GROUPING SETS`` scan on PostgreSQL).
    """
    first_response = seconds_between(session, Mention.created_at, Mention.first_response_at)
    where = [*scope(filters), *in_range(filters)]
    hit, judged = _sla_counts(filters)
    columns = list(_DIMENSIONS.values())
    cube = pd.DataFrame(
        [
            tuple(r)
            for r in session.execute(select(*columns, func.count(), hit, judged).where(*where).group_by(*columns))
        ],
        columns=[*_DIMENSIONS, "mentions", "hit", "judged"],
    )
    times = percentiles_by_dimension(session, first_response, _DIMENSIONS, where)
    labels = _labels(session)
    rows = []
    for name in ("all", *SLA_DIMENSIONS):
        keys = cube.assign(all="all").groupby(name, dropna=False)[["mentions", "hit", "judged"]].sum()
        for key, (total, hits, n_judged) in keys.iterrows():
            raw = None if pd.isna(key) else key
            answered, (median, p90) = times.get((name, raw), (0, [None, None]))
            group = "all" if name == "all" else _label(labels, name, raw)
            rows.append(_sla_row(name, group, total, answered, median, p90, int(hits or 0), int(n_judged or 0)))
    return pd.DataFrame(rows, columns=_SLA_COLUMNS)


_SLA_COLUMNS = ["dimension", "group", "mentions", "answered", "median_first_response_s", "p90_first_response_s",
                "judged", "within_sla_pct"]  # fmt: skip


def _sla_row(
    dimension: str, key: Any, total: int, answered: int, median: Any, p90: Any, hits: int, judged: int
) -> dict[str, Any]:
    return {
        "dimension": dimension,
        "group": str(key),
        "mentions": int(total),
        "answered": int(answered),
        "median_first_response_s": median,
        "p90_first_response_s": p90,
        "judged": int(judged),
        "within_sla_pct": round(hits / judged * 100, 1) if judged else None,
    }


def time_summary(session: Session, filters: DashboardFilters) -> pd.DataFrame:
    """Median and p90 of first response, resolution and ingestion lag over the range (one scan on PostgreSQL)."""
    where = [*scope(filters), *in_range(filters)]
    spans = {
        "first_response": Mention.first_response_at,
        "resolution": Mention.resolved_at,
        "ingestion_lag": Mention.fetched_at,
    }
    values = {metric: seconds_between(session, Mention.created_at, end) for metric, end in spans.items()}
    figures: dict[str, tuple[int, list[Any]]] = {}
    if is_postgres(session):
        aggs = [
            agg
            for v in values.values()
            for agg in (
                func.count(v),
                func.percentile_cont(0.5).within_group(v),
                func.percentile_cont(0.9).within_group(v),
            )
        ]
        row = session.execute(select(*aggs).where(*where)).one()
        figures = {m: (int(row[3 * i]), [row[3 * i + 1], row[3 * i + 2]]) for i, m in enumerate(values)}
    else:
        for metric, value in values.items():
            figures[metric] = percentiles_by_group(session, value, None, where).get("all", (0, [None, None]))
    rows = []
    for metric, (count, (median, p90)) in figures.items():
        median, p90 = (None, None) if not count else (float(median), float(p90))
        rows.append({"metric": metric, "count": count, "median_s": median, "p90_s": p90})
    return pd.DataFrame(rows)


def response_histogram(session: Session, filters: DashboardFilters) -> pd.DataFrame:
    """Answered mentions per first-response-time bucket and urgency."""
    value = seconds_between(session, Mention.created_at, Mention.first_response_at)
    bucket = case(
        *[(value < limit, literal(label)) for limit, label in RESPONSE_BUCKETS], else_=literal(SLOWEST_BUCKET)
    )
    urgency = func.coalesce(Mention.urgency, "unclassified")
    query = (
        select(bucket, urgency, func.count())
        .where(*scope(filters), *in_range(filters), Mention.first_response_at.is_not(None))
        .group_by(bucket, urgency)
    )
    frame = pd.DataFrame([tuple(r) for r in session.execute(query)], columns=["bucket", "urgency", "answered"])
    order = {label: i for i, (_, label) in enumerate(RESPONSE_BUCKETS)} | {SLOWEST_BUCKET: len(RESPONSE_BUCKETS)}
    return frame.sort_values(
        ["bucket", "urgency"], key=lambda s: s.map(order) if s.name == "bucket" else s
    ).reset_index(drop=True)


def hourly_cube(session: Session, filters: DashboardFilters) -> pd.DataFrame:
    """One scan for both time series: mentions per UTC hour and sentiment, with SLA hits and judged."""
    hour = utc_hour(session, Mention.created_at)
    sentiment = func.coalesce(Mention.sentiment, "unclassified")
    hit, judged = _sla_counts(filters)
    query = (
        select(hour, sentiment, func.count(), hit, judged)
        .where(*scope(filters), *in_range(filters))
        .group_by(hour, sentiment)
    )
    return pd.DataFrame(
        [(h, s, int(n), int(a or 0), int(b or 0)) for h, s, n, a, b in session.execute(query)],
        columns=["hour", "sentiment", "mentions", "hit", "judged"],
    )


def sla_by_period(session: Session, filters: DashboardFilters, cube: pd.DataFrame | None = None) -> pd.DataFrame:
    """Share within SLA per local day (or hour), by the period the mention arrived in."""
    cube = hourly_cube(session, filters) if cube is None else cube
    rows = [tuple(r) for r in cube[["hour", "hit", "judged"]].itertuples(index=False)]
    frame = period_frame(rows, ["hit", "judged"], filters)
    if frame.empty:
        return pd.DataFrame(columns=["period", "hit", "judged", "within_sla_pct"])
    frame["within_sla_pct"] = (frame["hit"] / frame["judged"].where(frame["judged"] > 0) * 100).round(1)
    return frame


def backlog(session: Session, filters: DashboardFilters) -> pd.DataFrame:
    """Open mentions now (whatever the date range), by age bucket and urgency."""
    now = filters.clock()
    age = case(
        *[(Mention.created_at > now - limit, literal(label)) for limit, label in BACKLOG_AGES],
        else_=literal(OLDEST_AGE),
    )
    urgency = func.coalesce(Mention.urgency, "unclassified")
    query = select(age, urgency, func.count()).where(*scope(filters), Mention.status.in_(_OPEN)).group_by(age, urgency)
    frame = pd.DataFrame([tuple(r) for r in session.execute(query)], columns=["age", "urgency", "open"])
    order = {label: i for i, (_, label) in enumerate(BACKLOG_AGES)} | {OLDEST_AGE: len(BACKLOG_AGES)}
    return frame.sort_values(["age", "urgency"], key=lambda s: s.map(order) if s.name == "age" else s).reset_index(
        drop=True
    )


def agent_workload(session: Session, filters: DashboardFilters, sla: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per agent: mentions handled and resolved in the range, open now, replies sent, response times."""
    handled = _agent_counts(session, filters)
    sent = _replies_sent(session, filters)
    open_now = _open_now(session, filters)
    frame = handled.merge(open_now, on="agent", how="outer").merge(sent, on="agent", how="outer")
    count_columns = ["handled", "resolved", "open_now", "replies_sent"]
    frame[count_columns] = frame[count_columns].fillna(0).astype(int)
    if sla is not None and not sla.empty:
        times = sla[sla["dimension"] == "agent"].rename(columns={"group": "agent"})
        columns = ["agent", "median_first_response_s", "p90_first_response_s", "within_sla_pct"]
        frame = frame.merge(times[columns], on="agent", how="left")
    return frame.sort_values(["open_now", "handled"], ascending=False).reset_index(drop=True)


def _agent_counts(session: Session, filters: DashboardFilters) -> pd.DataFrame:
    resolved = func.sum(case((Mention.resolved_at.is_not(None), 1), else_=0))
    query = (
        select(User.username, func.count(), resolved)
        .select_from(Mention)
        .join(User, User.id == Mention.assignee_id)
        .where(*scope(filters), *in_range(filters))
        .group_by(User.username)
    )
    return pd.DataFrame([tuple(r) for r in session.execute(query)], columns=["agent", "handled", "resolved"])


def _open_now(session: Session, filters: DashboardFilters) -> pd.DataFrame:
    query = (
        select(User.username, func.count())
        .select_from(Mention)
        .join(User, User.id == Mention.assignee_id)
        .where(*scope(filters), Mention.status.in_(_OPEN))
        .group_by(User.username)
    )
    return pd.DataFrame([tuple(r) for r in session.execute(query)], columns=["agent", "open_now"])


def _replies_sent(session: Session, filters: DashboardFilters) -> pd.DataFrame:
    query = (
        select(User.username, func.count())
        .select_from(Reply)
        .join(User, User.id == Reply.user_id)
        .join(Mention, Mention.id == Reply.mention_id)
        .where(*scope(filters), Reply.sent_at >= filters.start, Reply.sent_at < filters.end)
        .group_by(User.username)
    )
    return pd.DataFrame([tuple(r) for r in session.execute(query)], columns=["agent", "replies_sent"])


def seconds_label(seconds: float | None) -> str:
    """A response time for a table cell: ``4 min``, ``2.5 h``."""
    if seconds is None or pd.isna(seconds):
        return "—"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 172_800 else f"{seconds / 86400:.1f} d"


def as_of(filters: DashboardFilters) -> datetime:
    """The instant backlog ages and overdue targets were judged at."""
    return filters.clock()
