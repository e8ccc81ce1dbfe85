"""The one table that turns HTTP statuses and client exceptions into connector error families.

Every connector calls :func:`classify` on whatever its client library raised (tweepy, requests,
httpx, prawcore, atproto, Mastodon.py ...) and raises the result, so the worker only ever sees the
families from :mod:`connectors.base`.  The tables follow the Airbyte CDK's
``default_error_mapping``: status first, then exception type, then a safe default.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final, TypeGuard

import httpx
import requests

from connectors.base import (
    AuthError,
    ConnectorError,
    FatalError,
    RetriableError,
    SkippableError,
)


class Action(StrEnum):
    """What the caller should do about an error."""

    RETRY = "retry"
    FATAL = "fatal"
    AUTH = "auth"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class ErrorRule:
    """An action plus the plain-words summary shown to a human (``{service}`` is filled in)."""

    action: Action
    summary: str


STATUS_TABLE: Final[Mapping[int, ErrorRule]] = MappingProxyType(
    {
        400: ErrorRule(Action.FATAL, "{service} rejected the request as invalid"),
        401: ErrorRule(Action.AUTH, "{service} rejected the credentials"),
        403: ErrorRule(Action.AUTH, "{service} refused access with these credentials"),
        404: ErrorRule(Action.SKIP, "{service} says the item does not exist"),
        408: ErrorRule(Action.RETRY, "{service} timed out waiting for the request"),
        409: ErrorRule(Action.SKIP, "{service} reported a conflict for the item"),
        410: ErrorRule(Action.SKIP, "{service} says the item was deleted"),
        413: ErrorRule(Action.FATAL, "{service} says the request is too large"),
        422: ErrorRule(Action.SKIP, "{service} could not process the item"),
        425: ErrorRule(Action.RETRY, "{service} asked to retry later"),
        429: ErrorRule(Action.RETRY, "{service} rate limit reached"),
        500: ErrorRule(Action.RETRY, "{service} had an internal error"),
        502: ErrorRule(Action.RETRY, "{service} is unreachable behind its gateway"),
        503: ErrorRule(Action.RETRY, "{service} is temporarily unavailable"),
        504: ErrorRule(Action.RETRY, "{service} timed out behind its gateway"),
    }
)
"""HTTP status -> action.  Statuses not listed fall back by class (see :func:`rule_for_status`)."""

EXCEPTION_TABLE: Final[tuple[tuple[type[BaseException], ErrorRule], ...]] = (
    # Order matters: the first ``isinstance`` match wins, so subclasses come first.
    (requests.Timeout, ErrorRule(Action.RETRY, "{service} did not answer in time")),
    (requests.ConnectionError, ErrorRule(Action.RETRY, "could not connect to {service}")),
    (httpx.TimeoutException, ErrorRule(Action.RETRY, "{service} did not answer in time")),
    (httpx.NetworkError, ErrorRule(Action.RETRY, "could not connect to {service}")),
    (httpx.RemoteProtocolError, ErrorRule(Action.RETRY, "{service} closed the connection")),
    (TimeoutError, ErrorRule(Action.RETRY, "{service} did not answer in time")),
    (ConnectionError, ErrorRule(Action.RETRY, "could not connect to {service}")),
    (json.JSONDecodeError, ErrorRule(Action.RETRY, "{service} sent a truncated or non-JSON response")),
    (UnicodeError, ErrorRule(Action.SKIP, "{service} sent text that is not valid Unicode")),
    (KeyError, ErrorRule(Action.SKIP, "{service} sent an item without a required field")),
    (TypeError, ErrorRule(Action.SKIP, "{service} sent an item of an unexpected shape")),
    (ValueError, ErrorRule(Action.SKIP, "{service} sent an item with an invalid value")),
    (OSError, ErrorRule(Action.RETRY, "network error talking to {service}")),
)
"""Exception type -> action, for errors that carry no HTTP status."""

UNKNOWN_RULE: Final = ErrorRule(Action.FATAL, "unexpected error talking to {service}")

_RESET_HEADERS: Final = ("x-rate-limit-reset", "ratelimit-reset", "x-ratelimit-reset")
_EPOCH_THRESHOLD: Final = 1_000_000_000  # a reset value above this is a Unix time, below it a delay


class RateLimitedError(RetriableError):
    """A 429: ``reset_at`` is the Unix time the platform says the window reopens, when known."""

    def __init__(self, message: str, *, reset_at: float | None, now: float, status: int = 429) -> None:
        retry_after = None if reset_at is None else max(0.0, reset_at - now)
        super().__init__(message, retry_after=retry_after, status=status)
        self.reset_at = reset_at


def rule_for_status(status: int) -> ErrorRule:
    """Look ``status`` up in :data:`STATUS_TABLE`, falling back by status class."""
    if status in STATUS_TABLE:
        return STATUS_TABLE[status]
    if 500 <= status <= 599:
        return ErrorRule(Action.RETRY, "{service} had a server error")
    return ErrorRule(Action.FATAL, "{service} answered with an unexpected status")


def rule_for_exception(exc: BaseException) -> ErrorRule:
    """Look the exception's type up in :data:`EXCEPTION_TABLE` (first match wins)."""
    for exc_type, rule in EXCEPTION_TABLE:
        if isinstance(exc, exc_type):
            return rule
    return UNKNOWN_RULE


def status_of(exc: BaseException) -> int | None:
    """Find the HTTP status an exception carries, whichever client library raised it.

    Covers ``exc.response.status_code`` (requests, httpx, tweepy, prawcore, atproto),
    ``exc.response.status`` (aiohttp), ``exc.status_code`` / ``exc.status`` attributes, and
    Mastodon.py's ``(message, status, reason, detail)`` arguments.
    """
    response = getattr(exc, "response", None)
    for holder, name in (
        (response, "status_code"),
        (response, "status"),
        (exc, "status_code"),
        (exc, "status"),
    ):
        value = getattr(holder, name, None) if holder is not None else None
        if _is_status(value):
            return int(value)
    args: tuple[Any, ...] = exc.args
    if len(args) >= 3 and isinstance(args[0], str) and _is_status(args[1]) and isinstance(args[2], str):
        return int(args[1])
    return None


def _is_status(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599


def headers_of(exc: BaseException) -> Mapping[str, str]:
    """Return the response headers attached to an exception, or an empty mapping."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    return headers if isinstance(headers, Mapping) else {}


def reset_at_from_headers(headers: Mapping[str, str], *, now: float) -> float | None:
    """Return the Unix time a rate-limit window reopens, from whichever header the platform sends.

    ``Retry-After`` may be seconds or an HTTP date; the ``*-reset`` headers may be a Unix time (X,
    Bluesky), a number of seconds (Reddit) or an ISO 8601 time (Mastodon).
    """
    lowered = {str(key).lower(): str(value).strip() for key, value in headers.items()}
    if "retry-after" in lowered:
        parsed = _parse_retry_after(lowered["retry-after"], now=now)
        if parsed is not None:
            return parsed
    for name in _RESET_HEADERS:
        if name in lowered:
            parsed = _parse_reset(lowered[name], now=now)
            if parsed is not None:
                return parsed
    return None


def remaining_from_headers(headers: Mapping[str, str]) -> int | None:
    """Return the requests left in the current window, when the platform says."""
    lowered = {str(key).lower(): str(value).strip() for key, value in headers.items()}
    for name in ("x-rate-limit-remaining", "ratelimit-remaining", "x-ratelimit-remaining"):
        if name in lowered:
            try:
                return int(float(lowered[name]))
            except ValueError:
                return None
    return None


def error_for_status(
    status: int,
    *,
    service: str,
    reason: str | None = None,
    detail: str | None = None,
    headers: Mapping[str, str] | None = None,
    hints: Mapping[int, str] | None = None,
    overrides: Mapping[int, ErrorRule] | None = None,
    now: float | None = None,
) -> ConnectorError:
    """Build the connector error for an HTTP ``status``, with a message a human can act on.

    Args:
        status: The HTTP status code.
        service: The platform's name as users know it ("X", "Mastodon").
        reason: The HTTP reason phrase ("Unauthorized").
        detail: The platform's own explanation, if any; appended after the summary.
        headers: Response headers, read for rate-limit reset times.
        hints: What the user should do, per status (e.g. ``{401: "check the bearer token"}``).
        overrides: Per-call replacements for rows of :data:`STATUS_TABLE`.
        now: The current Unix time (injectable for tests).
    """
    rule = (overrides or {}).get(status) or rule_for_status(status)
    label = f"{status} {reason}" if reason else str(status)
    message = f"{rule.summary.format(service=service)} ({label})"
    if detail and detail.strip().lower() not in {(reason or "").lower(), str(status)}:
        message += f": {_one_line(detail)}"
    else:
        detail = None
    hint = (hints or {}).get(status)
    if hint:
        message += f"{';' if detail else ':'} {hint}"
    return _build(rule.action, message, status=status, headers=headers or {}, now=now)


def classify(
    exc: BaseException,
    *,
    service: str,
    hints: Mapping[int, str] | None = None,
    overrides: Mapping[int, ErrorRule] | None = None,
    now: float | None = None,
) -> ConnectorError:
    """Turn whatever a client library raised into one of the connector error families.

    A :class:`~connectors.base.ConnectorError` is returned unchanged.  The result is returned, not
    raised, so the caller can write ``raise classify(exc, service="X") from exc``.
    """
    if isinstance(exc, ConnectorError):
        return exc
    status = status_of(exc)
    if status is not None:
        return error_for_status(
            status,
            service=service,
            reason=_reason_of(exc),
            detail=_api_detail(exc),
            headers=headers_of(exc),
            hints=hints,
            overrides=overrides,
            now=now,
        )
    rule = rule_for_exception(exc)
    message = f"{rule.summary.format(service=service)}: {type(exc).__name__}: {_one_line(str(exc))}"
    return _build(rule.action, message.rstrip(": "), status=None, headers={}, now=now)


def _build(
    action: Action, message: str, *, status: int | None, headers: Mapping[str, str], now: float | None
) -> ConnectorError:
    if action is Action.RETRY:
        current = now if now is not None else datetime.now(UTC).timestamp()
        reset_at = reset_at_from_headers(headers, now=current)
        if status == 429:
            return RateLimitedError(message, reset_at=reset_at, now=current)
        retry_after = None if reset_at is None else max(0.0, reset_at - current)
        return RetriableError(message, retry_after=retry_after, status=status)
    if action is Action.AUTH:
        return AuthError(message, status=status)
    if action is Action.SKIP:
        return SkippableError(message)
    return FatalError(message, status=status)


def _reason_of(exc: BaseException) -> str | None:
    """The HTTP reason phrase: requests' ``reason``, httpx's ``reason_phrase``, Mastodon.py's ``args[2]``."""
    response = getattr(exc, "response", None)
    for value in (getattr(response, "reason", None), getattr(response, "reason_phrase", None)):
        if isinstance(value, str) and value:
            return value
    args: tuple[Any, ...] = exc.args
    return args[2] if len(args) >= 3 and isinstance(args[2], str) and args[2] else None


def _api_detail(exc: BaseException) -> str | None:
    """The platform's own words (tweepy's ``api_messages``, Mastodon.py's ``args[3]``)."""
    messages = getattr(exc, "api_messages", None)
    if isinstance(messages, list) and messages:
        return "; ".join(str(message) for message in messages)
    args: tuple[Any, ...] = exc.args
    if len(args) >= 4 and _is_status(args[1]) and isinstance(args[3], str) and args[3]:
        return args[3]
    return None


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _parse_retry_after(value: str, *, now: float) -> float | None:
    try:
        return now + float(value)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def _parse_reset(value: str, *, now: float) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return _parse_iso(value)
    if not math.isfinite(number):
        return None
    return number if number >= _EPOCH_THRESHOLD else now + number


def _parse_iso(value: str) -> float | None:
    try:
        parsed: Any = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return float(parsed.timestamp())
