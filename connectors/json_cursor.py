"""Connector cursors kept as one JSON object, and refused in plain words when they cannot be read.

Storage keeps a source's cursor as an opaque string and hands it back on the next poll.  A cursor
that does not parse leaves the connector nowhere to resume from, so it is a :class:`FatalError`: the
source is marked unhealthy with a message that says to reset its cursor, instead of re-reading
everything or skipping ahead silently.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import Any, ClassVar, Self

from connectors.base import FatalError


def unreadable_cursor(what: str, reason: object) -> FatalError:
    """The error for a stored cursor of ``what`` (e.g. ``"RSS"``) that cannot be used."""
    return FatalError(f"stored {what} cursor is unreadable ({reason}); reset the source's cursor")


def read_cursor(text: str, *, what: str) -> dict[str, Any]:
    """The JSON object in a stored cursor.

    Raises:
        FatalError: The text is not JSON, or not a JSON object.
    """
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise unreadable_cursor(what, exc) from exc
    if not isinstance(data, dict):
        raise unreadable_cursor(what, f"expected a JSON object, got {type(data).__name__}")
    return data


class JsonCursor:
    """Base of a connector's cursor dataclass: ``load`` and ``dump`` it as one JSON object of its fields.

    ``load`` drops keys the class does not know and leaves absent fields at their defaults, so a cursor
    written by an older or newer version still resumes; an empty or missing cursor is a fresh start.
    """

    what: ClassVar[str]
    """The source's name in messages, e.g. ``"RSS"``."""
    __dataclass_fields__: ClassVar[dict[str, Any]]

    @classmethod
    def load(cls, text: str | None) -> Self:
        """The cursor stored as ``text``.

        Raises:
            FatalError: ``text`` is not a JSON object.
        """
        data = read_cursor(text, what=cls.what) if text else {}
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})

    def dump(self) -> str:
        """The cursor as the string storage keeps."""
        return dump_cursor(asdict(self))


def dump_cursor(data: Mapping[str, Any]) -> str:
    """Compact JSON, as storage keeps it."""
    return json.dumps(data, separators=(",", ":"))
