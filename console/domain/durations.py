"""Durations as people write them in ``mentiondesk.toml``: ``15m``, ``1h``, ``2d``, ``90s`` or seconds.

Every duration is bounded, 0 to :data:`MAX_DURATION`: a typo like ``1e23`` or ``inf`` is a config error with
its path, not an ``OverflowError`` inside the worker when the value is first added to a time.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
MAX_DURATION = timedelta(days=366)
"""The longest duration any setting takes (a year, leap day included): SLA targets, sessions, look-backs."""


def parse_duration(value: Any) -> timedelta:
    """Accept ``"15m"``, ``"1h"``, ``"2d"``, ``"90s"``, a number of seconds or a timedelta.

    Raises:
        ValueError: with an example of what is accepted, or the bounds a value broke.
    """
    if isinstance(value, timedelta):
        return _bounded(value.total_seconds(), value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _bounded(float(value), value)
    match = _DURATION.match(str(value).lower())
    if not match:
        raise ValueError(f"{value!r} is not a duration: write e.g. '15m', '1h', '2d' or a number of seconds")
    number, unit = match.groups()
    return _bounded(float(number) * _UNIT_SECONDS[unit], value)


def _bounded(seconds: float, written: Any) -> timedelta:
    """``seconds`` as a timedelta, refused (as ValueError) when negative, not finite or over the maximum."""
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_DURATION.total_seconds():
        raise ValueError(f"must be between 0 s and {MAX_DURATION.days} days (got {written!r})")
    return timedelta(seconds=seconds)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
"""A pydantic field type that takes any form :func:`parse_duration` accepts."""
