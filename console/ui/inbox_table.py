"""The Inbox list: a table for wide screens and a card list for phones, both built from :class:`InboxRow`.

The table keeps to the columns an agent triages on (platform, author, excerpt, sentiment, urgency with its
reason, SLA state, assignee, status), sized to fit 1280 px with the sidebar open; reach, brand, age and
replyability are in the preview.  Every mention-derived cell goes to the table through
:func:`console.ui.safe.plain` (the grid renders text as text, but would obey bidi controls); the cards and the
preview go through :func:`console.ui.safe.md`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from console.services.inbox import InboxRow
from console.services.sla_clocks import SlaClocks
from console.ui.format import PLATFORM_ICONS, SENTIMENT_CHIPS, URGENCY_CHIPS, age, platform_words, sla_words
from console.ui.safe import excerpt, md, plain

ROW_HEIGHT = 32
VISIBLE_ROWS = 20
TABLE_HEIGHT = ROW_HEIGHT * (VISIBLE_ROWS + 1) + 3
"""Header plus 20 rows: what 1440×1000 shows under the Inbox's two header lines."""
SHOWN = ["Platform", "Author", "Post", "Sentiment", "Urgency · why", "SLA", "Assignee", "Status"]
SENTIMENT_SHORT = {"negative": "🔴 neg", "neutral": "⚪ neu", "positive": "🟢 pos"}


def followers_words(n: int) -> str:
    """``12.3k``, ``1.2M``: compact reach."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 10_000:
        return f"{n / 1_000:.0f}k"
    if n >= 1_000:
        return f"{n / 1_000:.1f}k"
    return str(n)


def author_cell(row: InboxRow) -> str:
    """Handle with VIP and verified badges."""
    handle = f"@{plain(row.handle, 80)}" if row.handle else "—"
    badges = ("⭐ " if row.is_vip else "") + ("✔ " if row.verified else "")
    return f"{badges}{handle}"


def urgency_cell(row: InboxRow) -> str:
    """Urgency chip with the reason: why it is urgent."""
    chip = URGENCY_CHIPS.get(row.urgency or "", "—")
    return f"{chip} · {plain(row.reason, 200)}" if row.reason else chip


def sla_cell(row: InboxRow, now: datetime, clocks: SlaClocks) -> str:
    """The clock in words, and the escalation queue when the mention is escalated."""
    words = sla_words(clocks.read(row, now))
    return f"🚨 {queue_words(row.escalation_queue)} · {words}" if row.escalation_queue else words


def queue_words(queue: str) -> str:
    """``pr_crisis`` → ``PR crisis``-like words for a queue name."""
    return queue.replace("_", " ")


def assignee_cell(row: InboxRow, me: str | None) -> str:
    """``you``, a username, or ``—`` for nobody."""
    return ("you" if me and row.assignee == me else plain(row.assignee, 80)) or "—"


def queue_frame(rows: Sequence[InboxRow], now: datetime, clocks: SlaClocks, me: str | None = None) -> pd.DataFrame:
    """The table the agent scans: every column a plain string (rendered as text); Brand and ID stay hidden."""
    return pd.DataFrame(
        [
            {
                "Platform": PLATFORM_ICONS.get(r.platform) or plain(r.platform, 20),
                "Author": author_cell(r),
                "Post": excerpt(r.text),
                "Sentiment": SENTIMENT_SHORT.get(r.sentiment or "", "—"),
                "Urgency · why": urgency_cell(r),
                "SLA": sla_cell(r, now, clocks),
                "Assignee": assignee_cell(r, me),
                "Status": plain(r.status),
                "Brand": plain(r.brand, 80) or "—",
                "ID": r.id,
            }
            for r in rows
        ],
        columns=[*SHOWN, "Brand", "ID"],
    )


def column_config() -> dict[str, Any]:
    """Widths that add up to the list's width at 1280 px with the sidebar open (no horizontal scroll)."""
    text = st.column_config.TextColumn
    return {
        "Platform": text("", width=28, help="Platform"),
        "Author": text("Author", width=120),
        "Post": text("Post", width=220),
        "Sentiment": text("Sent.", width=56, help="Sentiment"),
        "Urgency · why": text("Urgency · why", width=190),
        "SLA": text("SLA", width=150),
        "Assignee": text("Assignee", width=70),
        "Status": text("Status", width=62),
    }


def preview_facts(row: InboxRow, now: datetime) -> str:
    """The preview's second line: brand, reach, age, replyability and topics (escaped for markdown)."""
    facts = [
        md(row.brand or "no brand", 80),
        f"{followers_words(row.followers)} followers",
        f"posted {age(row.created_at, now)}",
        "↩️ replyable" if row.replyable else f"👂 listen-only ({md(row.replyable_reason or 'source', 200)})",
    ]
    if row.topics:
        facts.append("topics: " + md(", ".join(row.topics), 200))
    return " · ".join(facts)


def card_line(row: InboxRow) -> str:
    """A phone card's first line: platform, author, urgency and sentiment (escaped for markdown)."""
    who = md(author_cell(row))
    chips = " · ".join([URGENCY_CHIPS.get(row.urgency or "", "—"), SENTIMENT_CHIPS.get(row.sentiment or "", "—")])
    return f"{platform_words(row.platform)} **{who}** · {chips}"


def card_meta(row: InboxRow, now: datetime, clocks: SlaClocks, me: str | None) -> str:
    """A phone card's link line: the SLA state, who has it and its status (escaped for markdown)."""
    return md(f"{sla_cell(row, now, clocks)} · {assignee_cell(row, me)} · {row.status}")
