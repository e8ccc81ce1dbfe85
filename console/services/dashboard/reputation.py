"""Reputation aggregates: volume by sentiment, net sentiment, urgency mix, share of voice, topics, authors.

The counts come grouped from :mod:`console.services.dashboard.sources` (rollups plus the
mentions table where the rollups cannot be trusted); the authors are a keyed look-up of the
few with the widest reach.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import case, exists, func, or_, select
from sqlalchemy.orm import Session

from console.services.dashboard.filters import DashboardFilters, in_range, scope, with_periods
from storage.models import Author, Brand, Mention

UNCLASSIFIED = "unclassified"
SENTIMENTS = ("negative", "neutral", "positive")
URGENCIES = ("critical", "high", "normal", "low")


def volume_by_sentiment(hourly: pd.DataFrame, filters: DashboardFilters) -> pd.DataFrame:
    """Mentions per local hour or day and sentiment: columns ``period, sentiment, mentions``."""
    if hourly.empty:
        return pd.DataFrame(columns=["period", "sentiment", "mentions"])
    return with_periods(hourly, filters).groupby(["period", "sentiment"], as_index=False)["mentions"].sum()


def net_sentiment_trend(volume: pd.DataFrame) -> pd.DataFrame:
    """Net sentiment score per period: (positive - negative) / all classified x 100."""
    if volume.empty:
        return pd.DataFrame(columns=["period", "positive", "negative", "classified", "net_sentiment"])
    wide = volume.pivot_table(index="period", columns="sentiment", values="mentions", aggfunc="sum", fill_value=0)
    for s in SENTIMENTS:
        if s not in wide:
            wide[s] = 0
    classified = wide[list(SENTIMENTS)].sum(axis=1)
    out = pd.DataFrame(
        {"positive": wide["positive"], "negative": wide["negative"], "classified": classified}
    ).reset_index()
    out["net_sentiment"] = _nss(out["positive"], out["negative"], out["classified"])
    return out


def _nss(positive: Any, negative: Any, classified: Any) -> Any:
    if isinstance(classified, pd.Series):
        return ((positive - negative) / classified.where(classified > 0) * 100).round(1)
    return round((positive - negative) / classified * 100, 1) if classified else None


def mix_by_period(counts: pd.DataFrame, filters: DashboardFilters) -> pd.DataFrame:
    """Counts by period (current/previous), sentiment and urgency: the source of the headline figures."""
    if filters.brand_ids:
        counts = counts[counts["brand_id"].isin(list(filters.brand_ids))]
    return counts.groupby(["period", "sentiment", "urgency"], as_index=False)["mentions"].sum()


def headline(mix: pd.DataFrame) -> dict[str, float | int | None]:
    """Total mentions, net sentiment and the negative share (% of classified) now and in the previous period."""
    out: dict[str, float | int | None] = {}
    for period in ("current", "previous"):
        part = mix[mix["period"] == period]
        by_sentiment = part.groupby("sentiment")["mentions"].sum()
        classified = int(sum(by_sentiment.get(s, 0) for s in SENTIMENTS))
        negative = int(by_sentiment.get("negative", 0))
        out[f"{period}_mentions"] = int(part["mentions"].sum())
        out[f"{period}_net_sentiment"] = _nss(int(by_sentiment.get("positive", 0)), negative, classified)
        out[f"{period}_negative_share"] = round(negative / classified * 100, 1) if classified else None
    return out


def change_table(mix: pd.DataFrame, key: str, order: tuple[str, ...] = ()) -> pd.DataFrame:
    """Counts of ``key`` now and before, with the change in share (points) and in count (%)."""
    if mix.empty:
        return pd.DataFrame(columns=[key, "mentions", "previous", "share", "share_change_pts", "change_pct"])
    wide = mix.pivot_table(index=key, columns="period", values="mentions", aggfunc="sum", fill_value=0)
    for period in ("current", "previous"):
        if period not in wide:
            wide[period] = 0
    out = pd.DataFrame({"mentions": wide["current"], "previous": wide["previous"]})
    out.index.name = key
    out = out.reset_index()
    out["share"] = (out["mentions"] / max(int(out["mentions"].sum()), 1) * 100).round(1)
    previous_share = out["previous"] / max(int(out["previous"].sum()), 1) * 100
    out["share_change_pts"] = (out["share"] - previous_share).round(1)
    out["change_pct"] = ((out["mentions"] - out["previous"]) / out["previous"].where(out["previous"] > 0) * 100).round(
        1
    )
    if order:
        rank = {name: i for i, name in enumerate(order)}
        out = out.sort_values(key, key=lambda s: s.map(lambda v: rank.get(v, len(rank))))
    else:
        out = out.sort_values("mentions", ascending=False)
    return out.reset_index(drop=True)


def voice_brand_ids(session: Session, filters: DashboardFilters) -> list[int] | None:
    """The chosen brands and their configured competitors (``None``: every brand)."""
    if not filters.brand_ids:
        return None
    chosen = list(filters.brand_ids)
    query = select(Brand.id).where(or_(Brand.id.in_(chosen), Brand.competitor_of_id.in_(chosen)))
    return sorted(set(session.scalars(query)))


def share_of_voice(session: Session, counts: pd.DataFrame) -> pd.DataFrame:
    """Each brand's share of all mentions among the chosen brands and their competitors.

    ``counts`` comes from :func:`period_counts` over :func:`voice_brand_ids`.
    """
    known = counts[counts["brand_id"].notna()]
    if known.empty:
        empty = pd.DataFrame(columns=["brand", "mentions", "previous", "share", "share_change_pts", "change_pct"])
        return empty.assign(is_competitor=pd.Series(dtype=bool))
    brands = {i: (n, c) for i, n, c in session.execute(select(Brand.id, Brand.name, Brand.is_competitor))}
    mix = known.groupby(["brand_id", "period"], as_index=False)["mentions"].sum()
    mix["brand"] = mix["brand_id"].map(lambda i: brands[int(i)][0])
    competitor = {brands[int(i)][0]: bool(brands[int(i)][1]) for i in mix["brand_id"].unique()}
    out = change_table(mix, "brand")
    out["is_competitor"] = out["brand"].map(competitor).astype(bool)
    return out


def topic_counts(topics: pd.DataFrame, limit: int = 10) -> pd.DataFrame:
    """The ``limit`` most mentioned topics with their change against the previous period."""
    if topics.empty:
        return pd.DataFrame(columns=["topic", "mentions", "previous", "share", "share_change_pts", "change_pct"])
    table = change_table(topics, "topic")
    return table[table["mentions"] > 0].head(limit).reset_index(drop=True)


def top_authors(session: Session, filters: DashboardFilters, limit: int = 10) -> pd.DataFrame:
    """Authors who mentioned the brands in the range, by reach (followers), with what they said."""
    engagement = Mention.like_count + Mention.repost_count + Mention.reply_count + Mention.quote_count
    per_author = (
        select(
            Mention.author_id,
            func.count().label("mentions"),
            func.sum(case((Mention.sentiment == "negative", 1), else_=0)).label("negative"),
            func.sum(engagement).label("engagement"),
        )
        .where(*scope(filters), *in_range(filters), Mention.author_id.in_(_reach_candidates(session, filters, limit)))
        .group_by(Mention.author_id)
        .subquery()
    )
    query = (
        select(
            Author.platform,
            Author.handle,
            Author.display_name,
            Author.followers,
            Author.verified,
            per_author.c.mentions,
            per_author.c.negative,
            per_author.c.engagement,
        )
        .join(per_author, per_author.c.author_id == Author.id)
        .order_by(Author.followers.desc(), per_author.c.mentions.desc(), Author.handle)
        .limit(limit)
    )
    columns = ["platform", "handle", "name", "followers", "verified", "mentions", "negative", "engagement"]
    return pd.DataFrame([tuple(r) for r in session.execute(query)], columns=columns)


def _reach_candidates(session: Session, filters: DashboardFilters, limit: int) -> list[int]:
    """Authors active in the range with at least the ``limit``-th widest reach (ties kept).

    Walks authors by followers (indexed) and probes each for a mention in the range (indexed by
    author and time), so it stops after a few dozen authors instead of grouping every mention.
    """
    active = exists().where(Mention.author_id == Author.id, *scope(filters), *in_range(filters))
    threshold = session.scalar(
        select(Author.followers).where(active).order_by(Author.followers.desc()).offset(limit - 1).limit(1)
    )
    candidates = select(Author.id).where(active)
    if threshold is not None:
        candidates = candidates.where(Author.followers >= threshold)
    return list(session.scalars(candidates))  # a short literal list: PostgreSQL would hash every author
