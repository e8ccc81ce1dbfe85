"""Inbox: the queue, its view kept in the URL, saved views with counts, a preview, bulk actions.

Everything that makes a view (filters, sort, page, selection) lives in ``st.query_params`` (see
:mod:`console.ui.query_state`).  Every run reads the view from the URL and shows it in the widgets, so a reload,
the back button, a shared link and coming back from a conversation all show what the URL says; only a run in
which the agent changed a filter takes the widgets' view, and writes it to the URL as a new history entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from console.services import triage
from console.services.escalations import queues_of, recent_escalation_alerts
from console.services.inbox import (
    COUNT_CAP,
    PAGE_SIZE,
    SORTS,
    InboxRow,
    count_assigned_to,
    count_by_status,
    count_queue,
    format_count,
    list_queue,
)
from console.services.permissions import Actor, Permission
from console.services.saved_views import (
    ALL_OPEN,
    ESCALATED_TO_ME,
    ViewEntry,
    delete_view,
    list_views,
    rename_view,
    save_view,
    view_counts,
)
from console.ui.actions import database_errors_in_words, run_action, shown_refusals
from console.ui.auth_gate import require_actor
from console.ui.format import PLATFORM_ICONS, SENTIMENT_CHIPS, URGENCY_CHIPS, platform_words, sla_words
from console.ui.inbox_table import (
    ROW_HEIGHT,
    SHOWN,
    TABLE_HEIGHT,
    card_line,
    card_meta,
    column_config,
    preview_facts,
    queue_frame,
    queue_words,
    urgency_cell,
)
from console.ui.query_state import (
    ASSIGNEE_CHOICES,
    BREACHING_CHOICES,
    REPLYABLE_CHOICES,
    InboxView,
    Params,
    conversation_link,
    conversation_params,
    inbox_view,
    matching_view,
    parse_query,
    query_string,
    saved_query,
    view_from_widgets,
    view_params,
    widget_state,
)
from console.ui.resources import filter_choices, get_config, get_store, sla_clocks, team_zone
from console.ui.safe import md, plain
from storage.enums import MentionStatus

store, zone, cfg = get_store(), team_zone(), get_config()
actor: Actor = require_actor()
EDITED, SELECTED = "inbox_edited", "inbox_selected"
ROW_IDS, CLICKED, PICK = "inbox_row_ids", "inbox_clicked", "inbox_view_pick"
ALERTS_SINCE, NEW_ESCALATIONS = "inbox_alerts_since", "inbox_new_escalations"
NOTICE = "inbox_notice"  # a line the Conversation page leaves for the Inbox ("That was the last mention…")
CONVERSATION = "app_pages/conversation.py"
CSS = """<style>
[data-testid="stMainBlockContainer"] { padding: 2.6rem 1.5rem 2rem 1.5rem; }
.st-key-inbox_head h1 { font-size: 1.55rem; padding: 0.15rem 0 0 0; }
[data-testid="stMain"] [data-testid="stVerticalBlock"] { gap: 0.55rem; }
.st-key-inbox_preview p { margin-bottom: 0.15rem; }
.st-key-inbox_head [data-testid="stButtonGroup"] > div { flex-wrap: wrap; row-gap: 0.35rem; }
@media (min-width: 641px) { .st-key-inbox_cards { display: none !important; } }
@media (max-width: 640px) {
  .st-key-inbox_wide { display: none !important; }
  [data-testid="stMainBlockContainer"] { padding: 3.75rem 0.75rem 2rem 0.75rem; }
  [class*="st-key-card_"] { padding: 0.55rem 0.75rem !important; gap: 0.25rem !important; }
}
</style>"""

st.html(CSS)
my_queues = queues_of(actor, cfg.escalation)
with store.read() as session:
    choices = filter_choices(store.url, actor)
    assignable = triage.assignable_users(session)
    views: list[ViewEntry] = list_views(session, actor, cfg.escalation)
queue_labels = {q.name: q.label for q in cfg.escalation.queues}


def seed(view: InboxView) -> None:
    """Make the widgets show ``view`` (before they are drawn, or from a callback).

    A range the agent is still picking (one day so far) is left alone, or the second click could never land.
    """
    for key, value in widget_state(view, choices.brands).items():
        picking = key == "f_dates" and len(st.session_state.get(key) or ()) == 1
        if not picking:
            st.session_state[key] = value
    st.session_state[SELECTED] = view.selected


def edited() -> None:
    """``on_change`` of every filter widget: this run takes the view from the widgets, not the URL."""
    st.session_state[EDITED] = True


def current_view() -> InboxView:
    """The URL's view, unless the agent has just changed a filter (then the widgets', written to the URL).

    The URL is the truth because the widgets' state cannot be trusted after a trip to another page: coming back
    (back button, link, switch) can find their keys holding defaults the browser sent, not what was shown.  The
    widgets are seeded with the result on every run: a value set in a run that a rerun cut short never reaches
    the browser, which would show (and later send back) the widget's default.
    """
    from_url = inbox_view(st.query_params, actor.id, zone=zone)
    if not st.session_state.pop(EDITED, False):
        seed(from_url)
        return from_url
    view = view_from_widgets(
        st.session_state,
        actor.id,
        zone=zone,
        page=from_url.filters.page,
        selected=from_url.selected,
        brands=choices.brands,
    )
    if saved_query(view) != saved_query(from_url):  # new filters start at the first page
        view = replace(view, filters=replace(view.filters, page=0))
    seed(view)
    show(view)
    return view


def show(view: InboxView) -> None:
    """Put ``view`` in the address bar (a new history entry) unless it is there already."""
    if query_string(view) != query_string(inbox_view(st.query_params, actor.id, zone=zone)):
        st.query_params.from_dict(view_params(view))


@st.cache_data(ttl=30, show_spinner=False)
def cached_view_counts(url: str, actor: Actor, zone_name: str, queries: tuple[tuple[str, str], ...]) -> dict[str, int]:
    """Each view's capped count, shared for 30 s (the list itself refreshes every 15 s)."""
    with get_store().read() as session:
        tz = ZoneInfo(zone_name)
        return view_counts(session, actor, {name: parse_query(q, actor.id, zone=tz).filters for name, q in queries})


def pick_view() -> None:
    """A view pill was clicked: show that view (clicking the shown one again goes back to all open)."""
    name = st.session_state.get(PICK) or ALL_OPEN
    entry = next((v for v in views if v.name == name), views[0])
    seed(parse_query(entry.query, actor.id, zone=zone))
    edited()
    if name == ESCALATED_TO_ME:
        st.session_state[NEW_ESCALATIONS] = 0


def options(known: Sequence[Any], key: str) -> list[Any]:
    """A widget's choices plus any value the URL asked for that is not (yet) among them."""
    extra = [v for v in st.session_state.get(key) or () if v not in known]
    return [*known, *extra]


def link(label: str, params: Params, url: str, *, icon: str | None = None) -> None:
    """A link to the Conversation page with ``params`` (a plain link when the page runs alone, as in tests)."""
    try:
        st.page_link(CONVERSATION, label=label, icon=icon, query_params=params)
    except StreamlitPageNotFoundError:
        st.markdown(f"[{label}]({url})")


view = current_view()

# --- header: title and saved views with counts ----------------------------------------------------------------
with st.container(key="inbox_head"):
    title, pills, tools = st.columns([1.1, 8, 1.6], vertical_alignment="center")
    title.title("Inbox")
    counts = cached_view_counts(store.url, actor, zone.key, tuple((v.name, v.query) for v in views))
    st.session_state[PICK] = matching_view(view, {v.name: v.query for v in views}, actor.id, zone)
    pills.pills(
        "Views",
        [v.name for v in views],
        key=PICK,
        on_change=pick_view,
        label_visibility="collapsed",
        format_func=lambda n: f"{n} · {format_count(counts.get(n, 0))}",
    )
    with tools.popover("Views", icon=":material/bookmark:", width="stretch"):
        # forms, so typing a name and clicking the button is one step (a bare text input commits on blur)
        with st.form("view_save_form", border=False, clear_on_submit=True):
            name = st.text_input("Save this view as", key="view_name", max_chars=80, placeholder="e.g. Skyline neg.")
            if st.form_submit_button("Save view", icon=":material/bookmark_add:"):
                run_action("Save view", store, save_view, actor, name, saved_query(view))
        own = {v.id: v.name for v in views if not v.builtin}
        if own:
            st.divider()
            with st.form("view_edit_form", border=False):
                picked = st.selectbox("Your views", list(own), format_func=lambda i: own.get(i, ""), key="view_own")
                new_name = st.text_input("New name", key="view_rename_to", max_chars=80)
                a, b = st.columns(2)
                rename = a.form_submit_button("Rename")
                delete = b.form_submit_button("Delete", type="tertiary", icon=":material/delete:")
            if rename:
                run_action("Rename view", store, rename_view, actor, picked, new_name)
            if delete:
                run_action("Delete view", store, delete_view, actor, picked)

# --- filters, in the sidebar ----------------------------------------------------------------------------------
with st.sidebar:
    st.subheader("Filters")
    st.multiselect(
        "Brand",
        options(list(choices.brands), "f_brand"),
        key="f_brand",
        on_change=edited,
        format_func=lambda b: plain(b, 80) if isinstance(b, str) else f"brand {b}",
    )
    st.multiselect(
        "Platform",
        options(choices.platforms, "f_platform"),
        key="f_platform",
        on_change=edited,
        format_func=lambda p: f"{PLATFORM_ICONS.get(p, '')} {plain(p, 40)}",
    )
    st.multiselect(
        "Status", [s.value for s in MentionStatus], key="f_status", on_change=edited, placeholder="any status"
    )
    st.multiselect(
        "Sentiment",
        list(SENTIMENT_CHIPS),
        key="f_sentiment",
        on_change=edited,
        format_func=lambda s: SENTIMENT_CHIPS.get(s, s),
    )
    st.multiselect(
        "Urgency", list(URGENCY_CHIPS), key="f_urgency", on_change=edited, format_func=lambda u: URGENCY_CHIPS.get(u, u)
    )
    mine = st.toggle("Assigned to me", key="f_mine", on_change=edited)
    st.radio("Assignee", ASSIGNEE_CHOICES, horizontal=True, key="f_assignee", on_change=edited, disabled=mine)
    st.radio("Replyable", list(REPLYABLE_CHOICES), horizontal=True, key="f_replyable", on_change=edited)
    st.selectbox(
        "SLA due within",
        options(BREACHING_CHOICES, "f_breaching"),
        key="f_breaching",
        on_change=edited,
        format_func=lambda m: f"{m} min (or late)" if m else "any time",
    )
    st.multiselect(
        "Escalated to",
        options(list(queue_labels), "f_queue"),
        key="f_queue",
        on_change=edited,
        format_func=lambda q: queue_labels.get(q, q),
    )
    st.multiselect("Topic", options(choices.topics, "f_topic"), key="f_topic", on_change=edited, format_func=plain)
    st.multiselect(
        "Language", options(choices.languages, "f_language"), key="f_language", on_change=edited, format_func=plain
    )
    st.date_input("Posted between", key="f_dates", on_change=edited)
    st.text_input("Search text", key="f_search", placeholder="words in the post", on_change=edited)
    st.selectbox("Sort", list(SORTS), key="f_sort", on_change=edited, format_func=lambda s: SORTS.get(s, s))


# --- the live list --------------------------------------------------------------------------------------------
def open_conversation(mention_id: int, shown: InboxView) -> None:
    """Go to the conversation (which claims the mention when the agent replies), keeping the view."""
    st.switch_page(CONVERSATION, query_params=conversation_params(shown, mention_id))


def counts_line(counts: dict[str, int], mine: int, now: datetime) -> str:
    """One compact line instead of metric tiles."""
    parts = [f"{status} **{format_count(n)}**" for status, n in counts.items() if n]
    parts.append(f"assigned to me **{mine:,}**")
    return " · ".join(parts) + f" · updated {now.astimezone(zone):%H:%M:%S}"


def escalation_notice(now: datetime) -> None:
    """A toast for each new automatic escalation to my queues, and a banner counting them."""
    if not my_queues:
        return
    since = st.session_state.setdefault(ALERTS_SINCE, now)
    with store.read() as session:
        alerts = recent_escalation_alerts(session, actor, since, my_queues)
    for alert in alerts[:3]:
        label = md(str(alert.get("queue_label") or alert.get("queue")), 80)
        st.toast(f"🚨 Escalated to {label}: {md(str(alert.get('excerpt', '')), 100)}", icon="🚨")
    if alerts:
        st.session_state[ALERTS_SINCE] = max(a["at"] for a in alerts) + timedelta(microseconds=1)  # seen: not again
        st.session_state[NEW_ESCALATIONS] = st.session_state.get(NEW_ESCALATIONS, 0) + len(alerts)
    new = st.session_state.get(NEW_ESCALATIONS, 0)
    if new:
        st.warning(
            f"🚨 {new} new automatic escalation{'s' if new > 1 else ''} in your queues: open “{ESCALATED_TO_ME}” above."
        )


def clicked() -> None:
    """``on_select`` of the table: the agent ticked or unticked rows (the table's state is read only then)."""
    st.session_state[CLICKED] = True


def reconcile_selection(rows: list[InboxRow]) -> tuple[int, ...]:
    """The selection by mention id: the agent's click if there was one, else the view's (kept across refreshes).

    The table knows rows by position, which shift as the list refreshes; so the ids shown last time translate a
    click, and the selection is put back by position each run.  A click goes to the URL as ``sel``.
    """
    ids = [r.id for r in rows]
    selected = tuple(st.session_state.get(SELECTED, ()))
    table = st.session_state.get("inbox_table")
    if st.session_state.pop(CLICKED, False) and table is not None:
        before = st.session_state.get(ROW_IDS, [])
        selected = tuple(before[i] for i in table["selection"]["rows"] if i < len(before))
    positions = [i for i, mention_id in enumerate(ids) if mention_id in set(selected)]
    st.session_state["inbox_table"] = {"selection": {"rows": positions, "columns": [], "cells": []}}
    st.session_state[ROW_IDS] = ids
    if selected != tuple(st.session_state.get(SELECTED, ())):
        st.session_state[SELECTED] = selected
        if selected:
            st.query_params["sel"] = [str(i) for i in selected]
        else:
            st.query_params.pop("sel", None)
    return selected


def go_to_page(page: int) -> None:
    """A pager button: the page is part of the view, so it goes to the URL (a history entry) before the rerun."""
    st.query_params.from_dict(view_params(replace(view, filters=replace(view.filters, page=page), selected=())))
    st.rerun()


@st.fragment(run_every=15)
@database_errors_in_words("inbox_queue")
def live_queue(shown: InboxView) -> None:
    """Counts and the list refresh on their own; the selection is kept by mention id."""
    now = datetime.now(UTC)
    filters = shown.filters
    with store.read() as session:
        counts = count_by_status(session, actor, filters)
        mine = count_assigned_to(session, actor)
        total = count_queue(session, actor, filters)
        rows = list_queue(session, actor, filters)
    escalation_notice(now)
    line, top = st.columns([5, 1.3], vertical_alignment="center")
    line.caption(counts_line(counts, mine, now))
    if not rows:
        st.info("No mentions match these filters.")
        return
    if top.button("Open most urgent", type="primary", icon=":material/bolt:", key="open_top", width="stretch"):
        # the most urgent one this agent can work on: unclaimed, or already theirs
        free = [r for r in rows if r.assignee_id in (None, actor.id)]
        open_conversation((free or rows)[0].id, shown)
    selected = reconcile_selection(rows)
    shown = replace(shown, selected=selected)
    by_id = {r.id: r for r in rows}
    with st.container(key="inbox_wide"):
        if len(selected) == 1 and selected[0] in by_id:
            preview(by_id[selected[0]], now, shown)
        elif len(selected) == 1:
            left_view(selected[0], shown)
        st.dataframe(
            queue_frame(rows, now, sla_clocks(store.url), actor.username),
            hide_index=True,
            width="stretch",
            height=TABLE_HEIGHT,
            row_height=ROW_HEIGHT,
            on_select=clicked,
            selection_mode="multi-row",
            key="inbox_table",
            column_order=SHOWN,
            column_config=column_config(),
        )
    with st.container(key="inbox_cards"):
        cards(rows, now, shown)
    pager(total, len(rows), filters.page, filters.sort)
    if len(selected) > 1:
        bulk(list(selected))
    elif not selected:
        st.caption("Select a row to preview it, or several rows for bulk actions.")


def preview(row: InboxRow, now: datetime, shown: InboxView) -> None:
    """The selected mention above the list: who, SLA, the post, and a link into the conversation."""
    with st.container(border=True, key="inbox_preview"):
        text, act = st.columns([6, 1.3], vertical_alignment="center")
        sla = sla_words(sla_clocks(store.url).read(row, now))
        escalated = f" · 🚨 {md(queue_words(row.escalation_queue))}" if row.escalation_queue else ""
        text.markdown(
            f"**{platform_words(row.platform)} @{md(row.handle or 'unknown', 80)}** · "
            f"{md(urgency_cell(row))} · {sla}{escalated}  \n"
            f"{md(row.text, 320)}"
        )
        text.caption(preview_facts(row, now))
        with act:
            link(
                "Open conversation",
                conversation_params(shown, row.id),
                conversation_link(shown, row.id),
                icon=":material/forum:",
            )
            if row.assignee and row.assignee != actor.username:
                st.caption(f"🔒 {md(row.assignee, 80)} has it")


def left_view(mention_id: int, shown: InboxView) -> None:
    """The selection is not on this page (claimed, answered or resolved since): say so, and keep a way back to it."""
    with st.container(border=True, key="inbox_preview"):
        text, act = st.columns([6, 1.3], vertical_alignment="center")
        text.caption(
            f"Case MD-{mention_id}, the selected mention, is no longer on this page of the view "
            "(it was claimed, answered or resolved, or the list moved on)."
        )
        with act:
            link(
                "Open conversation",
                conversation_params(shown, mention_id),
                conversation_link(shown, mention_id),
                icon=":material/forum:",
            )


def cards(rows: list[InboxRow], now: datetime, shown: InboxView) -> None:
    """The phone list: one small card per mention, each linking to its conversation."""
    clocks = sla_clocks(store.url)
    for row in rows:
        with st.container(border=True, key=f"card_{row.id}"):
            st.markdown(card_line(row))
            st.caption(md(row.text, 200))
            link(
                f"Open · {card_meta(row, now, clocks, actor.username)}",
                conversation_params(shown, row.id),
                conversation_link(shown, row.id),
            )


def pager(total: int, shown: int, page: int, sort: str) -> None:
    """Previous/next and where we are; the count is capped like the others ("many" pages past the cap)."""
    prev, info, nxt = st.columns([1, 4, 1])
    if prev.button("← Previous", disabled=page == 0, key="page_prev"):
        go_to_page(page - 1)
    pages = f"{max(1, -(-total // PAGE_SIZE)):,}" if total <= COUNT_CAP else "many"
    info.caption(f"Page {page + 1} of {pages} · {format_count(total)} mentions · sorted by {SORTS.get(sort, sort)}")
    if nxt.button("Next →", disabled=shown < PAGE_SIZE or (page + 1) * PAGE_SIZE >= total, key="page_next"):
        go_to_page(page + 1)


def bulk(selected: list[int]) -> None:
    """Assign, set the status of, or tag every selected mention; each action reports what it skipped."""
    st.markdown(f"**{len(selected)} selected** · bulk actions")
    a, b, c = st.columns(3)
    people = list(assignable) if actor.can(Permission.REASSIGN) else [actor.username]
    who = a.selectbox("Assign to", ["(unassign)", *people], key="bulk_who")
    status = b.selectbox("Set status", [s.value for s in MentionStatus], key="bulk_status")
    tag = c.text_input("Tag", key="bulk_tag")
    if a.button("Assign", key="bulk_assign"):
        with shown_refusals("Assign"), store.transaction() as session:
            done = triage.bulk_assign(session, actor, selected, assignable.get(who))
            st.toast(f"Assigned {len(done.changed)}; skipped {len(done.skipped)}")
    if b.button("Set status", key="bulk_set_status"):
        with shown_refusals("Set status"), store.transaction() as session:
            done = triage.bulk_set_status(session, actor, selected, status)
            st.toast(f"{len(done.changed)} now {status}")
    if c.button("Add tag", key="bulk_add_tag", disabled=not tag.strip()):
        with shown_refusals("Add tag"), store.transaction() as session:
            done = triage.bulk_tag(session, actor, selected, tag)
            st.toast(f"Tagged {len(done.changed)}")


if notice := st.session_state.pop(NOTICE, None):
    st.info(str(notice))
with st.container(key="inbox_live"):
    live_queue(view)
