"""Explore: one page of mentions for any filters, with the columns the analyst chose.

Reading a page needs :attr:`~console.services.permissions.Permission.READ`; the download needs ``EXPORT``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session

from console.services.export import Format, export_mentions
from console.services.mention_query import COLUMNS, Column, MentionFilters, base_query, count
from console.services.permissions import Actor, Permission, require

DEFAULT_COLUMNS = (
    "created_at_utc",
    "platform",
    "brand",
    "author_handle",
    "text",
    "sentiment",
    "urgency",
    "status",
    "topics",
)
PAGE_SIZE = 50
PAGE_EXPORT_LIMIT = 200_000
"""Downloads from the page stop here; bigger exports belong to ``mentiondesk export``."""
COLUMNS_BY_NAME = {c.name: c for c in COLUMNS}


@dataclass(frozen=True)
class ExplorePage:
    """One page of results and how many there are in all."""

    rows: pd.DataFrame
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        """Number of pages (at least 1)."""
        return max(1, -(-self.total // self.page_size))


def explore_page(
    session: Session,
    actor: Actor,
    filters: MentionFilters,
    columns: Sequence[str] = DEFAULT_COLUMNS,
    *,
    page: int = 0,
    page_size: int = PAGE_SIZE,
    newest_first: bool = True,
) -> ExplorePage:
    """The ``page``-th page (0-based) of matching mentions with only the chosen columns.

    Raises:
        ValueError: for an unknown column name.
        PermissionDenied: for a role that may not read mentions.
    """
    require(actor, Permission.READ)
    unknown = [c for c in columns if c not in COLUMNS_BY_NAME]
    if unknown:
        raise ValueError(f"unknown column(s): {', '.join(unknown)}")
    chosen: list[Column] = [COLUMNS_BY_NAME[c] for c in (columns or DEFAULT_COLUMNS)]
    query = base_query(chosen, filters)
    if newest_first:
        query = query.order_by(None).order_by(
            COLUMNS_BY_NAME["created_at_utc"].source.desc(), COLUMNS_BY_NAME["id"].source.desc()
        )
    query = query.limit(page_size).offset(max(page, 0) * page_size)
    frame = pd.DataFrame([tuple(r) for r in session.execute(query)], columns=[c.name for c in chosen])
    return ExplorePage(frame, count(session, filters), page, page_size)


def export_bytes(session: Session, actor: Actor, filters: MentionFilters, fmt: Format) -> tuple[bytes, int]:
    """A whole export as bytes for a download button, through the same streaming writers as the CLI."""
    require(actor, Permission.EXPORT)  # before the temporary folder, so a refusal writes nothing
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"mentions.{fmt}"
        result = export_mentions(session, actor, filters, fmt, path)
        return path.read_bytes(), result.rows
