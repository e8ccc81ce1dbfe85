"""The X source cursor: where the next poll starts, and where an unfinished pagination stands.

X pages newest-first.  A poll starts at the newest posts, follows ``next_token`` back down to
``since_id`` and only then may ``since_id`` move up to the newest id seen; moving it earlier would
skip the older pages of the poll.  The cursor therefore holds all three, as JSON, and storage
saves it in the same transaction as the page's mentions, so a crash mid-pagination resumes on the
right page.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Final

from connectors.base import FatalError

CURSOR_VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class XCursor:
    """Poll and pagination state.

    Attributes:
        since_id: Lower bound of the current poll (exclusive); ``None`` on the first poll.
        pagination_token: The next page of the current poll, when it is unfinished.
        newest_id: The newest post id seen in the current poll; becomes ``since_id`` when it ends.
    """

    since_id: str | None = None
    pagination_token: str | None = None
    newest_id: str | None = None

    def encode(self) -> str:
        """The cursor as the string storage persists."""
        return json.dumps({"v": CURSOR_VERSION, **asdict(self)}, sort_keys=True)

    @classmethod
    def decode(cls, cursor: str | None) -> XCursor:
        """Read a stored cursor; ``None`` or ``""`` is a fresh start, a bare id is a legacy since_id.

        Raises:
            FatalError: The cursor is not one this connector wrote.
        """
        if not cursor:
            return cls()
        if cursor.isdigit():
            return cls(since_id=cursor)
        try:
            data = json.loads(cursor)
            if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION:
                raise ValueError("unknown cursor version")
            fields = {name: data.get(name) for name in ("since_id", "pagination_token", "newest_id")}
            if not all(value is None or isinstance(value, str) for value in fields.values()):
                raise ValueError("cursor fields must be strings")
            return cls(**fields)
        except ValueError as exc:
            raise FatalError(f"the stored X cursor {cursor[:80]!r} cannot be read ({exc}); reset the source") from exc

    def after_page(self, *, newest_on_page: str | None, next_token: str | None) -> XCursor:
        """The cursor after one page: keep paging, or close the poll and move ``since_id`` up."""
        newest = max_id(self.newest_id, newest_on_page)
        if next_token:
            return replace(self, pagination_token=next_token, newest_id=newest)
        return XCursor(since_id=max_id(self.since_id, newest), pagination_token=None, newest_id=None)


def max_id(*ids: str | None) -> str | None:
    """The largest of some X ids (compared as numbers: ids are 64-bit snowflakes)."""
    numeric = [int(value) for value in ids if value and value.isdigit()]
    return str(max(numeric)) if numeric else None
