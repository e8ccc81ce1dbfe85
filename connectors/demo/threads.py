"""Open threads the generator can continue: a bounded ring of recent conversations.

Only the last few thousand conversations are kept, so memory stays flat however many mentions
are generated, and every follow-up points at a post that was generated before it.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.base import Author

MAX_DEPTH = 5
MAX_AGE_MS = 3 * 24 * 3_600_000
MIN_GAP_MS = 4 * 60_000
"""Nobody chases an answer, or chimes in, within seconds of the post."""


@dataclass(slots=True)
class ThreadTip:
    """Where a conversation stands: its root, its latest customer post, and the brand's answer."""

    platform: str
    brand: str
    sector: str
    author: Author
    language: str
    root_id: str
    last_id: str
    last_ms: int
    topic: str
    urgency: str
    replied_ms: int | None
    depth: int = 1


class ThreadBoard:
    """A ring buffer of recent thread tips, picked with a preference for the newest."""

    def __init__(self, capacity: int = 4096, window: int = 400) -> None:
        self._items: list[ThreadTip | None] = [None] * capacity
        self._capacity = capacity
        self._window = window
        self._next = 0
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def add(self, tip: ThreadTip) -> None:
        """Remember a conversation that may get a follow-up."""
        self._items[self._next] = tip
        self._next = (self._next + 1) % self._capacity
        self._size = min(self._size + 1, self._capacity)

    def pick(self, draw: float, now_ms: int) -> ThreadTip | None:
        """A recent, still-open thread (``draw`` uniform in [0, 1)), or ``None``."""
        if not self._size:
            return None
        window = min(self._size, self._window)
        back = 1 + int(window * draw)
        tip = self._items[(self._next - back) % self._capacity]
        if tip is None or tip.depth >= MAX_DEPTH or not MIN_GAP_MS <= now_ms - tip.last_ms <= MAX_AGE_MS:
            return None
        return tip
