"""Waiting out rate limits and retrying server errors, with an injectable sleep.

Two habits from twarc: sleep until the platform's reset time (capped, and warning when the reset
time suggests the local clock is skewed), and keep going rather than crashing.  Server errors are
retried through tenacity with exponential backoff, jitter and a cap; when the attempts run out the
caller gets a :class:`~connectors.base.RetriableError` and the worker reschedules the source.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from connectors.base import ConnectorError, RetriableError
from connectors.errors import RateLimitedError, remaining_from_headers, reset_at_from_headers

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleeper = Callable[[float], None]
Clock = Callable[[], float]
Classifier = Callable[[BaseException, float], ConnectorError]

DEFAULT_MAX_WAIT_S: Final = 15 * 60 + 5
"""X's rate-limit windows are 15 minutes long; a longer wait means the clocks disagree."""


@dataclass(slots=True)
class RateLimitWaiter:
    """Sleeps until a rate-limit window reopens; remembers the last headers seen per endpoint.

    Attributes:
        sleeper: Called with the seconds to sleep (``time.sleep`` in production, a recorder in tests).
        clock: Returns the current Unix time.
        max_wait_s: The longest single wait; longer reset times are capped with a clock-skew warning.
        margin_s: Added to every wait so the request lands after the reset, not on it.
        fallback_s: Used when no reset time is known, or the reset time is already past.
    """

    sleeper: Sleeper = time.sleep
    clock: Clock = time.time
    max_wait_s: float = DEFAULT_MAX_WAIT_S
    margin_s: float = 1.0
    fallback_s: float = 5.0
    _windows: dict[str, tuple[int, float | None]] = field(default_factory=dict)

    def delay_until(self, reset_at: float | None) -> float:
        """Seconds to wait for ``reset_at`` (a Unix time), capped, with clock-skew warnings."""
        if reset_at is None:
            return min(self.fallback_s, self.max_wait_s)
        delay = reset_at - self.clock() + self.margin_s
        if delay <= 0:
            log.warning(
                "rate-limit reset time is %.0f s in the past: the local clock may be ahead; waiting %.0f s",
                -delay,
                self.fallback_s,
            )
            return self.fallback_s
        if delay > self.max_wait_s:
            log.warning(
                "rate-limit reset is %.0f s away, longer than the %.0f s cap: "
                "the local clock may be behind; waiting the cap",
                delay,
                self.max_wait_s,
            )
            return self.max_wait_s
        return delay

    def wait_until(self, reset_at: float | None) -> float:
        """Sleep until ``reset_at`` (see :meth:`delay_until`); return the seconds slept."""
        delay = self.delay_until(reset_at)
        log.warning("rate limit reached; sleeping %.0f s until the window reopens", delay)
        self.sleeper(delay)
        return delay

    def observe(self, endpoint: str, headers: Mapping[str, str]) -> None:
        """Remember ``x-rate-limit-remaining`` / ``-reset`` from a successful response."""
        remaining = remaining_from_headers(headers)
        if remaining is not None:
            self._windows[endpoint] = (remaining, reset_at_from_headers(headers, now=self.clock()))

    def before_request(self, endpoint: str) -> float:
        """If the last response said no requests are left, sleep until the reset; return seconds slept."""
        remaining, reset_at = self._windows.get(endpoint, (1, None))
        if remaining > 0 or reset_at is None or reset_at <= self.clock():
            return 0.0
        self._windows.pop(endpoint, None)
        return self.wait_until(reset_at)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try before handing a retriable error back to the worker.

    Attributes:
        attempts: Total tries, rate-limit waits included.
        initial_s: The first backoff after a server error.
        max_backoff_s: The cap on one backoff sleep.
        jitter_s: Random seconds added to each backoff, so many workers do not retry in step.
    """

    attempts: int = 4
    initial_s: float = 1.0
    max_backoff_s: float = 60.0
    jitter_s: float = 1.0

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed ``attempt`` (1-based): exponential, plus jitter, capped."""
        exponential = self.initial_s * 2 ** max(0, attempt - 1)
        return min(self.max_backoff_s, exponential + random.uniform(0, self.jitter_s))


def call_with_retries(
    fn: Callable[[], T],
    *,
    classify_error: Classifier,
    waiter: RateLimitWaiter,
    policy: RetryPolicy | None = None,
    retry_on: tuple[type[RetriableError], ...] = (RetriableError,),
) -> T:
    """Call ``fn``, waiting out 429s and backing off on other retriable errors.

    Args:
        fn: The request to make; it may raise anything its client library raises.
        classify_error: Turns an exception (and the current Unix time) into a connector error,
            usually a ``functools.partial`` of :func:`connectors.errors.classify`.
        waiter: Sleeps for rate limits and backoffs (its sleeper is the only sleep used).
        policy: Attempts and backoff; defaults to :class:`RetryPolicy`.
        retry_on: Which retriable errors to retry here.  Non-idempotent calls (posting a reply)
            pass ``(RateLimitedError,)``: a 5xx or a timeout may hide an accepted post.

    Raises:
        RetriableError: Still failing after ``policy.attempts`` tries.
        ConnectorError: Any non-retriable family, at once.
    """
    policy = policy or RetryPolicy()

    def attempt() -> T:
        try:
            return fn()
        except ConnectorError:
            raise
        except Exception as exc:
            raise classify_error(exc, waiter.clock()) from exc

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitedError):
            return waiter.delay_until(exc.reset_at)
        if isinstance(exc, RetriableError) and exc.retry_after is not None:
            return min(exc.retry_after + waiter.margin_s, policy.max_backoff_s)
        return policy.backoff(state.attempt_number)

    retrying = Retrying(
        retry=retry_if_exception_type(retry_on),
        stop=stop_after_attempt(policy.attempts),
        wait=wait,
        sleep=waiter.sleeper,
        before_sleep=_log_retry,
        reraise=True,
    )
    try:
        return retrying(attempt)
    except retry_on as exc:
        raise _gave_up(exc, policy.attempts, now=waiter.clock()) from exc


def _gave_up(exc: RetriableError, attempts: int, *, now: float) -> RetriableError:
    message = f"{exc} (gave up after {attempts} attempts)"
    if isinstance(exc, RateLimitedError):
        return RateLimitedError(message, reset_at=exc.reset_at, now=now, status=exc.status or 429)
    return RetriableError(message, retry_after=exc.retry_after, status=exc.status)


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    sleep = state.next_action.sleep if state.next_action else 0.0
    log.warning("attempt %d failed (%s); retrying in %.1f s", state.attempt_number, exc, sleep)
