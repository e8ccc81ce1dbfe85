"""Status and internal notes on the conversation page: who wrote each note and when, added with Ctrl+Enter."""

from __future__ import annotations

from collections.abc import Mapping
from zoneinfo import ZoneInfo

import streamlit as st

from console.services import triage
from console.services.inbox import MentionDetail
from console.services.permissions import Actor, Permission
from console.services.sla_clocks import SlaClocks
from console.services.store import Store
from console.ui.actions import run_action
from console.ui.format import local_time
from console.ui.safe import md, show_text
from storage.enums import MentionStatus


def status_and_notes(
    store: Store,
    actor: Actor,
    d: MentionDetail,
    tags: list[str],
    people: Mapping[int, str],
    zone: ZoneInfo,
    clocks: SlaClocks,
) -> None:
    """The status picker, the tags and the notes (each with its author and time), and a note form."""
    st.subheader("Status and notes")
    may = actor.can(Permission.TRIAGE)
    statuses = [s.value for s in MentionStatus]
    new_status = st.selectbox("Status", statuses, index=statuses.index(d.mention.status.value), key="status_pick")
    if st.button("Update status", key="status_save", disabled=not may):
        run_action("Status", store, triage.set_status, actor, d.mention.id, new_status, clocks=clocks)
    st.caption("Tags: " + (", ".join(md(t, 80) for t in tags) or "none"))
    for note in d.notes:
        author = md(people.get(note.user_id or 0, "someone"), 80)
        with st.container(border=True):
            st.caption(f"📝 **{author}** · {local_time(note.created_at, zone)}")
            show_text(note.body, key=f"note_all_{note.id}")
    if not may:
        return
    version = st.session_state.get(f"note_version_{d.mention.id}", 0)  # a new box after each note: it starts empty
    with st.form(f"note_form_{d.mention.id}", clear_on_submit=True, border=False):
        body = st.text_area(
            "Internal note (never posted)",
            height=80,
            key=f"note_body_{d.mention.id}_{version}",
            placeholder="Write a note for the team; Ctrl+Enter adds it",
        )
        if st.form_submit_button("Add note", icon=":material/note_add:"):
            if not body.strip():
                st.warning("The note is empty.")
            elif run_action("Note", store, triage.add_note, actor, d.mention.id, body, rerun=False):
                st.session_state[f"note_version_{d.mention.id}"] = version + 1
                st.rerun()
