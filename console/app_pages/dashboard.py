"""Dashboard: reputation and team performance for a date range, in the team's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import altair as alt
import streamlit as st

from console.services.alerts import recent_alerts, summary_line
from console.services.dashboard import DashboardFilters, dashboard_bundle
from console.services.dashboard_team import seconds_label
from console.ui.chart_block import chart_block, chart_frame
from console.ui.format import local_time
from console.ui.resources import filter_choices, get_config, get_store, team_zone
from console.ui.safe import escape_markdown

store = get_store()
zone = team_zone()
SENTIMENT_COLOURS = alt.Scale(
    domain=["negative", "neutral", "positive", "unclassified"], range=["#d62728", "#9e9e9e", "#2ca02c", "#dddddd"]
)

choices = filter_choices(store.url)
brands, platforms = choices.brands, choices.platforms

today = datetime.now(UTC).astimezone(zone).date()


def _last(days: int) -> None:
    """Quick ranges, set before the date widget is drawn (a button callback may do that)."""
    st.session_state["d_range"] = (today - timedelta(days=days - 1), today)


with st.sidebar:
    st.subheader("Filters")
    for column, days in zip(st.columns(3), (7, 30, 90), strict=True):
        column.button(f"{days}d", key=f"d_last_{days}", on_click=_last, args=(days,), help=f"The last {days} days")
    picked = st.date_input("Date range", (today - timedelta(days=29), today), max_value=today, key="d_range")
    chosen_brands = st.multiselect("Brand", list(brands), key="d_brand")
    chosen_platforms = st.multiselect("Platform", platforms, key="d_platform")


def _bounds(value: object) -> tuple[date, date]:
    days = list(value) if isinstance(value, tuple | list) else [value]
    return days[0], days[-1]  # a half-picked range (one day) shows that day


first_day, last_day = _bounds(picked)
start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=zone)
end = datetime(last_day.year, last_day.month, last_day.day, tzinfo=zone) + timedelta(days=1)
filters = DashboardFilters(
    start.astimezone(UTC), end.astimezone(UTC), [brands[b] for b in chosen_brands], chosen_platforms,
    timezone=get_config().team.timezone,
)  # fmt: skip

st.title("Dashboard")
span = (end - start).days
st.caption(
    f"{first_day:%d %b %Y} – {last_day:%d %b %Y} ({span} days) · times in {zone.key} · "
    f"compared with the {span} days before"
)

with store.read() as session, st.spinner("Computing…"):
    data = dashboard_bundle(session, filters)
    alerts = recent_alerts(session, datetime.now(UTC) - timedelta(days=7), filters.brand_ids)


for alert in alerts[:5]:
    state = "ongoing" if alert.ended_at is None else f"ended {local_time(alert.ended_at, zone)}"
    st.warning(f"**{escape_markdown(summary_line(alert))}** ({state})", icon=":material/warning:")

h = data.headline
sla_all = data.sla[data.sla["dimension"] == "all"]
within = sla_all["within_sla_pct"].iloc[0] if not sla_all.empty else None
median = sla_all["median_first_response_s"].iloc[0] if not sla_all.empty else None
open_now = int(data.backlog["open"].sum()) if not data.backlog.empty else 0
c1, c2, c3, c4, c5 = st.columns(5)
c1.metric("Mentions", f"{h['current_mentions']:,}", f"{h['current_mentions'] - h['previous_mentions']:+,}")
nss, before = h["current_net_sentiment"], h["previous_net_sentiment"]
c2.metric(
    "Net sentiment",
    "—" if nss is None else f"{nss:+.1f}",
    None if nss is None or before is None else f"{nss - before:+.1f}",
)
c3.metric("Within SLA", "—" if within is None or within != within else f"{within:.0f}%")
c4.metric("Median first response", seconds_label(median))
c5.metric("Open now", f"{open_now:,}")

unit = "Hour" if filters.granularity == "hour" else "Day"
period_title = f"{unit} ({zone.key})"
period_axis = alt.X("period:T", title=period_title)

volume = chart_frame(data.volume, zone)
chart_block(
    "Volume by sentiment", data.volume,
    alt.Chart(volume).mark_bar(stroke="white", strokeWidth=0.5).encode(  # a bar spans its whole hour or day
        alt.X(f"{'yearmonthdatehours' if unit == 'Hour' else 'yearmonthdate'}(period):T", title=period_title,
              axis=alt.Axis(format="%d %b %H:%M" if unit == "Hour" else "%a %d %b")),
        alt.Y("mentions:Q", title="Mentions"), alt.Color("sentiment:N", scale=SENTIMENT_COLOURS),
        tooltip=["period:T", "sentiment:N", "mentions:Q"]),
    key="volume",
)  # fmt: skip
nss_frame = chart_frame(data.net_sentiment, zone)
chart_block(
    "Net sentiment score", data.net_sentiment,
    alt.Chart(nss_frame).mark_line(point=True).encode(period_axis,
        alt.Y("net_sentiment:Q", title="Positive − negative, % of classified", scale=alt.Scale(domain=[-100, 100])),
        tooltip=["period:T", "net_sentiment:Q", "classified:Q"]),
    key="net_sentiment", caption="(positive − negative) ÷ all classified mentions × 100",
)  # fmt: skip

left, right = st.columns(2)
with left:
    chart_block(
        "Share of voice", data.share_of_voice,
        alt.Chart(data.share_of_voice).mark_bar().encode(alt.X("share:Q", title="% of mentions"),
            alt.Y("brand:N", sort="-x"), alt.Color("is_competitor:N", title="Competitor"),
            tooltip=["brand", "mentions", "share", "share_change_pts"]),
        key="share_of_voice", caption="Chosen brands and their configured competitors; change in points",
    )  # fmt: skip
with right:
    chart_block(
        "Urgency mix", data.urgency_mix,
        alt.Chart(data.urgency_mix).mark_bar().encode(alt.X("mentions:Q"), alt.Y("urgency:N", sort=None),
            tooltip=["urgency", "mentions", "previous", "change_pct"]),
        key="urgency_mix", caption="Change against the previous period in the table",
    )  # fmt: skip

left, right = st.columns(2)
with left:
    chart_block(
        "Top topics", data.top_topics,
        alt.Chart(data.top_topics).mark_bar().encode(alt.X("mentions:Q"), alt.Y("topic:N", sort="-x"),
            tooltip=["topic", "mentions", "previous", "change_pct"]),
        key="top_topics",
    )  # fmt: skip
with right:
    chart_block(
        "Most influential authors", data.top_authors,
        alt.Chart(data.top_authors).mark_bar().encode(alt.X("followers:Q", title="Reach (followers)"),
            alt.Y("handle:N", sort="-x"), tooltip=["platform", "handle", "followers", "mentions", "negative"]),
        key="top_authors",
    )  # fmt: skip

st.divider()
sla = data.sla[data.sla["dimension"] != "all"]
dimension = st.segmented_control(
    "SLA by", ["brand", "platform", "agent", "urgency"], default="urgency", key="d_sla_dim"
)
by = sla[sla["dimension"] == (dimension or "urgency")]
chart_block(
    "SLA compliance", by,
    alt.Chart(by).mark_bar().encode(
        alt.X("within_sla_pct:Q", title="% within SLA", scale=alt.Scale(domain=[0, 100])), alt.Y("group:N", title=None),
        tooltip=["group", "within_sla_pct", "judged", "median_first_response_s", "p90_first_response_s"]),
    key=f"sla_{dimension}", caption="First response against each mention's due time; overdue unanswered are misses",
)  # fmt: skip
left, right = st.columns(2)
with left:
    chart_block(
        "First response times", data.response_histogram,
        alt.Chart(data.response_histogram).mark_bar().encode(alt.X("bucket:N", sort=None, title=None),
            alt.Y("answered:Q"), alt.Color("urgency:N"), tooltip=["bucket", "urgency", "answered"]),
        key="response_times",
    )  # fmt: skip
    times = data.times.assign(
        median=data.times["median_s"].map(seconds_label), p90=data.times["p90_s"].map(seconds_label)
    )
    st.dataframe(times, hide_index=True, width="stretch")
with right:
    trend = chart_frame(data.sla_trend, zone)
    chart_block(
        "SLA compliance over time", data.sla_trend,
        alt.Chart(trend).mark_line(point=True).encode(
            period_axis, alt.Y("within_sla_pct:Q", scale=alt.Scale(domain=[0, 100])),
            tooltip=["period:T", "within_sla_pct:Q", "judged:Q"]),
        key="sla_trend",
    )  # fmt: skip

left, right = st.columns(2)
with left:
    chart_block(
        "Backlog by age", data.backlog,
        alt.Chart(data.backlog).mark_bar().encode(alt.X("age:N", sort=None), alt.Y("open:Q"), alt.Color("urgency:N"),
            tooltip=["age", "urgency", "open"]),
        key="backlog", caption="Open mentions now, whatever the date range",
    )  # fmt: skip
with right:
    chart_block(
        "Agents", data.agents,
        alt.Chart(data.agents).mark_bar().encode(alt.X("handled:Q"), alt.Y("agent:N", sort="-x"),
            tooltip=["agent", "handled", "resolved", "open_now", "replies_sent", "within_sla_pct"]),
        key="agents",
    )  # fmt: skip
