"""The manager dashboards' data: every aggregate for one range, computed in SQL in one read.

``dashboard_bundle`` is what the page renders and what ``bench/dashboard.py`` times; it needs
:attr:`~console.services.permissions.Permission.DASHBOARDS` (managers, analysts, admins).  The reads it is made
of (:mod:`~console.services.dashboard.sources`, ``reputation``, ``team``) check nothing themselves: only this
module and the tests call them.
Tables come back as small pandas frames (one row per period or group, never per mention)
so the page can chart them, show them as tables and offer them as CSV unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from console.domain.spikes import SpikeMetric
from console.services.dashboard.filters import DashboardFilters, date_words, moment_words, with_periods
from console.services.dashboard.reputation import (
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
from console.services.dashboard.rollup import Plan, plan
from console.services.dashboard.sources import (
    daily_detail,
    hourly_series,
    open_now,
    period_counts,
    replies_sent,
    topic_periods,
)
from console.services.dashboard.team import (
    Durations,
    agent_workload,
    backlog,
    labels_of,
    response_histogram,
    seconds_label,
    sla_breakdown,
    sla_by_period,
    time_summary,
)
from console.services.permissions import Actor, Permission, require
from console.services.sql_time import is_postgres
from storage.models import Alert, Mention

__all__ = [
    "Comparison",
    "DashboardData",
    "DashboardFilters",
    "Headline",
    "alert_words",
    "comparison_words",
    "dashboard_bundle",
    "frames_of",
    "headline_metrics",
]


@dataclass(frozen=True)
class Comparison:
    """The earlier period the headline and the change columns compare with, like with like.

    ``start``-``end`` is as long as the range has run so far (up to now for a range that includes today)
    and ends as far before the range as that.  It is comparable only when the store's first mention
    (``data_since``) is no later than its start: a store holding 30 days cannot compare 30 days with
    the 30 before, and a partial earlier period would make every change look like growth.
    """

    start: datetime
    end: datetime
    data_since: datetime | None

    @property
    def comparable(self) -> bool:
        """Whether the store covers the whole earlier period."""
        return self.end > self.start and self.data_since is not None and self.data_since <= self.start


@dataclass(frozen=True)
class DashboardData:
    """Everything the dashboard shows for one set of filters.

    Attributes:
        filters: What was asked for.
        computed_at: When the figures were taken ("now" for backlog ages and overdue targets).
        comparison: The earlier period compared with, and whether the store covers it.
        headline: Mentions, net sentiment score, negative share, share within SLA and median first response,
            ``current_…`` and ``previous_…`` (previous SLA figures only when the comparison holds).
        volume: ``period, sentiment, mentions`` in the team's zone.
        net_sentiment: ``period, positive, negative, classified, net_sentiment``.
        urgency_mix: Counts by urgency, with the change against the previous period.
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
    comparison: Comparison
    headline: dict[str, float | int | None]
    volume: pd.DataFrame
    net_sentiment: pd.DataFrame
    urgency_mix: pd.DataFrame
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
    # JIT compiles whenever the planner's row guesses run high (jsonb unnesting does), and compiling takes
    # longer than these grouped scans do.  LOCAL: only for this read's transaction.
    "SET LOCAL jit = off",
    # The reads are index lookups over a cached working set; the default 4.0 (spinning disks) made
    # PostgreSQL hash a million classifications to join a day's 5,000 mentions.
    "SET LOCAL random_page_cost = 1.1",
    # The daily detail groups rollup rows carrying packed durations: with the default 4 MB it sorted them on
    # disk (an external merge; see docs/benchmarks.md, Dashboard).
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
    url = session.get_bind().engine.url
    database = url.database or ""
    in_memory = not database or database == ":memory:" or database.startswith("file:") or "mode=memory" in database
    if in_memory or url.get_backend_name() != "sqlite":
        return False
    return not getattr(session.connection().connection.driver_connection, "in_transaction", True)


def dashboard_bundle(session: Session, actor: Actor, filters: DashboardFilters) -> DashboardData:
    """Compute every dashboard aggregate for ``filters``: about ten small grouped reads.

    Whole UTC days come from the rollups where they are up to date (see
    :mod:`console.services.dashboard.rollup`), the rest from the mentions table: same figures, either way.
    Half the reads run on a second connection (on PostgreSQL, on the same snapshot: :func:`_second_session`).
    """
    require(actor, Permission.DASHBOARDS)
    if filters.now is None:  # pin one "now" so backlog and overdue agree with each other
        filters = DashboardFilters(
            **{f.name: getattr(filters, f.name) for f in fields(filters)} | {"now": filters.clock()}
        )
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
    comparison = Comparison(filters.previous_start, filters.previous_end, _first_mention(session))
    before = _previous_sla(session, filters, the_plan, labels) if comparison.comparable else None
    hourly = with_periods(rest.hourly, filters)
    mix = mix_by_period(rest.counts, filters)
    volume = volume_by_sentiment(hourly, filters)
    return DashboardData(
        filters=filters,
        computed_at=filters.clock(),
        comparison=comparison,
        headline=headline(mix) | _sla_headline("current", sla) | _sla_headline("previous", before),
        volume=volume,
        net_sentiment=net_sentiment_trend(volume),
        urgency_mix=change_table(mix, "urgency", (*URGENCIES, "unclassified")),
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


def _first_mention(session: Session) -> datetime | None:
    """When the store's data starts (one step down the ``created_at`` index)."""
    return session.scalar(select(func.min(Mention.created_at)))


def _previous_sla(
    session: Session, filters: DashboardFilters, the_plan: Plan, labels: dict[str, dict[Any, str]]
) -> pd.DataFrame:
    """SLA figures of the earlier period (:attr:`DashboardFilters.previous_end`), for the headline's changes."""
    earlier = replace(filters, start=filters.previous_start, end=filters.previous_end)
    detail = daily_detail(session, earlier, the_plan)
    return sla_breakdown(detail, Durations(detail), labels)


def _sla_headline(period: str, sla: pd.DataFrame | None) -> dict[str, float | int | None]:
    """``{period}_within_sla_pct`` and ``{period}_median_first_response_s`` from the overall SLA row."""
    overall = sla[sla["dimension"] == "all"] if sla is not None else pd.DataFrame()
    figures: dict[str, float | int | None] = {"within_sla_pct": None, "median_first_response_s": None}
    if not overall.empty:
        for name in figures:
            value = overall[name].iloc[0]
            figures[name] = None if value is None or pd.isna(value) else float(value)
    return {f"{period}_{name}": value for name, value in figures.items()}


def frames_of(data: DashboardData) -> dict[str, pd.DataFrame]:
    """Every table of the bundle by name, for CSV downloads and tests."""
    return {f.name: getattr(data, f.name) for f in fields(data) if isinstance(getattr(data, f.name), pd.DataFrame)}


# --- the headline figures as the page shows them ----------------------------------------------------------


DeltaColour = Literal["normal", "inverse", "off"]
"""``st.metric``'s ``delta_color``: up is good (normal), up is bad (inverse), neither (off)."""


@dataclass(frozen=True)
class Headline:
    """One headline figure as ``st.metric`` shows it; ``delta_color`` says whether up is good, bad or neither."""

    label: str
    value: str
    delta: str | None
    delta_color: DeltaColour
    help: str


def _signed_duration(seconds: float) -> str:
    return ("+" if seconds >= 0 else "-") + seconds_label(abs(seconds))


_FIGURES: tuple[tuple[str, str, Callable[[float], str], Callable[[float], str], DeltaColour, str], ...] = (
    (
        "Mentions",
        "mentions",
        lambda v: f"{v:,.0f}",
        lambda d: f"{d:+,.0f}",
        "off",
        "Inbound mentions in the range (the brands' own posts left out).",
    ),
    (
        "Net sentiment",
        "net_sentiment",
        lambda v: f"{v:+.1f}",
        lambda d: f"{d:+.1f}",
        "normal",
        "Positive minus negative mentions, as % of the classified ones (from −100 to +100).",
    ),
    (
        "Negative share",
        "negative_share",
        lambda v: f"{v:.0f} %",
        lambda d: f"{d:+.1f} pts",
        "inverse",
        "Negative mentions as % of the classified ones.",
    ),
    (
        "Within SLA",
        "within_sla_pct",
        lambda v: f"{v:.0f} %",
        lambda d: f"{d:+.1f} pts",
        "normal",
        "First responses sent by their due time, as % of the mentions judged; unanswered mentions past it are misses.",
    ),
    (
        "Median first response",
        "median_first_response_s",
        seconds_label,
        _signed_duration,
        "inverse",
        "Half of the answered mentions had their first reply within this time.",
    ),
)
"""label, headline key, value format, change format, delta colour (up is good: normal, bad: inverse), help."""


def comparison_words(data: DashboardData) -> str:
    """What the changes are measured against, or why there are none."""
    c, zone = data.comparison, data.filters.zone
    if c.comparable:
        return (
            f"Change against {moment_words(c.start, zone, year=True)} – {moment_words(c.end, zone, year=True)}: "
            "the same span just before this range, up to the same point."
        )
    if c.end <= c.start:
        return "No change shown: the range has not started yet."
    if c.data_since is None:
        return "No change shown: no full earlier period to compare (the store holds no mentions yet)."
    return (
        f"No change shown: no full earlier period to compare (the store's mentions start "
        f"{date_words(c.data_since.astimezone(zone))}; the earlier period would start "
        f"{date_words(c.start.astimezone(zone))})."
    )


def headline_metrics(data: DashboardData) -> list[Headline]:
    """Mentions, net sentiment, negative share, SLA and median first response with their changes, then open now.

    A change is shown only against a comparable earlier period (:class:`Comparison`), coloured by what it
    means: more negative or slower is red, better sentiment or SLA is green, volume is neither.
    """
    h, why = data.headline, comparison_words(data)
    out = []
    for label, key, show, change, colour, what in _FIGURES:
        now, before = h.get(f"current_{key}"), h.get(f"previous_{key}")
        delta = change(now - before) if data.comparison.comparable and now is not None and before is not None else None
        value = "—" if now is None else show(now)
        out.append(Headline(label, value, delta, colour, f"{what} {why}"))
    open_now = int(data.backlog["open"].sum()) if not data.backlog.empty else 0
    out.append(Headline("Open now", f"{open_now:,}", None, "off", "Open mentions now, whatever the date range."))
    return out


def _per_hour(value: float) -> str:
    """A rate of mentions an hour in words; a quiet hour's usual "0" would read as if it never happens."""
    return "fewer than 1" if value < 1 else f"{value:,.0f}"


def alert_words(alert: Alert, zone: ZoneInfo) -> str:
    """A spike alert for the dashboard's banner: what, for whom, how far above usual, since when, still running."""
    d = alert.details
    if alert.metric == SpikeMetric.NEGATIVE_SHARE:
        what = "Negative share spike"
        figure = f"{d.get('value', 0):.0%} negative against {d.get('baseline', 0):.0%} usually"
    else:
        what = "Mention volume spike"
        figure = f"{_per_hour(d.get('value', 0))} mentions an hour against {_per_hour(d.get('baseline', 0))} usually"
    since = moment_words(alert.started_at, zone)
    state = "ongoing" if alert.ended_at is None else f"ended {moment_words(alert.ended_at, zone)}"
    return f"{what} for {d.get('brand', '?')}: {figure}, since {since} ({state})"
