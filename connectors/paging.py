"""A page-token paginator that refuses to loop (after the Meltano Singer SDK's ``BaseAPIPaginator``).

A buggy or replayed API can hand back a token it already gave; following it would fetch the same
pages, and bill the same reads, forever.  :class:`TokenPaginator` raises instead, so the source is
marked unhealthy with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable

from connectors.base import FatalError


class PaginationLoopError(FatalError):
    """The API returned a page token that was already followed."""


class TokenPaginator:
    """Tracks the current page token; ``advance`` with the next one, ``None`` when there is none.

    Args:
        start_value: The token to request first (``None`` = the first page).
        service: The platform's name, used in error messages.
        seen: Tokens already followed in this run (e.g. restored after a restart).
    """

    def __init__(self, start_value: str | None = None, *, service: str = "the API", seen: Iterable[str] = ()):
        self._value = start_value
        self._service = service
        self._seen: set[str] = set(seen)
        if start_value is not None:
            self._seen.add(start_value)
        self._finished = False
        self._count = 0

    @property
    def current_value(self) -> str | None:
        """The token for the next request."""
        return self._value

    @property
    def has_more(self) -> bool:
        """``False`` once the API returned no next token."""
        return not self._finished

    @property
    def count(self) -> int:
        """How many pages have been advanced over."""
        return self._count

    def advance(self, next_value: str | None) -> None:
        """Move to ``next_value``; ``None`` or ``""`` ends the pagination.

        Raises:
            PaginationLoopError: ``next_value`` was already followed.
            RuntimeError: Called again after pagination finished.
        """
        if self._finished:
            raise RuntimeError("cannot advance a paginator that has finished")
        self._count += 1
        if not next_value:
            self._finished = True
            self._value = None
            return
        if next_value in self._seen:
            raise PaginationLoopError(
                f"{self._service} returned page token {next_value!r} a second time; "
                "stopped paging to avoid an endless loop"
            )
        self._seen.add(next_value)
        self._value = next_value
