"""The Inbox table: one row per mention, built from :class:`InboxRow` for ``st.dataframe``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd

from console.services.inbox import InboxRow
from console.services.sla_clocks import SlaClocks
from console.ui.format import PLATFORM_ICONS, SENTIMENT_CHIPS, URGENCY_CHIPS, age, sla_words
from console.ui.safe import excerpt


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
    handle = f"@{row.handle}" if row.handle else "—"
    badges = ("⭐ VIP " if row.is_vip else "") + ("✔ " if row.verified else "")
    return f"{badges}{handle}"


def urgency_cell(row: InboxRow) -> str:
    """Urgency chip with the reason: why it is urgent."""
    chip = URGENCY_CHIPS.get(row.urgency or "", "—")
    return f"{chip} · {row.reason}" if row.reason else chip


def queue_frame(rows: Sequence[InboxRow], now: datetime, clocks: SlaClocks, me: str | None = None) -> pd.DataFrame:
    """The table the agent scans: every column a plain string or number (rendered as text)."""
    return pd.DataFrame(
        [
            {
                "Platform": PLATFORM_ICONS.get(r.platform, r.platform),
                "Author": author_cell(r),
                "Followers": followers_words(r.followers),
                "Text": excerpt(r.text),
                "Age": age(r.created_at, now),
                "Sentiment": SENTIMENT_CHIPS.get(r.sentiment or "", "—"),
                "Urgency (why)": urgency_cell(r),
                "SLA": sla_words(clocks.read(r, now)),
                "Assignee": ("you" if me and r.assignee == me else r.assignee) or "unassigned",
                "Replyable": "↩️ yes" if r.replyable else "👂 listen-only",
                "Status": r.status,
                "Brand": r.brand or "—",
                "ID": r.id,
            }
            for r in rows
        ]
    )
