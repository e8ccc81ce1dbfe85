"""Durations as people write them in ``mentiondesk.toml``: ``15m``, ``1h``, ``2d``, ``90s`` or seconds."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> timedelta:
    """Accept ``"15m"``, ``"1h"``, ``"2d"``, ``"90s"``, a number of seconds or a timedelta.

    Raises:
        ValueError: with an example of what is accepted.
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value).lower())
    if not match:
        raise ValueError(f"{value!r} is not a duration: write e.g. '15m', '1h', '2d' or a number of seconds")
    number, unit = match.groups()
    return timedelta(seconds=float(number) * _UNIT_SECONDS[unit])


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
"""A pydantic field type that takes any form :func:`parse_duration` accepts."""
