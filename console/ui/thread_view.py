"""The conversation's thread: every post in time order, the brand's replies marked with their state.

Each post is plain text (:func:`console.ui.safe.show_text`): no markdown at all, controls made visible, a long
post cut with "Show all"; the heading above it says whose it is.
"""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

import streamlit as st

from console.services.conversation import ThreadPost, thread_posts
from console.services.permissions import Actor
from console.services.store import Store
from console.ui.actions import database_errors_in_words
from console.ui.format import local_time
from console.ui.safe import md, show_text
from storage.models import Mention

REPLY_STATES = {
    "queued": "⏳ queued",
    "sending": "📤 sending",
    "sent": "✅ sent",
    "failed": "❌ failed",
    "needs_attention": "⚠️ needs a human check",
}
KIND_LABELS = {
    "customer": "👤 customer",
    "other": "💬 someone else",
    "brand_post": "🏢 brand post (from the network)",
    "brand_reply": "🏢 our reply",
}


def _heading(post: ThreadPost, mention_id: int, zone: ZoneInfo) -> str:
    who = KIND_LABELS[post.kind]
    if post.handle and post.kind in ("customer", "other", "brand_post"):
        who += f" @{md(post.handle, 80)}"
    if post.kind == "brand_reply":
        who += f" · {REPLY_STATES.get(post.state or '', post.state)}"
        if post.agent:
            who += f" · by {md(post.agent, 80)}"
        if post.mention_id != mention_id:
            who += " · on an earlier post"
    marker = " · **this mention**" if post.mention_id == mention_id and post.kind != "brand_reply" else ""
    return f"{who} · {local_time(post.at, zone)}{marker}"


def render_thread(
    store: Store,
    actor: Actor,
    mention: Mention,
    zone: ZoneInfo,
    *,
    on_retry: Callable[[int], None] | None = None,
    parked: Callable[[ThreadPost], None] | None = None,
) -> None:
    """The thread, refreshed every 5 s so a queued reply turns sent (or failed, with a retry) on its own."""

    @st.fragment(run_every=5)
    @database_errors_in_words("thread_live")
    def live() -> None:
        with store.read() as session:
            m = session.get(Mention, mention.id)
            posts = thread_posts(session, actor, m) if m is not None else []
        for n, post in enumerate(posts):
            with st.container(border=True):
                st.caption(_heading(post, mention.id, zone))
                show_text(post.text, key=f"show_all_{mention.id}_{post.kind}_{post.reply_id or post.mention_id or n}")
                if post.kind == "brand_reply" and post.state == "sent" and post.url:
                    st.caption(f"posted: {md(post.url, 300)}")
                if post.state == "failed":
                    st.error(f"Not sent: {md(post.last_error or 'no reason recorded', 500)}")
                    if on_retry is not None and post.reply_id and st.button("Retry", key=f"retry_{post.reply_id}"):
                        on_retry(post.reply_id)
                if post.state == "needs_attention" and parked is not None:
                    parked(post)

    live()
