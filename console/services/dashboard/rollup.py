"""Dashboard rollups: inbound mentions pre-aggregated per UTC day (and hour), kept fresh incrementally.

Why: a 90-day dashboard on a million-mention store would otherwise scan ~900,000 rows a
dozen times.  The rollups hold one row per day (or hour) and dimension combination, so a
dashboard reads tens of thousands of small rows instead.

Freshness: ``refresh`` (the worker calls it every loop) recomputes only the days of
mentions whose ``updated_at`` (or current classification) changed since the last
watermark; ``rebuild`` recomputes everything.  A reader never trusts a day the rollup may
have wrong: :func:`plan` lists the days changed since the watermark and the days holding
a first-response target still running at the dashboard's "now", and those days, plus the
partial days at the range's edges, are aggregated from the mentions table instead.  So the
figures are the same with or without rollups, only faster with them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np
from sqlalchemy import (
    ColumnElement,
    LargeBinary,
    Text,
    and_,
    case,
    cast,
    delete,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.orm import Session

from console.services.sql_time import is_postgres, seconds_between
from console.services.store import Store
from storage.enums import OPEN_STATUSES
from storage.models import (
    Classification,
    Mention,
    MentionRollupDaily,
    MentionRollupHourly,
    Reply,
    ReplyRollupDaily,
    RollupState,
    TopicRollupDaily,
)
from storage.types import UTCDateTime

Grain = Literal["day", "hour"]
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
STATE_NAME = "dashboard"
SAFETY_MARGIN = timedelta(minutes=5)
"""The watermark trails the refresh's start by this much, so a write committed late is never skipped."""
MAX_RAW_WINDOWS = 60
"""Beyond this many windows read from the mentions table, one raw scan of the range is simpler."""
REFRESH_DAYS_AT_ONCE = 31
INSERT_ROWS = 5_000
ADVISORY_LOCK = 0x6D64_726F_6C6C  # "md roll": one refresher at a time across PostgreSQL workers
REFRESH_EVERY = timedelta(seconds=60)
OPEN = [s.value for s in OPEN_STATUSES]
DAILY_DIMENSIONS = ("brand_id", "platform", "assignee_id", "sentiment", "urgency")
HOURLY_DIMENSIONS = ("brand_id", "platform", "sentiment")
DURATIONS = ("first_response_s", "resolution_s", "ingestion_lag_s")

Window = tuple[datetime, datetime]
Rollup = type[MentionRollupDaily] | type[MentionRollupHourly] | type[TopicRollupDaily] | type[ReplyRollupDaily]
ROLLUPS: tuple[Rollup, ...] = (MentionRollupDaily, MentionRollupHourly, TopicRollupDaily, ReplyRollupDaily)


# --- SQL building blocks shared by the rollup build and the readers' raw windows ---------------------------


def bucket(session: Session, column: Any, grain: Grain) -> ColumnElement[datetime]:
    """The start of the UTC day or hour ``column`` falls in, stored and compared like any UTC time."""
    if is_postgres(session):
        return type_coerce(func.date_trunc(grain, column, "UTC"), UTCDateTime)
    fmt = "%Y-%m-%d 00:00:00.000000" if grain == "day" else "%Y-%m-%d %H:00:00.000000"
    return type_coerce(func.strftime(fmt, column), UTCDateTime)


def value_list(session: Session, value: ColumnElement[Any]) -> ColumnElement[str]:
    """Comma-separated non-null values of a group (order irrelevant)."""
    if is_postgres(session):
        return func.string_agg(cast(value, Text), literal(","))
    return func.group_concat(value, ",")


def joined_bytes(session: Session, column: Any) -> ColumnElement[Any]:
    """Packed duration columns of a group concatenated (bytes on PostgreSQL, hex text on SQLite)."""
    if is_postgres(session):
        return func.string_agg(column, literal(b"", LargeBinary))
    return func.group_concat(func.hex(column), "")


def _count_if(condition: Any) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def sla_measures(now: datetime | None) -> list[ColumnElement[int]]:
    """``sla_hit, sla_late, sla_overdue``: first-response targets met, missed, and unanswered past due.

    ``now=None`` counts every unanswered target as overdue: the stored form, valid for any day
    whose targets have all passed (:func:`plan` reads the other days raw).
    """
    due, answered = Mention.first_response_due_at, Mention.first_response_at
    unanswered = and_(answered.is_(None), due.is_not(None))
    if now is not None:
        unanswered = and_(unanswered, due < now)
    return [
        _count_if(and_(due.is_not(None), answered.is_not(None), answered <= due)).label("sla_hit"),
        _count_if(and_(due.is_not(None), answered > due)).label("sla_late"),
        _count_if(unanswered).label("sla_overdue"),
    ]


def daily_measures(session: Session, now: datetime | None) -> list[ColumnElement[Any]]:
    """Every measure of :class:`MentionRollupDaily`, aggregated over mentions."""
    created = Mention.created_at
    return [
        func.count().label("mentions"),
        *sla_measures(now),
        func.count(Mention.first_response_at).label("answered"),
        func.count(Mention.resolved_at).label("resolved"),
        _count_if(Mention.status.in_(OPEN)).label("open_now"),
        value_list(session, seconds_between(session, created, Mention.first_response_at)).label("first_response_s"),
        value_list(session, seconds_between(session, created, Mention.resolved_at)).label("resolution_s"),
        value_list(session, seconds_between(session, created, Mention.fetched_at)).label("ingestion_lag_s"),
    ]


def hourly_measures(now: datetime | None) -> list[ColumnElement[Any]]:
    """Every measure of :class:`MentionRollupHourly`."""
    return [func.count().label("mentions"), *sla_measures(now)]


def in_windows(column: Any, windows: Sequence[Window]) -> ColumnElement[bool]:
    """``column`` within any of the half-open windows."""
    if not windows:
        return false()
    return or_(*[and_(column >= lo, column < hi) for lo, hi in windows])


def inbound() -> ColumnElement[bool]:
    """Rollups hold inbound mentions only (the dashboards never count the brand's own posts)."""
    return Mention.is_brand_post.is_(False)


def topic_source(session: Session) -> tuple[Any, Any]:
    """``(topic column, from clause)``: current topics of mentions, one row per mention and topic."""
    fn = func.jsonb_array_elements_text if is_postgres(session) else func.json_each
    table = fn(Classification.topics).table_valued("value").alias("topic")
    joined = Mention.__table__.join(
        # plain ``is_current`` (not ``IS true``) so PostgreSQL sees the partial unique index applies
        Classification.__table__,
        (Classification.mention_id == Mention.id) & Classification.is_current,
    ).join(table, true())
    return table.c.value, joined


# --- Build ------------------------------------------------------------------------------------------------


def _rebuild_windows(session: Session, windows: Sequence[Window]) -> None:
    """Replace every rollup row inside ``windows`` (whole UTC days) with fresh aggregates."""
    day = bucket(session, Mention.created_at, "day")
    hour = bucket(session, Mention.created_at, "hour")
    where = [inbound(), in_windows(Mention.created_at, windows)]
    for model in ROLLUPS:
        key = model.hour if issubclass(model, MentionRollupHourly) else model.day
        session.execute(delete(model).where(in_windows(key, windows)))
    _insert_daily(session, where)
    hourly = [getattr(Mention, d) for d in HOURLY_DIMENSIONS]
    h_measures = hourly_measures(None)
    session.execute(
        insert(MentionRollupHourly).from_select(
            ["hour", *HOURLY_DIMENSIONS, *[m.name for m in h_measures]],
            select(hour, *hourly, *h_measures).where(*where).group_by(hour, *hourly),
        )
    )
    topic, joined = topic_source(session)
    session.execute(
        insert(TopicRollupDaily).from_select(
            ["day", "brand_id", "platform", "topic", "mentions"],
            select(day, Mention.brand_id, Mention.platform, topic, func.count())
            .select_from(joined)
            .where(*where)
            .group_by(day, Mention.brand_id, Mention.platform, topic),
        )
    )
    sent_day = bucket(session, Reply.sent_at, "day")
    session.execute(
        insert(ReplyRollupDaily).from_select(
            ["day", "brand_id", "platform", "user_id", "replies"],
            select(sent_day, Mention.brand_id, Mention.platform, Reply.user_id, func.count())
            .select_from(Reply)
            .join(Mention, Mention.id == Reply.mention_id)
            .where(inbound(), in_windows(Reply.sent_at, windows))
            .group_by(sent_day, Mention.brand_id, Mention.platform, Reply.user_id),
        )
    )


def _insert_daily(session: Session, where: list[Any]) -> None:
    """Daily rows aggregated in SQL; their duration lists packed to float64 bytes here."""
    day = bucket(session, Mention.created_at, "day")
    dims = [getattr(Mention, d) for d in DAILY_DIMENSIONS]
    measures = daily_measures(session, None)
    query = select(day, *dims, *measures).where(*where).group_by(day, *dims)
    names = ["day", *DAILY_DIMENSIONS, *[m.name for m in measures]]
    rows = [dict(zip(names, row, strict=True)) for row in session.execute(query)]
    for row in rows:
        for name in DURATIONS:
            row[name] = pack(row[name])
    for i in range(0, len(rows), INSERT_ROWS):
        session.execute(insert(MentionRollupDaily), rows[i : i + INSERT_ROWS])


def pack(values: str | None) -> bytes | None:
    """A comma-separated list of seconds as little-endian float64 bytes (``None`` when empty)."""
    if not values:
        return None
    return np.fromstring(values, dtype="<f8", sep=",").tobytes()  # C parser: no Python float() per value


def unpack(values: bytes | memoryview | str | None) -> np.ndarray:
    """Seconds from :func:`pack` bytes, or from a comma-separated list read raw."""
    if not values:
        return np.empty(0, dtype="<f8")
    if isinstance(values, str):
        return np.fromstring(values, dtype="<f8", sep=",")
    return np.frombuffer(values, dtype="<f8")


def rebuild(session: Session, *, now: datetime | None = None) -> int:
    """Recompute every rollup row from the mentions; returns the days covered.  Call in a transaction."""
    started = now or datetime.now(UTC)
    mentions = session.execute(select(func.min(Mention.created_at), func.max(Mention.created_at))).one()
    replies = session.execute(select(func.min(Reply.sent_at), func.max(Reply.sent_at))).one()
    moments: list[datetime] = [m for m in (*mentions, *replies) if m is not None]
    for model in ROLLUPS:
        session.execute(delete(model))
    days = 0
    if moments:
        first, last = floor(min(moments), "day"), floor(max(moments), "day") + DAY
        chunk = REFRESH_DAYS_AT_ONCE * DAY
        for lo in range(0, (last - first) // DAY, REFRESH_DAYS_AT_ONCE):
            start = first + lo * DAY
            _rebuild_windows(session, [(start, min(start + chunk, last))])
        days = (last - first) // DAY
    _save_state(session, started)
    return days


def refresh(session: Session, *, now: datetime | None = None) -> int:
    """Recompute the days changed since the last watermark (all of them the first time); returns days redone."""
    started = now or datetime.now(UTC)
    if is_postgres(session) and not session.scalar(select(func.pg_try_advisory_xact_lock(ADVISORY_LOCK))):
        return 0  # another worker is refreshing; two at once would both insert the same days
    state = session.get(RollupState, STATE_NAME)
    if state is None:
        return rebuild(session, now=started)
    days = sorted(changed_days(session, state.watermark))
    for i in range(0, len(days), REFRESH_DAYS_AT_ONCE):
        _rebuild_windows(session, merge_windows([(d, d + DAY) for d in days[i : i + REFRESH_DAYS_AT_ONCE]]))
    _save_state(session, started)
    return len(days)


def refresh_step(every: timedelta = REFRESH_EVERY) -> Callable[[Store], int]:
    """A worker step refreshing the rollups at most once per ``every`` (new mentions re-do today each time)."""
    last: list[datetime] = []

    def rollup_step(store: Store) -> int:
        moment = datetime.now(UTC)
        if last and moment - last[0] < every:
            return 0
        with store.transaction() as session:
            days = refresh(session, now=moment)
        last[:] = [moment]
        return days

    return rollup_step


def _save_state(session: Session, started: datetime) -> None:
    state = session.get(RollupState, STATE_NAME)
    watermark = started - SAFETY_MARGIN
    if state is None:
        session.add(RollupState(name=STATE_NAME, watermark=watermark, refreshed_at=started))
    else:
        state.watermark, state.refreshed_at = watermark, started
    session.flush()


# --- Planning reads -----------------------------------------------------------------------------------------


def changed_days(session: Session, watermark: datetime) -> set[datetime]:
    """UTC days of mentions changed (or reclassified) after ``watermark``, and days replies were sent since."""
    day = bucket(session, Mention.created_at, "day")
    touched = select(day).where(Mention.updated_at > watermark).distinct()
    relabelled = (
        select(day)
        .join(Classification, Classification.mention_id == Mention.id)
        .where(Classification.created_at > watermark)
        .distinct()
    )
    sent = select(bucket(session, Reply.sent_at, "day")).where(Reply.sent_at > watermark).distinct()
    return {as_utc(d) for q in (touched, relabelled, sent) for d in session.scalars(q)}


def pending_days(session: Session, now: datetime) -> set[datetime]:
    """UTC days holding an unanswered first-response target not yet due at ``now``."""
    day = bucket(session, Mention.created_at, "day")
    query = select(day).where(Mention.first_response_at.is_(None), Mention.first_response_due_at >= now).distinct()
    return {as_utc(d) for d in session.scalars(query)}


@dataclass(frozen=True)
class Plan:
    """Which UTC days a reader may take from the rollups: built, and not in ``raw_days``."""

    built: bool
    raw_days: frozenset[datetime] = field(default_factory=frozenset)


def plan(session: Session, now: datetime) -> Plan:
    """What the rollups can answer for a dashboard judged at ``now``."""
    state = session.get(RollupState, STATE_NAME)
    if state is None:
        return Plan(built=False)
    return Plan(built=True, raw_days=frozenset(changed_days(session, state.watermark) | pending_days(session, now)))


def split(lo: datetime, hi: datetime, grain: Grain, the_plan: Plan) -> tuple[list[Window], list[Window]]:
    """``[lo, hi)`` as ``(rollup windows, raw windows)``: whole trusted buckets vs everything else."""
    step = DAY if grain == "day" else HOUR
    first, last = ceil(lo, grain), floor(hi, grain)
    if not the_plan.built or first >= last:
        return [], [(lo, hi)]
    rolled: list[Window] = []
    raw: list[Window] = [(lo, first)] if lo < first else []
    cursor = first
    for day in sorted(the_plan.raw_days):
        a, b = max(day, first), min(day + DAY, last)
        if a >= b:
            continue
        if cursor < a:
            rolled.append((cursor, a))
        raw.append((a, b))
        cursor = b
    if cursor < last:
        rolled.append((cursor, last))
    if last < hi:
        raw.append((last, hi))
    raw = merge_windows(raw)
    if len(raw) > MAX_RAW_WINDOWS:
        return [], [(lo, hi)]
    assert all((b - a) % step == timedelta(0) for a, b in rolled)
    return rolled, raw


def merge_windows(windows: Iterable[Window]) -> list[Window]:
    """Sorted windows with touching or overlapping ones joined."""
    out: list[Window] = []
    for lo, hi in sorted(windows):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def as_utc(value: Any) -> datetime:
    """A bucket value (aware datetime, or SQLite text) as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def floor(moment: datetime, grain: Grain) -> datetime:
    """Start of the UTC day or hour holding ``moment``."""
    moment = moment.astimezone(UTC)
    moment = moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if grain == "day" else moment


def ceil(moment: datetime, grain: Grain) -> datetime:
    """Start of the first UTC day or hour at or after ``moment``."""
    start = floor(moment, grain)
    return start if start == moment else start + (DAY if grain == "day" else HOUR)
