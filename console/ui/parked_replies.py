"""A reply parked for a human check: why, and (for managers) the two buttons that settle it.

The worker parks a reply as ``needs_attention`` when it stopped while sending and could not find the reply
on the platform, so nobody knows whether it was posted.  A manager looks at the thread and says which;
anyone else is told that a manager must, and the composer lets the sender confirm the thread instead.
"""

from __future__ import annotations

import streamlit as st

from console.services.conversation import ThreadPost
from console.services.permissions import Actor, Permission
from console.services.replies.outbox import settle_reply
from console.services.store import Store
from console.ui.actions import run_action
from console.ui.safe import md
from storage.enums import ReplyState
from storage.models import Reply


def _reply_id(reply: Reply | ThreadPost | int) -> int | None:
    if isinstance(reply, int):
        return reply
    if isinstance(reply, Reply):
        return reply.id
    return reply.reply_id


def parked_reply_panel(store: Store, actor: Actor, mention_id: int, reply: Reply | ThreadPost | int) -> None:
    """Show why ``reply`` is parked; managers settle it as posted (with an optional URL) or not posted.

    ``reply`` is the outbox row, the thread's post for it, or its id; the panel reads its current state
    itself and shows nothing once it is no longer parked.  Each button runs ``settle_reply`` in its own
    transaction, then reruns the page.
    """
    reply_id = _reply_id(reply)
    if reply_id is None:
        return
    with store.read() as session:
        row = session.get(Reply, reply_id)
    if row is None or row.mention_id != mention_id or row.state is not ReplyState.NEEDS_ATTENTION:
        return
    reason = row.last_error or "the worker could not tell whether it was posted"
    st.warning(f"This reply may or may not have been posted: {md(reason, 500)}", icon="⚠️")
    if not actor.can(Permission.REASSIGN):
        st.caption(
            "A manager must check the thread and settle it. To answer anyway, check the thread yourself "
            "and confirm in the composer that the earlier reply is not there."
        )
        return
    url = st.text_input("Link to the posted reply (optional)", key=f"parked_url_{reply_id}", placeholder="https://…")
    posted, not_posted = st.columns(2)
    if posted.button("It was posted", key=f"parked_posted_{reply_id}", icon=":material/check_circle:"):
        run_action("Settle the reply", store, settle_reply, actor, reply_id, posted=True, url=url or None)
    if not_posted.button("It was not posted", key=f"parked_not_posted_{reply_id}", icon=":material/cancel:"):
        run_action("Settle the reply", store, settle_reply, actor, reply_id, posted=False)
