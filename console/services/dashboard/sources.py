"""The dashboard's reads: rollup rows for the trusted whole days, the mentions table for the rest.

Each function runs one ``UNION ALL`` of a rollup part and a raw part (see
:func:`console.services.dashboard.rollup.split`) and returns a small frame already grouped by
dimension, so the dashboard's figures come out the same whether the rollups exist or not.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, Select, case, func, literal, select, union_all
from sqlalchemy.orm import Session

from console.services.dashboard.filters import DashboardFilters, scope
from console.services.dashboard.rollup import (
    DAILY_DIMENSIONS,
    DURATIONS,
    OPEN,
    Plan,
    bucket,
    daily_measures,
    floor,
    hourly_measures,
    in_windows,
    joined_bytes,
    merge_windows,
    split,
    topic_source,
)
from storage.models import (
    Mention,
    MentionRollupDaily,
    MentionRollupHourly,
    Reply,
    ReplyRollupDaily,
    TopicRollupDaily,
)

UNCLASSIFIED = "unclassified"
DAILY_COUNTS = ("mentions", "sla_hit", "sla_late", "sla_overdue", "answered", "resolved", "open_now")
BACKLOG_AGES = (
    (timedelta(hours=1), "< 1 h"),
    (timedelta(hours=4), "1-4 h"),
    (timedelta(hours=24), "4-24 h"),
    (timedelta(days=3), "1-3 d"),
    (timedelta(days=7), "3-7 d"),
)
OLDEST_AGE = "> 7 d"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
END_OF_TIME = datetime(9999, 1, 1, tzinfo=UTC)


def _narrow(model: Any, filters: DashboardFilters, brand_ids: list[int] | None = None) -> list[Any]:
    """The brand and platform filters on a rollup table."""
    clauses = []
    brands = list(filters.brand_ids) if brand_ids is None else brand_ids
    if brands:
        clauses.append(model.brand_id.in_(brands))
    if filters.platforms:
        clauses.append(model.platform.in_(list(filters.platforms)))
    return clauses


def _raw_scope(filters: DashboardFilters, brand_ids: list[int] | None = None) -> list[Any]:
    clauses = scope(filters, brands=brand_ids is None)
    if brand_ids:
        clauses.append(Mention.brand_id.in_(brand_ids))
    return clauses


def _run(session: Session, parts: list[Select[Any]], columns: list[str]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=columns)
    query = parts[0] if len(parts) == 1 else union_all(*parts)
    return pd.DataFrame([tuple(r) for r in session.execute(query)], columns=columns)


def daily_detail(session: Session, filters: DashboardFilters, the_plan: Plan) -> pd.DataFrame:
    """The current range by brand, platform, agent, sentiment and urgency: counts and duration lists."""
    rolled, raw = split(filters.start, filters.end, "day", the_plan)
    parts: list[Select[Any]] = []
    if rolled:
        r = MentionRollupDaily
        dims = [getattr(r, d) for d in DAILY_DIMENSIONS]
        sums = [func.sum(getattr(r, c)) for c in DAILY_COUNTS]
        lists = [joined_bytes(session, getattr(r, c)) for c in DURATIONS]
        where = [in_windows(r.day, rolled), *_narrow(r, filters)]
        parts.append(select(*dims, *sums, *lists, literal(True)).where(*where).group_by(*dims))
    if raw:
        dims = [getattr(Mention, d) for d in DAILY_DIMENSIONS]
        where = [*scope(filters), in_windows(Mention.created_at, raw)]
        measures = daily_measures(session, filters.clock())
        parts.append(select(*dims, *measures, literal(False)).where(*where).group_by(*dims))
    columns = [*DAILY_DIMENSIONS, *DAILY_COUNTS, *DURATIONS, "packed"]
    # Separate reads, not a UNION: packed bytes and comma-separated text do not unite on PostgreSQL.
    frame = pd.concat([_run(session, [part], columns) for part in parts] or [_run(session, [], columns)])
    frame["packed"] = frame["packed"].astype(bool)
    frame[["brand_id", "assignee_id"]] = frame[["brand_id", "assignee_id"]].astype("Int64")  # same order either way
    frame[list(DAILY_COUNTS)] = frame[list(DAILY_COUNTS)].fillna(0).astype("int64")
    for column in ("sentiment", "urgency"):
        frame[column] = frame[column].fillna(UNCLASSIFIED)
    return frame


def _periods(filters: DashboardFilters) -> list[tuple[str, datetime, datetime]]:
    """The range, and the earlier period as far into it as the range has run (none before the range starts)."""
    current = ("current", filters.start, filters.end)
    if filters.previous_end <= filters.previous_start:
        return [current]
    return [("previous", filters.previous_start, filters.previous_end), current]


def period_counts(
    session: Session, filters: DashboardFilters, the_plan: Plan, brand_ids: list[int] | None
) -> pd.DataFrame:
    """``period, brand_id, sentiment, urgency, mentions`` now and in the previous period.

    ``brand_ids`` replaces the filter's brands (share of voice adds the competitors); ``None`` keeps them.
    """
    parts: list[Select[Any]] = []
    for label, lo, hi in _periods(filters):
        rolled, raw = split(lo, hi, "day", the_plan)
        if rolled:
            r = MentionRollupDaily
            dims = [r.brand_id, r.sentiment, r.urgency]
            where = [in_windows(r.day, rolled), *_narrow(r, filters, brand_ids)]
            parts.append(select(literal(label), *dims, func.sum(r.mentions)).where(*where).group_by(*dims))
        if raw:
            dims = [Mention.brand_id, Mention.sentiment, Mention.urgency]
            where = [*_raw_scope(filters, brand_ids), in_windows(Mention.created_at, raw)]
            parts.append(select(literal(label), *dims, func.count()).where(*where).group_by(*dims))
    frame = _run(session, parts, ["period", "brand_id", "sentiment", "urgency", "mentions"])
    for column in ("sentiment", "urgency"):
        frame[column] = frame[column].fillna(UNCLASSIFIED)
    frame["mentions"] = frame["mentions"].astype("int64")
    return frame


def hourly_series(session: Session, filters: DashboardFilters, the_plan: Plan) -> pd.DataFrame:
    """``hour, sentiment, mentions, hit, judged`` per UTC hour of the current range."""
    rolled, raw = split(filters.start, filters.end, "hour", the_plan)
    parts: list[Select[Any]] = []
    if rolled:
        r = MentionRollupHourly
        sentiment = func.coalesce(r.sentiment, UNCLASSIFIED)
        judged = func.sum(r.sla_hit + r.sla_late + r.sla_overdue)
        where = [in_windows(r.hour, rolled), *_narrow(r, filters)]
        parts.append(
            select(r.hour, sentiment, func.sum(r.mentions), func.sum(r.sla_hit), judged)
            .where(*where)
            .group_by(r.hour, sentiment)
        )
    if raw:
        hour = bucket(session, Mention.created_at, "hour")
        sentiment = func.coalesce(Mention.sentiment, UNCLASSIFIED)
        count, hit, late, overdue = hourly_measures(filters.clock())
        where = [*scope(filters), in_windows(Mention.created_at, raw)]
        parts.append(select(hour, sentiment, count, hit, late + overdue + hit).where(*where).group_by(hour, sentiment))
    frame = _run(session, parts, ["hour", "sentiment", "mentions", "hit", "judged"])
    for column in ("mentions", "hit", "judged"):
        frame[column] = frame[column].fillna(0).astype("int64")
    return frame


def topic_periods(session: Session, filters: DashboardFilters, the_plan: Plan) -> pd.DataFrame:
    """``topic, period, mentions`` over both periods."""
    parts: list[Select[Any]] = []
    for label, lo, hi in _periods(filters):
        rolled, raw = split(lo, hi, "day", the_plan)
        if rolled:
            t = TopicRollupDaily
            where = [in_windows(t.day, rolled), *_narrow(t, filters)]
            parts.append(select(t.topic, literal(label), func.sum(t.mentions)).where(*where).group_by(t.topic))
        if raw:
            topic, joined = topic_source(session)
            where = [*scope(filters), in_windows(Mention.created_at, raw)]
            parts.append(select(topic, literal(label), func.count()).select_from(joined).where(*where).group_by(topic))
    frame = _run(session, parts, ["topic", "period", "mentions"])
    frame["mentions"] = frame["mentions"].astype("int64")
    return frame.groupby(["topic", "period"], as_index=False)["mentions"].sum()


def _age(now: datetime) -> ColumnElement[str]:
    return case(
        *[(Mention.created_at > now - limit, literal(label)) for limit, label in BACKLOG_AGES],
        else_=literal(OLDEST_AGE),
    )


def open_now(session: Session, filters: DashboardFilters, the_plan: Plan) -> pd.DataFrame:
    """``age, urgency, assignee_id, open``: open mentions now, whatever the date range."""
    now = filters.clock()
    cutoff = floor(now - BACKLOG_AGES[-1][0], "day")  # whole days before this are all "> 7 d"
    rolled, raw = split(EPOCH, cutoff, "day", the_plan)
    parts: list[Select[Any]] = []
    if rolled:
        r = MentionRollupDaily
        dims = [r.urgency, r.assignee_id]
        where = [in_windows(r.day, rolled), r.open_now > 0, *_narrow(r, filters)]
        parts.append(select(literal(OLDEST_AGE), *dims, func.sum(r.open_now)).where(*where).group_by(*dims))
    age = _age(now)
    dims = [Mention.urgency, Mention.assignee_id]
    for lo, hi in merge_windows([*raw, (cutoff, END_OF_TIME)]):  # one indexed range scan each (no OR)
        where = [*scope(filters), Mention.status.in_(OPEN), Mention.created_at >= lo, Mention.created_at < hi]
        parts.append(select(age, *dims, func.count()).where(*where).group_by(age, *dims))
    frame = _run(session, parts, ["age", "urgency", "assignee_id", "open"])
    frame["urgency"] = frame["urgency"].fillna(UNCLASSIFIED)
    frame["open"] = frame["open"].astype("int64")
    return frame


def replies_sent(session: Session, filters: DashboardFilters, the_plan: Plan) -> pd.DataFrame:
    """``user_id, replies`` sent within the range on the filtered mentions."""
    rolled, raw = split(filters.start, filters.end, "day", the_plan)
    parts: list[Select[Any]] = []
    if rolled:
        r = ReplyRollupDaily
        where = [in_windows(r.day, rolled), *_narrow(r, filters)]
        parts.append(select(r.user_id, func.sum(r.replies)).where(*where).group_by(r.user_id))
    if raw:
        where = [*scope(filters), in_windows(Reply.sent_at, raw)]
        parts.append(
            select(Reply.user_id, func.count())
            .select_from(Reply)
            .join(Mention, Mention.id == Reply.mention_id)
            .where(*where)
            .group_by(Reply.user_id)
        )
    frame = _run(session, parts, ["user_id", "replies"])
    frame["replies"] = frame["replies"].astype("int64")
    return frame.groupby("user_id", as_index=False)["replies"].sum()
