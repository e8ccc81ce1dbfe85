"""Inbox: the queue of open mentions, with filters and a detail panel."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from console.services.inbox import (
    PAGE_SIZE,
    InboxFilters,
    brand_choices,
    count_by_status,
    list_queue,
    mention_detail,
    platform_choices,
)
from console.ui.format import PLATFORM_ICONS, SENTIMENT_CHIPS, URGENCY_CHIPS, age, local_time, sla_state
from console.ui.resources import get_store, team_zone
from console.ui.safe import escape_markdown, excerpt
from storage.enums import OPEN_STATUSES, MentionStatus

store = get_store()
zone = team_zone()

with store.read() as session:
    brands = brand_choices(session)
    platforms = platform_choices(session)

with st.sidebar:
    st.subheader("Filters")
    chosen_brands = st.multiselect("Brand", list(brands), key="f_brand")
    chosen_platforms = st.multiselect("Platform", platforms, key="f_platform")
    chosen_statuses = st.multiselect(
        "Status", [s.value for s in MentionStatus], default=[s.value for s in OPEN_STATUSES], key="f_status"
    )
    chosen_sentiments = st.multiselect("Sentiment", list(SENTIMENT_CHIPS), key="f_sentiment")
    search = st.text_input("Search text", key="f_search")

filters = InboxFilters(
    brand_ids=[brands[b] for b in chosen_brands],
    platforms=chosen_platforms,
    statuses=chosen_statuses,
    sentiments=chosen_sentiments,
    search=search,
    page=st.session_state.get("inbox_page", 0),
)

st.title("Inbox")


@st.fragment(run_every=10)
def live_counts() -> None:
    """Counters refresh on their own while the agent works."""
    with store.read() as session:
        counts = count_by_status(session, filters)
    cols = st.columns(len(counts))
    for col, (status, n) in zip(cols, counts.items(), strict=True):
        col.metric(status.capitalize(), f"{n:,}")


live_counts()

with store.read() as session:
    rows = list_queue(session, filters)

now = datetime.now(UTC)
table = pd.DataFrame(
    [
        {
            "": PLATFORM_ICONS.get(r.platform, r.platform),
            "Author": f"@{r.handle}" if r.handle else "—",
            "Followers": r.followers,
            "Text": excerpt(r.text),
            "Age": age(r.created_at, now),
            "Sentiment": SENTIMENT_CHIPS.get(r.sentiment or "", "—"),
            "Urgency": URGENCY_CHIPS.get(r.urgency or "", "—"),
            "Priority": r.priority,
            "SLA": sla_state(r.sla_due_at, now),
            "Status": r.status,
            "Assignee": r.assignee or "unassigned",
            "Brand": r.brand or "—",
        }
        for r in rows
    ]
)

if table.empty:
    st.info("No mentions match these filters.")
    st.stop()

event = st.dataframe(
    table,
    hide_index=True,
    use_container_width=True,
    on_select="rerun",
    selection_mode="single-row",
    key="inbox_table",
)
pager_prev, pager_info, pager_next = st.columns([1, 3, 1])
page = filters.page
if pager_prev.button("← Previous", disabled=page == 0):
    st.session_state["inbox_page"] = page - 1
    st.rerun()
pager_info.caption(f"Page {page + 1} · {len(rows)} shown · sorted by priority, then SLA due time")
if pager_next.button("Next →", disabled=len(rows) < PAGE_SIZE):
    st.session_state["inbox_page"] = page + 1
    st.rerun()

selected = event.selection.rows if event and event.selection else []
if not selected:
    st.caption("Select a row to see the whole conversation.")
    st.stop()

with store.read() as session:
    detail = mention_detail(session, rows[selected[0]].id)
if detail is None:
    st.warning("That mention is gone.")
    st.stop()

m = detail.mention
st.divider()
left, right = st.columns([3, 2])
with left:
    handle = f"@{detail.author.handle}" if detail.author else "unknown author"
    st.subheader(f"{PLATFORM_ICONS.get(m.platform, m.platform)} {handle}")
    st.markdown(escape_markdown(m.text))
    st.caption(f"{local_time(m.created_at, zone)} · {detail.brand or 'no brand'} · status {m.status}")
    if not m.replyable:
        st.info(f"Listen-only: {m.replyable_reason}")
    st.markdown("**Conversation**")
    for post in detail.thread:
        who = "🏢 brand" if post.is_brand_post else "👤"
        marker = " ← this mention" if post.id == m.id else ""
        st.markdown(f"{who} {local_time(post.created_at, zone)}{marker}: {escape_markdown(post.text)}")
    for reply in detail.replies:
        st.markdown(f"↪️ reply ({reply.state}): {escape_markdown(reply.text)}")
with right:
    st.markdown("**Author**")
    if detail.author:
        a = detail.author
        badges = " ".join(b for b, on in (("✔ verified", a.verified), ("⭐ VIP", a.is_vip)) if on)
        st.write(f"{a.display_name or a.handle} · {a.followers:,} followers {badges}")
    st.markdown("**Classification**")
    c = detail.classification
    if c:
        st.write(
            f"{SENTIMENT_CHIPS.get(c.sentiment, c.sentiment)} · {URGENCY_CHIPS.get(c.urgency, c.urgency)}"
        )
        st.caption(f"{c.model_name} {c.model_version} · p(neg) {c.p_negative:.2f} · priority {c.priority}")
    else:
        st.caption("Not classified yet.")
    st.markdown("**SLA**")
    st.write(sla_state(m.sla_due_at, now))
    st.write(f"Assignee: {detail.assignee or 'unassigned'}")
    for note in detail.notes:
        st.caption(f"📝 {escape_markdown(note.body)}")
