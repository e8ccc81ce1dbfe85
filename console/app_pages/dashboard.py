"""Dashboard: reputation and team performance for a date range, in the team's time zone.

Colours mean the same in every chart (:mod:`console.ui.palette`), axes and tables speak in words and
units, and dates read one way (:mod:`console.services.dashboard.filters`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from console.services.alerts import recent_alerts
from console.services.dashboard.filters import AXIS_DAY, AXIS_HOUR, date_words
from console.services.dashboard.reads import (
    DashboardFilters,
    alert_words,
    comparison_words,
    dashboard_bundle,
    headline_metrics,
)
from console.services.dashboard.team import seconds_label
from console.ui.auth_gate import require_actor
from console.ui.chart_block import Column, chart_block, chart_frame, name_words, table_frame, words
from console.ui.palette import (
    BRAND_KIND_SCALE,
    SENTIMENT_ORDER,
    SENTIMENT_SCALE,
    SINGLE,
    URGENCY_ORDER,
    URGENCY_SCALE,
    label,
)
from console.ui.resources import filter_choices, get_config, get_store, team_zone
from console.ui.safe import escape_markdown, plain_frame

store = get_store()
actor = require_actor()
zone = team_zone()
choices = filter_choices(store.url, actor)
brands, platforms = choices.brands, choices.platforms
today = datetime.now(UTC).astimezone(zone).date()


def _last(days: int) -> None:
    """Quick ranges, set before the date widget is drawn (a button callback may do that)."""
    st.session_state["d_range"] = (today - timedelta(days=days - 1), today)


with st.sidebar:
    st.subheader("Filters")
    for column, days in zip(st.columns(3), (7, 30, 90), strict=True):
        column.button(f"{days}d", key=f"d_last_{days}", on_click=_last, args=(days,), help=f"The last {days} days")
    picked = st.date_input(  # day first, as every date on the page reads
        "Date range", (today - timedelta(days=29), today), max_value=today, key="d_range", format="DD/MM/YYYY"
    )
    chosen_brands = st.multiselect("Brand", list(brands), key="d_brand")
    chosen_platforms = st.multiselect("Platform", platforms, key="d_platform", format_func=words)


def _bounds(value: object) -> tuple[date, date]:
    """The picked first and last day; a half-picked range (one day) shows that day."""
    days = [d for d in (value if isinstance(value, tuple | list) else [value]) if isinstance(d, date)]
    return (days[0], days[-1]) if days else (today, today)


first_day, last_day = _bounds(picked)
start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=zone)
end = datetime(last_day.year, last_day.month, last_day.day, tzinfo=zone) + timedelta(days=1)
filters = DashboardFilters(
    start.astimezone(UTC),
    end.astimezone(UTC),
    [brands[b] for b in chosen_brands],
    chosen_platforms,
    timezone=get_config().team.timezone,
)

with store.read() as session, st.spinner("Computing…"):
    data = dashboard_bundle(session, actor, filters)
    alerts = recent_alerts(session, actor, datetime.now(UTC) - timedelta(days=7), filters.brand_ids)

st.title("Dashboard")
span = (end - start).days
st.caption(
    f"{date_words(first_day)} – {date_words(last_day)} ({span} day{'s' * (span != 1)}) · times in {zone.key} · "
    + comparison_words(data)
)
for alert in alerts[:5]:
    st.warning(f"**{escape_markdown(alert_words(alert, zone))}**", icon=":material/warning:")

for column, figure in zip(st.columns(6), headline_metrics(data), strict=True):
    column.metric(figure.label, figure.value, figure.delta, delta_color=figure.delta_color, help=figure.help)

comparable = data.comparison.comparable
hourly = filters.granularity == "hour"
PERIOD = "Hour" if hourly else "Day"
PERIOD_FORMAT = AXIS_HOUR if hourly else AXIS_DAY
PERIOD_COLUMN = Column("period", PERIOD, "hour" if hourly else "day", csv="hour" if hourly else "day")
PERIOD_TIP = alt.Tooltip("period:T", title=PERIOD, format=PERIOD_FORMAT)
EARLIER = "no full earlier period to compare" if not comparable else "change against the earlier period"


def labelled(frame: pd.DataFrame, **columns: str) -> pd.DataFrame:
    """``frame`` with word columns for charts: ``name=source`` adds ``name`` as the words of ``source``."""
    return frame.assign(**{name: frame[source].map(words) for name, source in columns.items()})


def by_urgency(frame: pd.DataFrame) -> pd.DataFrame:
    """Urgency in words, and its rank so stacks put the most urgent at the bottom."""
    rank = {u: i for i, u in enumerate(URGENCY_ORDER)}
    return labelled(frame, urgency_label="urgency").assign(urgency_rank=frame["urgency"].map(rank))


def change_columns(*, share: bool = False) -> list[Column]:
    """The earlier period's columns, only where the comparison holds."""
    if not comparable:
        return []
    if share:
        return [
            Column("previous", "Earlier period", "count", csv="previous_mentions"),
            Column("share_change_pts", "Change in share", "pts"),
        ]
    return [
        Column("previous", "Earlier period", "count", csv="previous_mentions"),
        Column("change_pct", "Change", "change"),
    ]


def change_tips(*, share: bool = False) -> list[alt.Tooltip]:
    if not comparable:
        return []
    if share:
        return [alt.Tooltip("share_change_pts:Q", title="Change in share (pts)", format="+.1f")]
    return [alt.Tooltip("change_pct:Q", title="Change (%)", format="+.0f")]


# --- reputation -----------------------------------------------------------------------------------------------

local_now = data.computed_at.astimezone(zone)
# Start of the hour or day still running, naive local as chart_frame makes periods (a bare string would be drawn).
RUNNING = datetime(local_now.year, local_now.month, local_now.day, local_now.hour if hourly else 0)
volume = labelled(chart_frame(data.volume, zone), sentiment_label="sentiment")
volume["stack"] = volume["sentiment"].map({s: i for i, s in enumerate(SENTIMENT_ORDER)})
volume["part"] = volume["period"].map(lambda p: "So far (still running)" if p >= RUNNING else "Complete")
SO_FAR = (
    ("The last bar, paler, is this hour so far" if hourly else "The last bar, paler, is today so far")
    if (volume["period"] >= RUNNING).any()
    else None
)  # not a drop: the rest has not happened yet
chart_block(
    "Volume by sentiment",
    data.volume,
    alt.Chart(volume)
    .mark_bar(stroke="white", strokeWidth=0.5)
    .encode(  # a bar spans its whole hour or day
        alt.X(
            f"{'yearmonthdatehours' if hourly else 'yearmonthdate'}(period):T",
            title=f"{PERIOD} ({zone.key})",
            axis=alt.Axis(format=PERIOD_FORMAT, labelAngle=0),
        ),
        alt.Y("mentions:Q", title="Mentions"),
        alt.Color("sentiment_label:N", title="Sentiment", scale=SENTIMENT_SCALE),
        alt.Order("stack:Q"),
        alt.Opacity(
            "part:N", scale=alt.Scale(domain=["Complete", "So far (still running)"], range=[1, 0.45]), legend=None
        ),
        tooltip=[
            PERIOD_TIP,
            alt.Tooltip("sentiment_label:N", title="Sentiment"),
            alt.Tooltip("mentions:Q", title="Mentions", format=","),
            alt.Tooltip("part:N", title="Period"),
        ],
    ),
    key="volume",
    caption=SO_FAR,
    columns=[PERIOD_COLUMN, Column("sentiment", "Sentiment", "words"), Column("mentions", "Mentions", "count")],
)
chart_block(
    "Net sentiment score",
    data.net_sentiment,
    alt.Chart(chart_frame(data.net_sentiment, zone))
    .mark_line(point=True)
    .encode(
        alt.X("period:T", title=f"{PERIOD} ({zone.key})", axis=alt.Axis(format=PERIOD_FORMAT, labelAngle=0)),
        alt.Y("net_sentiment:Q", title="Net sentiment", scale=alt.Scale(domain=[-100, 100])),
        tooltip=[
            PERIOD_TIP,
            alt.Tooltip("net_sentiment:Q", title="Net sentiment", format="+.1f"),
            alt.Tooltip("classified:Q", title="Classified mentions", format=","),
        ],
    ),
    key="net_sentiment",
    caption="Positive minus negative mentions, as % of the classified ones (−100 to +100)",
    columns=[
        PERIOD_COLUMN,
        Column("positive", "Positive", "count"),
        Column("negative", "Negative", "count"),
        Column("classified", "Classified", "count"),
        Column("net_sentiment", "Net sentiment", "score"),
    ],
)

left, right = st.columns(2)
with left:
    voice = data.share_of_voice.assign(kind=data.share_of_voice["is_competitor"].map({True: "Competitor"}))
    voice["kind"] = voice["kind"].fillna("Our brand")
    chart_block(
        "Share of voice",
        data.share_of_voice,
        alt.Chart(voice)
        .mark_bar()
        .encode(
            alt.X("share:Q", title="Share of mentions (%)"),
            alt.Y("brand:N", sort="-x", title=None),
            alt.Color("kind:N", title=None, scale=BRAND_KIND_SCALE, legend=alt.Legend(orient="bottom")),
            tooltip=[
                alt.Tooltip("brand:N", title="Brand"),
                alt.Tooltip("kind:N", title="Type"),
                alt.Tooltip("mentions:Q", title="Mentions", format=","),
                alt.Tooltip("share:Q", title="Share (%)", format=".0f"),
                *change_tips(share=True),
            ],
        ),
        key="share_of_voice",
        caption=f"Chosen brands and their configured competitors; {EARLIER}",
        columns=[
            Column("brand", "Brand"),
            Column("is_competitor", "Type", labels={True: "Competitor", False: "Our brand"}),
            Column("mentions", "Mentions", "count"),
            Column("share", "Share", "pct"),
            *change_columns(share=True),
        ],
    )
with right:
    mix = labelled(data.urgency_mix, urgency_label="urgency")
    chart_block(
        "Urgency mix",
        data.urgency_mix,
        alt.Chart(mix)
        .mark_bar()
        .encode(
            alt.X("mentions:Q", title="Mentions"),
            alt.Y("urgency_label:N", sort=[label(u) for u in URGENCY_ORDER], title=None),
            alt.Color("urgency_label:N", scale=URGENCY_SCALE, legend=None),
            tooltip=[
                alt.Tooltip("urgency_label:N", title="Urgency"),
                alt.Tooltip("mentions:Q", title="Mentions", format=","),
                alt.Tooltip("share:Q", title="Share (%)", format=".0f"),
                *change_tips(),
            ],
        ),
        key="urgency_mix",
        caption=f"Most urgent first; {EARLIER}",
        columns=[
            Column("urgency", "Urgency", "words"),
            Column("mentions", "Mentions", "count"),
            Column("share", "Share", "pct"),
            *change_columns(),
        ],
    )

left, right = st.columns(2)
with left:
    chart_block(
        "Top topics",
        data.top_topics,
        alt.Chart(labelled(data.top_topics, topic_label="topic"))
        .mark_bar(color=SINGLE)
        .encode(
            alt.X("mentions:Q", title="Mentions"),
            alt.Y("topic_label:N", sort="-x", title=None),
            tooltip=[
                alt.Tooltip("topic_label:N", title="Topic"),
                alt.Tooltip("mentions:Q", title="Mentions", format=","),
                *change_tips(),
            ],
        ),
        key="top_topics",
        caption=f"The ten most frequent; {EARLIER}",
        columns=[
            Column("topic", "Topic", "words"),
            Column("mentions", "Mentions", "count"),
            Column("share", "Share", "pct"),
            *change_columns(),
        ],
    )
with right:
    chart_block(
        "Most influential authors",
        data.top_authors,
        alt.Chart(plain_frame(labelled(data.top_authors, platform_label="platform"), 80))
        .mark_bar(color=SINGLE)
        .encode(
            alt.X("followers:Q", title="Reach (followers)"),
            alt.Y("handle:N", sort="-x", title=None),
            tooltip=[
                alt.Tooltip("platform_label:N", title="Platform"),
                alt.Tooltip("handle:N", title="Handle"),
                alt.Tooltip("name:N", title="Name"),
                alt.Tooltip("followers:Q", title="Followers", format=","),
                alt.Tooltip("mentions:Q", title="Mentions"),
                alt.Tooltip("negative:Q", title="Negative"),
            ],
        ),
        key="top_authors",
        caption="Authors who mentioned the brands in the range, by reach",
        columns=[
            Column("platform", "Platform", "words"),
            Column("handle", "Handle"),
            Column("name", "Name"),
            Column("followers", "Followers", "count"),
            Column("verified", "Verified", labels={True: "Yes", False: "No"}),
            Column("mentions", "Mentions", "count"),
            Column("negative", "Negative", "count"),
            Column("engagement", "Engagement", "count"),
        ],
    )

# --- team -------------------------------------------------------------------------------------------------------

st.divider()
DURATION_COLUMNS = [
    Column("median_first_response_s", "Median first response", "duration"),
    Column("p90_first_response_s", "90th percentile first response", "duration"),
]
DURATION_TIPS = [
    alt.Tooltip("median_label:N", title="Median first response"),
    alt.Tooltip("p90_label:N", title="90th percentile first response"),
]


def with_durations(frame: pd.DataFrame) -> pd.DataFrame:
    """Response times in words for tooltips (``34 min``, ``2.5 h``)."""
    return frame.assign(
        median_label=frame["median_first_response_s"].map(seconds_label),
        p90_label=frame["p90_first_response_s"].map(seconds_label),
    )


dimension = (
    st.segmented_control(
        "SLA by", ["brand", "platform", "agent", "urgency"], default="urgency", key="d_sla_dim", format_func=words
    )
    or "urgency"
)
by = data.sla[data.sla["dimension"] == dimension]
named = dimension in ("brand", "agent")  # names stay as spelt; platforms and urgencies read in words
grouped = by.assign(group_label=by["group"].map(name_words if named else words))
coloured = alt.Color("group_label:N", scale=URGENCY_SCALE, legend=None) if dimension == "urgency" else alt.value(SINGLE)
chart_block(
    "SLA compliance",
    by,
    alt.Chart(with_durations(grouped))
    .mark_bar()
    .encode(
        alt.X("within_sla_pct:Q", title="% within SLA", scale=alt.Scale(domain=[0, 100])),
        alt.Y("group_label:N", title=None, sort=[label(u) for u in URGENCY_ORDER] if dimension == "urgency" else "-x"),
        color=coloured,
        tooltip=[
            alt.Tooltip("group_label:N", title=words(dimension)),
            alt.Tooltip("within_sla_pct:Q", title="% within SLA", format=".0f"),
            alt.Tooltip("judged:Q", title="Mentions judged", format=","),
            *DURATION_TIPS,
        ],
    ),
    key=f"sla_{dimension}",
    caption="First response against each mention's due time; unanswered past it are misses",
    columns=[
        Column("group", words(dimension), "name" if named else "words"),
        Column("mentions", "Mentions", "count"),
        Column("answered", "Answered", "count"),
        Column("judged", "Judged", "count"),
        Column("within_sla_pct", "Within SLA", "pct"),
        *DURATION_COLUMNS,
    ],
)
left, right = st.columns(2)
with left:
    chart_block(
        "First response times",
        data.response_histogram,
        alt.Chart(by_urgency(data.response_histogram))
        .mark_bar()
        .encode(
            alt.X("bucket:N", sort=None, title="First reply within", axis=alt.Axis(labelAngle=0)),
            alt.Y("answered:Q", title="Answered mentions"),
            alt.Color("urgency_label:N", title="Urgency", scale=URGENCY_SCALE),
            alt.Order("urgency_rank:Q"),
            tooltip=[
                alt.Tooltip("bucket:N", title="First reply within"),
                alt.Tooltip("urgency_label:N", title="Urgency"),
                alt.Tooltip("answered:Q", title="Answered mentions", format=","),
            ],
        ),
        key="response_times",
        columns=[
            Column("bucket", "First reply within"),
            Column("urgency", "Urgency", "words"),
            Column("answered", "Answered", "count"),
        ],
    )
    times = [
        Column(
            "metric",
            "Time",
            labels={
                "first_response": "First response",
                "resolution": "Resolution",
                "ingestion_lag": "Ingestion lag (posted to stored)",
            },
        ),
        Column("count", "Mentions", "count"),
        Column("median_s", "Median", "duration"),
        Column("p90_s", "90th percentile", "duration"),
    ]
    st.dataframe(table_frame(data.times, times), hide_index=True, width="stretch")
with right:
    chart_block(
        "SLA compliance over time",
        data.sla_trend,
        alt.Chart(chart_frame(data.sla_trend, zone))
        .mark_line(point=True)
        .encode(
            alt.X("period:T", title=f"{PERIOD} ({zone.key})", axis=alt.Axis(format=PERIOD_FORMAT, labelAngle=0)),
            alt.Y("within_sla_pct:Q", title="% within SLA", scale=alt.Scale(domain=[0, 100])),
            tooltip=[
                PERIOD_TIP,
                alt.Tooltip("within_sla_pct:Q", title="% within SLA", format=".0f"),
                alt.Tooltip("judged:Q", title="Mentions judged", format=","),
            ],
        ),
        key="sla_trend",
        caption="By the day (or hour) the mentions arrived",
        columns=[
            PERIOD_COLUMN,
            Column("hit", "On time", "count"),
            Column("judged", "Judged", "count"),
            Column("within_sla_pct", "Within SLA", "pct"),
        ],
    )

left, right = st.columns(2)
with left:
    chart_block(
        "Backlog by age",
        data.backlog,
        alt.Chart(by_urgency(data.backlog))
        .mark_bar()
        .encode(
            alt.X("age:N", sort=None, title="Waiting for", axis=alt.Axis(labelAngle=0)),
            alt.Y("open:Q", title="Open mentions"),
            alt.Color("urgency_label:N", title="Urgency", scale=URGENCY_SCALE),
            alt.Order("urgency_rank:Q"),
            tooltip=[
                alt.Tooltip("age:N", title="Waiting for"),
                alt.Tooltip("urgency_label:N", title="Urgency"),
                alt.Tooltip("open:Q", title="Open mentions", format=","),
            ],
        ),
        key="backlog",
        caption="Open mentions now, whatever the date range",
        columns=[Column("age", "Waiting for"), Column("urgency", "Urgency", "words"), Column("open", "Open", "count")],
    )
with right:
    agents = data.agents
    chart_block(
        "Agents",
        agents,
        alt.Chart(with_durations(agents) if "median_first_response_s" in agents else agents)
        .mark_bar(color=SINGLE)
        .encode(
            alt.X("handled:Q", title="Mentions handled"),
            alt.Y("agent:N", sort="-x", title=None),
            tooltip=[
                alt.Tooltip("agent:N", title="Agent"),
                alt.Tooltip("handled:Q", title="Handled"),
                alt.Tooltip("resolved:Q", title="Resolved"),
                alt.Tooltip("open_now:Q", title="Open now"),
                alt.Tooltip("replies_sent:Q", title="Replies sent"),
                alt.Tooltip("within_sla_pct:Q", title="% within SLA", format=".0f"),
                *DURATION_TIPS[:1],
            ],
        ),
        key="agents",
        caption="Handled in the range; open now whatever the range",
        columns=[
            Column("agent", "Agent", "name"),
            Column("handled", "Handled", "count"),
            Column("resolved", "Resolved", "count"),
            Column("open_now", "Open now", "count"),
            Column("replies_sent", "Replies sent", "count"),
            Column("within_sla_pct", "Within SLA", "pct"),
            *DURATION_COLUMNS,
        ],
    )
