"""Mentions as a pandas DataFrame, for notebooks.

Example::

    from console.notebook import mentions_frame

    df = mentions_frame(since="2026-11-01", until="2026-12-01", brands=["Skyline Air"], platforms=["x"])
    df.groupby("sentiment").size()

The columns are exactly those of ``mentiondesk export`` (every mention field plus the current
classification), with the same types as the Parquet export: times are ``datetime64[us, UTC]``
in columns named ``*_utc``, ``topics`` holds a list of strings per row.  Rows are read in
chunks into Arrow first, which keeps the peak memory close to the size of the frame itself.
The store is the one ``mentiondesk`` would use (``$MENTIONDESK_DATABASE_URL``, then the
config, then ``.mentiondesk/mentiondesk.db``) unless ``database_url`` names another.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import pandas as pd
import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from console.services.export import arrow_schema, mention_batches
from console.services.mention_query import MentionFilters, columns_for
from console.services.permissions import Actor
from console.services.store import open_store
from storage.models import Brand

__all__ = ["brand_ids", "mentions_frame", "parse_when"]


def parse_when(value: str | date | datetime | None) -> datetime | None:
    """``"2026-11-01"``, an ISO timestamp, a date or a datetime as an aware UTC instant (naive means UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def brand_ids(session: Session, names: Sequence[str]) -> list[int]:
    """Ids of brands by name.

    Raises:
        ValueError: naming the unknown brands and the known ones.
    """
    known = dict(session.execute(select(Brand.name, Brand.id)).tuples().all())
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"unknown brand(s) {', '.join(map(repr, unknown))}; known: {', '.join(sorted(known)) or 'none'}"
        )
    return [known[n] for n in names]


def mentions_frame(
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    *,
    brands: Sequence[str] = (),
    platforms: Sequence[str] = (),
    statuses: Sequence[str] = (),
    sentiments: Sequence[str] = (),
    urgencies: Sequence[str] = (),
    topics: Sequence[str] = (),
    search: str = "",
    include_brand_posts: bool = True,
    include_raw: bool = False,
    limit: int | None = None,
    database_url: str | None = None,
) -> pd.DataFrame:
    """Mentions matching the filters, oldest first, with the export's columns and types.

    Args:
        since: Created at or after (inclusive); a date means its midnight UTC.
        until: Created before (exclusive).
        brands: Brand names (competitors included); empty means all.
        platforms: ``x``, ``mastodon``, ``bluesky``, ``reddit``, ``rss``...
        statuses: Workflow statuses (``new``, ``open``, ``resolved``...).
        sentiments: ``negative``, ``neutral``, ``positive``.
        urgencies: ``critical``, ``high``, ``normal``, ``low``.
        topics: Keep mentions whose current classification has any of these topics.
        search: Words that must all appear in the text (case-insensitive).
        include_brand_posts: Also return the brand's own posts (flagged ``is_brand_post``).
        include_raw: Add ``raw_json``, the platform's original payload.
        limit: At most this many rows.
        database_url: Another store than the default one.
    """
    store = open_store(database_url)
    columns = columns_for(include_raw)
    schema = arrow_schema(columns)
    try:
        with store.read() as session:
            filters = MentionFilters(
                since=parse_when(since),
                until=parse_when(until),
                brand_ids=brand_ids(session, brands) if brands else (),
                platforms=platforms,
                statuses=statuses,
                sentiments=sentiments,
                urgencies=urgencies,
                topics=topics,
                search=search,
                include_brand_posts=include_brand_posts,
            )
            batches = list(mention_batches(session, Actor.system("notebook"), filters, columns, limit=limit))
    finally:
        store.dispose()
    return pa.Table.from_batches(batches, schema=schema).to_pandas(types_mapper=_types)


def _types(arrow_type: pa.DataType) -> object:
    """Nullable pandas types, so a missing count stays an integer column instead of turning float."""
    mapping: dict[pa.DataType, object] = {
        pa.int64(): pd.Int64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
        pa.string(): pd.StringDtype(),
    }
    return mapping.get(arrow_type)
