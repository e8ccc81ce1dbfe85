"""The conversation's escalation panel: who escalated it, when and why; escalate, de-escalate, hand back."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import streamlit as st

from console.config import EscalationConfig
from console.services import escalations
from console.services.permissions import Actor, Permission
from console.services.store import Store
from console.ui.actions import run_action
from console.ui.format import duration_words, local_time
from console.ui.safe import md

END_WORDS = {"de-escalated": "de-escalated", "handed_back": "handed back", "moved": "moved", "resolved": "resolved"}


def _open_line(view: escalations.EscalationView, zone: ZoneInfo, now: datetime) -> str:
    by = md(view.by, 80)
    line = f"**{md(view.queue_label, 80)}** · by {by} at {local_time(view.at, zone)}: {md(view.reason, 500)}"
    if view.due_at is not None:
        left = view.due_at - now
        line += (
            f" · queue answers within {duration_words(left)}"
            if left.total_seconds() > 0
            else f" · the queue's target passed {duration_words(left)} ago"
        )
    return line


def escalation_panel(store: Store, actor: Actor, mention_id: int, config: EscalationConfig, zone: ZoneInfo) -> None:
    """Shows the open escalation and the history; people who triage can escalate, de-escalate or hand back."""
    st.subheader("Escalation")
    now = datetime.now(UTC)
    with store.read() as session:
        history = escalations.history(session, actor, mention_id, config)
    current = next((h for h in history if h.ended_at is None), None)
    may = actor.can(Permission.TRIAGE)
    if current is not None:
        st.error(_open_line(current, zone, now), icon="🚨")
        if may:
            note = st.text_input("Note for the hand-back (optional)", key=f"esc_note_{mention_id}")
            a, b = st.columns(2)
            if a.button("Hand back", key=f"esc_back_{mention_id}", help="The queue has done its part"):
                run_action("Hand back", store, escalations.end_escalation, actor, mention_id, hand_back=True, note=note)
            if b.button("De-escalate", key=f"esc_down_{mention_id}", help="It did not need the queue"):
                run_action(
                    "De-escalate", store, escalations.end_escalation, actor, mention_id, hand_back=False, note=note
                )
    else:
        st.caption("Not escalated.")
    if may:
        _escalate_form(store, actor, mention_id, config, moving=current is not None)
    for past in [h for h in history if h.ended_at is not None][-5:]:
        ended = END_WORDS.get(past.end_action or "", past.end_action or "ended")
        who = f" by {md(past.ended_by, 80)}" if past.ended_by else ""
        note = f" ({md(past.end_note, 300)})" if past.end_note else ""
        st.caption(
            f"{local_time(past.at, zone)} · {md(past.queue_label, 80)} ({md(past.reason, 300)})"
            f" — {ended}{who} at {local_time(past.ended_at, zone)}{note}"
        )


def _escalate_form(store: Store, actor: Actor, mention_id: int, config: EscalationConfig, *, moving: bool) -> None:
    title = "Move to another queue" if moving else "Escalate"
    with st.expander(title, expanded=False), st.form(f"escalate_{mention_id}", clear_on_submit=True, border=False):
        labels = {q.label: q.name for q in config.queues}
        queue = st.selectbox("Queue", list(labels), key=f"esc_queue_{mention_id}")
        reason = st.text_input(
            "Why (everyone on the queue reads this)",
            key=f"esc_reason_{mention_id}",
            placeholder="e.g. threatens legal action over a refund",
        )
        if st.form_submit_button("Escalate", type="primary"):
            run_action("Escalate", store, escalations.escalate, actor, mention_id, labels[queue], reason, config=config)
