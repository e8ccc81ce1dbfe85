"""Explore: any filters plus full-text search, a paged table with chosen columns, and exports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import streamlit as st

from console.services.explore import DEFAULT_COLUMNS, PAGE_EXPORT_LIMIT, explore_page, export_bytes
from console.services.export import FORMATS
from console.services.mention_query import COLUMNS, MentionFilters
from console.ui.actions import shown_refusals
from console.ui.auth_gate import require_actor
from console.ui.resources import filter_choices, get_store, team_zone
from console.ui.safe import plain_frame
from storage.enums import MentionStatus

store = get_store()
actor = require_actor()
zone = team_zone()
MIME = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
    "jsonl": "application/x-ndjson",
}

choices = filter_choices(store.url, actor)
brands, platforms = choices.brands, choices.platforms

today = datetime.now(UTC).astimezone(zone).date()
with st.sidebar:
    st.subheader("Filters")
    picked = st.date_input("Created between", (today - timedelta(days=6), today), max_value=today, key="x_range")
    chosen_brands = st.multiselect("Brand", list(brands), key="x_brand")
    chosen_platforms = st.multiselect("Platform", platforms, key="x_platform")
    statuses = st.multiselect("Status", [s.value for s in MentionStatus], key="x_status")
    sentiments = st.multiselect("Sentiment", ["negative", "neutral", "positive"], key="x_sentiment")
    urgencies = st.multiselect("Urgency", ["critical", "high", "normal", "low"], key="x_urgency")
    topics = st.text_input("Topics (comma-separated)", key="x_topics")
    brand_posts = st.checkbox("Include the brands' own posts", value=False, key="x_brand_posts")

st.title("Explore")
search = st.text_input("Search the text", placeholder="all of these words", key="x_search")
columns = st.multiselect("Columns", [c.name for c in COLUMNS], default=list(DEFAULT_COLUMNS), key="x_columns")

days = list(picked) if isinstance(picked, tuple | list) else [picked]
first, last = days[0], days[-1]
filters = MentionFilters(
    since=datetime(first.year, first.month, first.day, tzinfo=zone).astimezone(UTC),
    until=(datetime(last.year, last.month, last.day, tzinfo=zone) + timedelta(days=1)).astimezone(UTC),
    brand_ids=[brands[b] for b in chosen_brands],
    platforms=chosen_platforms,
    statuses=statuses,
    sentiments=sentiments,
    urgencies=urgencies,
    search=search,
    topics=[t.strip() for t in topics.split(",") if t.strip()],
    include_brand_posts=brand_posts,
)
if st.session_state.get("x_last_filters") != filters:
    st.session_state["x_last_filters"] = filters
    st.session_state["x_page"] = 0
page_no = st.session_state.get("x_page", 0)

with store.read() as session:
    result = explore_page(session, actor, filters, columns or DEFAULT_COLUMNS, page=page_no)

st.caption(f"{result.total:,} mentions match · times in UTC (column names end in _utc) · newest first")
if result.rows.empty:
    st.info("No mentions match these filters.")
else:
    st.dataframe(plain_frame(result.rows), hide_index=True, width="stretch")  # mention data: visible controls
    prev_col, info_col, next_col = st.columns([1, 3, 1])
    if prev_col.button("← Previous", disabled=page_no == 0, key="x_prev"):
        st.session_state["x_page"] = page_no - 1
        st.rerun()
    info_col.caption(f"Page {page_no + 1} of {result.pages:,}")
    if next_col.button("Next →", disabled=page_no + 1 >= result.pages, key="x_next"):
        st.session_state["x_page"] = page_no + 1
        st.rerun()

st.subheader("Export")
st.caption(
    "Every mention field plus the current classification; CSV and Excel cells that could run as formulas are quoted."
)
if result.total > PAGE_EXPORT_LIMIT:
    st.warning(
        f"{result.total:,} rows is more than the page exports ({PAGE_EXPORT_LIMIT:,}). "
        "Use the command line: `mentiondesk export --format parquet --since … --out FILE`."
    )
elif result.total:
    fmt = st.segmented_control("Format", FORMATS, default="csv", key="x_format") or "csv"
    if st.button("Prepare file", key="x_prepare", icon=":material/file_export:"):
        with shown_refusals("Export"), store.read() as session, st.spinner(f"Writing {result.total:,} rows…"):
            payload, rows = export_bytes(session, actor, filters, fmt)
            st.session_state["x_export"] = (fmt, payload, rows)
    prepared = st.session_state.get("x_export")
    if prepared and prepared[0] == fmt:
        st.download_button(
            f"Download {prepared[2]:,} rows as {fmt}",
            prepared[1],
            file_name=f"mentions.{fmt}",
            mime=MIME[fmt],
            key="x_download",
            icon=":material/download:",
        )
