"""Inbox: the queue of open mentions, with filters, live counts, bulk actions and a preview."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import streamlit as st

from console.services import triage
from console.services.inbox import (
    ASSIGNEE_ANYONE,
    ASSIGNEE_ME,
    ASSIGNEE_UNASSIGNED,
    COUNT_CAP,
    PAGE_SIZE,
    InboxFilters,
    InboxRow,
    count_assigned_to,
    count_by_status,
    count_queue,
    format_count,
    list_queue,
)
from console.services.permissions import Actor, Permission, PermissionDenied
from console.ui.auth_gate import require_actor
from console.ui.format import PLATFORM_ICONS, SENTIMENT_CHIPS, URGENCY_CHIPS, sla_words
from console.ui.inbox_table import queue_frame
from console.ui.resources import filter_choices, get_store, sla_clocks, team_zone
from console.ui.safe import escape_markdown
from storage.enums import OPEN_STATUSES, MentionStatus

store = get_store()
zone = team_zone()
actor: Actor = require_actor()
REPLYABLE = {"any": None, "replyable": True, "listen-only": False}

with store.read() as session:
    choices = filter_choices(store.url)
    brands, platforms, topics, languages = choices.brands, choices.platforms, choices.topics, choices.languages
    assignable = triage.assignable_users(session)


def _day_bounds(chosen: object) -> tuple[datetime | None, datetime | None]:
    """A date range picked in the team's zone, as UTC bounds (end day included)."""
    days = [d for d in (chosen if isinstance(chosen, tuple | list) else [chosen]) if isinstance(d, date)]
    if not days:
        return None, None
    start = datetime.combine(days[0], time.min, zone).astimezone(UTC)
    end = datetime.combine(days[-1] + timedelta(days=1), time.min, zone).astimezone(UTC)
    return start, end


with st.sidebar:
    st.subheader("Filters")
    mine_only = st.toggle("Assigned to me", key="f_mine")
    chosen_brands = st.multiselect("Brand", list(brands), key="f_brand")
    chosen_platforms = st.multiselect("Platform", platforms, format_func=lambda p: f"{PLATFORM_ICONS.get(p, '')} {p}",
                                      key="f_platform")  # fmt: skip
    chosen_statuses = st.multiselect(
        "Status", [s.value for s in MentionStatus], default=[s.value for s in OPEN_STATUSES], key="f_status"
    )
    chosen_sentiments = st.multiselect("Sentiment", list(SENTIMENT_CHIPS), key="f_sentiment")
    chosen_urgencies = st.multiselect("Urgency", list(URGENCY_CHIPS), key="f_urgency")
    chosen_topics = st.multiselect("Topic", topics, key="f_topic")
    chosen_languages = st.multiselect("Language", languages, key="f_language")
    assignee = st.radio("Assignee", [ASSIGNEE_ANYONE, ASSIGNEE_ME, ASSIGNEE_UNASSIGNED], horizontal=True,
                        key="f_assignee", disabled=mine_only)  # fmt: skip
    replyable = st.radio("Replyable", list(REPLYABLE), horizontal=True, key="f_replyable")
    date_range = st.date_input("Posted between", value=(), key="f_dates")
    search = st.text_input("Search text", key="f_search", placeholder="words in the post")

since, until = _day_bounds(date_range)
filters = InboxFilters(
    brand_ids=[brands[b] for b in chosen_brands], platforms=chosen_platforms, statuses=chosen_statuses,
    sentiments=chosen_sentiments, urgencies=chosen_urgencies, topics=chosen_topics, languages=chosen_languages,
    assignee=ASSIGNEE_ME if mine_only else assignee, me_id=actor.id, replyable=REPLYABLE[replyable],
    since=since, until=until, search=search,
)  # fmt: skip
if st.session_state.get("inbox_filters") != filters:  # new filters start at the first page
    st.session_state["inbox_filters"] = filters
    st.session_state["inbox_page"] = 0
page = st.session_state.get("inbox_page", 0)
filters = InboxFilters(**{**filters.__dict__, "page": page})

st.title("Inbox")


def open_conversation(mention_id: int) -> None:
    """Go to the conversation view (which claims the mention when the agent replies)."""
    st.session_state["open_mention_id"] = mention_id
    st.switch_page("app_pages/conversation.py")


@st.fragment(run_every=15)
def live_queue() -> None:
    """Counts and the queue refresh on their own; the selection is kept by mention id."""
    now = datetime.now(UTC)
    with store.read() as session:
        counts = count_by_status(session, filters)
        mine = count_assigned_to(session, actor.id)
        total = count_queue(session, filters)
        rows = list_queue(session, filters)
    cols = st.columns(len(counts) + 1)
    for col, (status, n) in zip(cols, counts.items(), strict=False):
        col.metric(status.capitalize(), format_count(n))
    cols[-1].metric("Assigned to me", f"{mine:,}")
    if not rows:
        st.info("No mentions match these filters.")
        return
    top = st.columns([2, 5])
    if top[0].button("Open most urgent", type="primary", icon=":material/bolt:", key="open_top"):
        # the most urgent one this agent can work on: unclaimed, or already theirs
        free = [r for r in rows if r.assignee_id in (None, actor.id)]
        open_conversation((free or rows)[0].id)
    top[1].caption(f"Updated {now.astimezone(zone):%H:%M:%S} · refreshes every 15 s")
    frame = queue_frame(rows, now, sla_clocks(store.url), actor.username)
    event = st.dataframe(frame, hide_index=True, use_container_width=True,
                         on_select="rerun", selection_mode="multi-row", key="inbox_table",
                         column_config={"ID": None})  # fmt: skip
    picked = [rows[i].id for i in (event.selection.rows if event and event.selection else []) if i < len(rows)]
    if picked:
        st.session_state["inbox_selected"] = picked
    selected = [i for i in st.session_state.get("inbox_selected", []) if i in {r.id for r in rows}]
    _pager(total, len(rows))
    if len(selected) == 1:
        _preview(next(r for r in rows if r.id == selected[0]), now)
    elif len(selected) > 1:
        _bulk(selected)
    else:
        st.caption("Select a row to preview it, or several rows for bulk actions.")


def _pager(total: int, shown: int) -> None:
    prev, info, nxt = st.columns([1, 3, 1])
    if prev.button("← Previous", disabled=page == 0, key="page_prev"):
        st.session_state["inbox_page"] = page - 1
        st.rerun()
    pages = f"{max(1, -(-total // PAGE_SIZE)):,}" if total <= COUNT_CAP else "many"
    info.caption(f"Page {page + 1} of {pages} · {format_count(total)} mentions · "
                 "sorted by priority, then SLA due time")  # fmt: skip
    if nxt.button("Next →", disabled=shown < PAGE_SIZE or (page + 1) * PAGE_SIZE >= total, key="page_next"):
        st.session_state["inbox_page"] = page + 1
        st.rerun()


def _preview(row: InboxRow, now: datetime) -> None:
    st.divider()
    st.markdown(f"**{PLATFORM_ICONS.get(row.platform, row.platform)} @{escape_markdown(row.handle or 'unknown')}** "
                f"· {escape_markdown(row.brand or 'no brand')} · "
                f"{sla_words(sla_clocks(store.url).read(row, now))}")  # fmt: skip
    st.markdown(escape_markdown(row.text))
    if row.assignee and row.assignee != actor.username:
        st.warning(f"{row.assignee} is handling this mention.")
    if st.button("Open conversation", icon=":material/forum:", key="open_selected"):
        open_conversation(row.id)


def _bulk(selected: list[int]) -> None:
    st.divider()
    st.markdown(f"**{len(selected)} selected** · bulk actions")
    a, b, c = st.columns(3)
    people = list(assignable) if actor.can(Permission.REASSIGN) else [actor.username]
    who = a.selectbox("Assign to", ["(unassign)", *people], key="bulk_who")
    status = b.selectbox("Set status", [s.value for s in MentionStatus], key="bulk_status")
    tag = c.text_input("Tag", key="bulk_tag")
    try:
        with store.transaction() as session:
            if a.button("Assign", key="bulk_assign"):
                done = triage.bulk_assign(session, actor, selected, assignable.get(who))
                st.toast(f"Assigned {len(done.changed)}; skipped {len(done.skipped)}")
            if b.button("Set status", key="bulk_set_status"):
                done = triage.bulk_set_status(session, actor, selected, status)
                st.toast(f"{len(done.changed)} now {status}")
            if c.button("Add tag", key="bulk_add_tag", disabled=not tag.strip()):
                done = triage.bulk_tag(session, actor, selected, tag)
                st.toast(f"Tagged {len(done.changed)}")
    except (PermissionDenied, triage.TriageError) as exc:
        st.error(str(exc))


live_queue()
