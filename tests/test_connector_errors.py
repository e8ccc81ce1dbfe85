"""The shared error table, rate-limit waiting, the paginator and the read budget."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import httpx
import prawcore
import pytest
import requests
import tweepy
from requests.structures import CaseInsensitiveDict

from connectors.base import (
    AuthError,
    BudgetExhaustedError,
    ConnectorError,
    FatalError,
    RetriableError,
    SkippableError,
)
from connectors.errors import (
    STATUS_TABLE,
    Action,
    ErrorRule,
    RateLimitedError,
    classify,
    error_for_status,
    remaining_from_headers,
    reset_at_from_headers,
    rule_for_exception,
    rule_for_status,
    status_of,
)
from connectors.paging import PaginationLoopError, TokenPaginator
from connectors.rate_limit import RateLimitWaiter, RetryPolicy, call_with_retries
from connectors.read_budget import ReadBudget, budget_month

NOW = 1_772_442_000.0


def requests_response(status: int, reason: str, headers: dict | None = None, body: dict | None = None):
    response = requests.Response()
    response.status_code = status
    response.reason = reason
    response.headers = CaseInsensitiveDict(headers or {})
    response._content = json.dumps(body or {}).encode()
    response.url = "https://api.example/resource"
    return response


# --- the status table ------------------------------------------------------------------------

FAMILY = {
    Action.RETRY: RetriableError,
    Action.AUTH: AuthError,
    Action.FATAL: FatalError,
    Action.SKIP: SkippableError,
}


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (400, Action.FATAL),
        (401, Action.AUTH),
        (403, Action.AUTH),
        (404, Action.SKIP),
        (408, Action.RETRY),
        (410, Action.SKIP),
        (413, Action.FATAL),
        (418, Action.FATAL),  # unlisted 4xx: fatal, so a human looks
        (422, Action.SKIP),
        (429, Action.RETRY),
        (500, Action.RETRY),
        (502, Action.RETRY),
        (503, Action.RETRY),
        (504, Action.RETRY),
        (520, Action.RETRY),  # unlisted 5xx: retry
        (302, Action.FATAL),
    ],
)
def test_status_maps_to_action_and_family(status, action):
    assert rule_for_status(status).action is action
    error = error_for_status(status, service="X", now=NOW)
    assert type(error) is (RateLimitedError if status == 429 else FAMILY[action])
    if not isinstance(error, SkippableError):
        assert error.status == status


@pytest.mark.parametrize("status", sorted(STATUS_TABLE))
def test_every_table_row_names_the_service_in_plain_words(status):
    message = str(error_for_status(status, service="Mastodon", reason="Reason", now=NOW))
    assert message.startswith(("Mastodon", "could not")) or "Mastodon" in message
    assert f"({status} Reason)" in message


def test_message_carries_detail_and_hint_but_not_a_repeated_reason():
    error = error_for_status(401, service="X", reason="Unauthorized", detail="Unauthorized", hints={401: "check it"})
    assert str(error) == "X rejected the credentials (401 Unauthorized): check it"
    error = error_for_status(403, service="X", reason="Forbidden", detail="App suspended", hints={403: "see portal"})
    assert str(error) == "X refused access with these credentials (403 Forbidden): App suspended; see portal"


def test_overrides_replace_one_row_for_one_call():
    error = error_for_status(403, service="X", overrides={403: ErrorRule(Action.FATAL, "{service} refused the reply")})
    assert type(error) is FatalError and str(error) == "X refused the reply (403)"


# --- exceptions from the client libraries ----------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "family"),
    [
        (requests.ConnectTimeout("connect timed out"), RetriableError),
        (requests.ReadTimeout("read timed out"), RetriableError),
        (requests.ConnectionError("connection refused"), RetriableError),
        (httpx.ReadTimeout("read timed out"), RetriableError),
        (httpx.ConnectError("connection refused"), RetriableError),
        (httpx.RemoteProtocolError("peer closed connection"), RetriableError),
        (TimeoutError(), RetriableError),
        (ConnectionResetError(), RetriableError),
        (json.JSONDecodeError("Expecting value", "{", 1), RetriableError),
        (KeyError("author_id"), SkippableError),
        (TypeError("list indices"), SkippableError),
        (ValueError("bad date"), SkippableError),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), SkippableError),
        (RuntimeError("boom"), FatalError),
    ],
)
def test_exception_types_map_to_families(exc, family):
    error = classify(exc, service="Bluesky", now=NOW)
    assert type(error) is family
    assert "Bluesky" in str(error) and type(exc).__name__ in str(error)


def test_connector_errors_pass_through_unchanged():
    original = AuthError("already classified")
    assert classify(original, service="X") is original


def test_tweepy_exceptions_are_classified_by_their_response():
    body = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
    error = classify(tweepy.Unauthorized(requests_response(401, "Unauthorized", body=body)), service="X")
    assert type(error) is AuthError and error.status == 401
    server = classify(tweepy.TwitterServerError(requests_response(503, "Service Unavailable")), service="X")
    assert type(server) is RetriableError and server.status == 503


def test_tweepy_429_carries_the_reset_time():
    response = requests_response(429, "Too Many Requests", headers={"x-rate-limit-reset": str(int(NOW) + 60)})
    error = classify(tweepy.TooManyRequests(response, reset_time=int(NOW) + 60), service="X", now=NOW)
    assert isinstance(error, RateLimitedError)
    assert error.reset_at == NOW + 60 and error.retry_after == 60


def test_requests_httpx_prawcore_and_mastodon_style_errors_are_read_generically():
    http_error = requests.HTTPError(response=requests_response(502, "Bad Gateway"))
    assert type(classify(http_error, service="RSS")) is RetriableError
    httpx_error = httpx.HTTPStatusError(
        "429", request=httpx.Request("GET", "https://bsky.social"), response=httpx.Response(429)
    )
    assert type(classify(httpx_error, service="Bluesky")) is RateLimitedError
    praw_error = prawcore.exceptions.Forbidden(requests_response(403, "Forbidden"))
    assert type(classify(praw_error, service="Reddit")) is AuthError
    mastodon_style = Exception("Mastodon API returned error", 404, "Not Found", "Record not found")
    assert status_of(mastodon_style) == 404
    error = classify(mastodon_style, service="Mastodon")
    assert type(error) is SkippableError and str(error).endswith("(404 Not Found): Record not found")


def test_rule_for_exception_prefers_the_most_specific_row():
    assert rule_for_exception(requests.ConnectTimeout()).summary == "{service} did not answer in time"
    assert rule_for_exception(KeyboardInterrupt()).action is Action.FATAL


# --- rate-limit headers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-rate-limit-reset": str(int(NOW) + 90)}, NOW + 90),  # X: Unix time
        ({"RateLimit-Reset": str(int(NOW) + 30)}, NOW + 30),  # Bluesky: Unix time
        ({"X-Ratelimit-Reset": "42.0"}, NOW + 42),  # Reddit: seconds from now
        ({"X-RateLimit-Reset": "2026-03-02T09:05:00.000Z"}, NOW + 300),  # Mastodon: ISO 8601
        ({"Retry-After": "120"}, NOW + 120),
        ({"Retry-After": "Mon, 02 Mar 2026 09:10:00 GMT"}, NOW + 600),
        ({"Retry-After": "soon", "x-rate-limit-reset": str(int(NOW) + 5)}, NOW + 5),
        ({"x-rate-limit-reset": "nan"}, None),
        ({}, None),
    ],
)
def test_reset_time_is_read_from_any_platform_header(headers, expected):
    assert reset_at_from_headers(headers, now=NOW) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"x-rate-limit-remaining": "0"}, 0), ({"X-Ratelimit-Remaining": "598.0"}, 598), ({}, None)],
)
def test_remaining_is_read_from_any_platform_header(headers, expected):
    assert remaining_from_headers(headers) == expected


# --- waiting and retrying --------------------------------------------------------------------


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def waiter(sleeps: Sleeps, **kwargs) -> RateLimitWaiter:
    return RateLimitWaiter(sleeper=sleeps, clock=lambda: NOW, **kwargs)


def test_reset_in_the_past_warns_about_clock_skew_and_waits_briefly(caplog):
    sleeps = Sleeps()
    with caplog.at_level(logging.WARNING):
        slept = waiter(sleeps).wait_until(NOW - 30)
    assert slept == 5.0 and sleeps == [5.0]
    assert "local clock may be ahead" in caplog.text


def test_before_request_sleeps_only_when_the_window_is_spent():
    sleeps = Sleeps()
    w = waiter(sleeps)
    w.observe("mentions", {"x-rate-limit-remaining": "3", "x-rate-limit-reset": str(int(NOW) + 60)})
    assert w.before_request("mentions") == 0.0
    w.observe("mentions", {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(NOW) + 60)})
    assert w.before_request("search") == 0.0  # another endpoint, another window
    assert w.before_request("mentions") == 61.0 and sleeps == [61.0]


def flaky(*failures: BaseException, result: str = "ok"):
    calls = {"n": 0}

    def fn() -> str:
        calls["n"] += 1
        if calls["n"] <= len(failures):
            raise failures[calls["n"] - 1]
        return result

    return fn, calls


def x_classifier(exc: BaseException, now: float) -> ConnectorError:
    return classify(exc, service="X", now=now)


def test_call_with_retries_waits_out_a_429_then_backs_off_a_5xx():
    sleeps = Sleeps()
    limited = tweepy.TooManyRequests(
        requests_response(429, "Too Many Requests", headers={"x-rate-limit-reset": str(int(NOW) + 10)})
    )
    down = tweepy.TwitterServerError(requests_response(500, "Internal Server Error"))
    fn, calls = flaky(limited, down)
    policy = RetryPolicy(attempts=3, initial_s=2, max_backoff_s=30, jitter_s=0.5)
    assert call_with_retries(fn, classify_error=x_classifier, waiter=waiter(sleeps), policy=policy) == "ok"
    assert calls["n"] == 3
    assert sleeps[0] == 11.0 and 4.0 <= sleeps[1] <= 4.5


def test_retry_respects_the_backoff_cap():
    sleeps = Sleeps()
    fn, _ = flaky(*[requests.ConnectionError("down")] * 6)
    policy = RetryPolicy(attempts=6, initial_s=1, max_backoff_s=3, jitter_s=1)
    with pytest.raises(RetriableError, match="gave up after 6 attempts"):
        call_with_retries(fn, classify_error=x_classifier, waiter=waiter(sleeps), policy=policy)
    assert len(sleeps) == 5 and all(s <= 3.0 for s in sleeps)


def test_fatal_errors_are_not_retried():
    sleeps = Sleeps()
    fn, calls = flaky(tweepy.Forbidden(requests_response(403, "Forbidden")))
    with pytest.raises(AuthError):
        call_with_retries(fn, classify_error=x_classifier, waiter=waiter(sleeps))
    assert calls["n"] == 1 and sleeps == []


def test_retry_on_limits_which_retriable_errors_are_retried():
    sleeps = Sleeps()
    fn, calls = flaky(tweepy.TwitterServerError(requests_response(503, "Service Unavailable")))
    with pytest.raises(RetriableError):
        call_with_retries(fn, classify_error=x_classifier, waiter=waiter(sleeps), retry_on=(RateLimitedError,))
    assert calls["n"] == 1 and sleeps == []


# --- paginator -------------------------------------------------------------------------------


def test_paginator_follows_tokens_and_finishes():
    paginator = TokenPaginator()
    assert paginator.current_value is None and paginator.has_more
    paginator.advance("a")
    paginator.advance("b")
    assert paginator.current_value == "b" and paginator.count == 2
    paginator.advance(None)
    assert not paginator.has_more and paginator.current_value is None
    with pytest.raises(RuntimeError):
        paginator.advance("c")


@pytest.mark.parametrize("tokens", [["a", "a"], ["a", "b", "a"]])
def test_paginator_refuses_a_token_it_has_already_followed(tokens):
    paginator = TokenPaginator(service="X")
    with pytest.raises(PaginationLoopError, match="returned page token 'a' a second time"):
        for token in tokens:
            paginator.advance(token)
    assert isinstance(PaginationLoopError("x"), FatalError)


def test_paginator_refuses_the_start_token_coming_back():
    with pytest.raises(PaginationLoopError):
        TokenPaginator("resume-token").advance("resume-token")


# --- read budget -----------------------------------------------------------------------------


def test_budget_allowance_cost_and_warning():
    budget = ReadBudget(monthly_cap=10_000, price_per_read=Decimal("0.005"))
    assert budget.allowance(used=0, wanted=100) == 100
    assert budget.allowance(used=9_960, wanted=100) == 40
    assert budget.remaining(12_000) == 0
    assert budget.cost(2_000) == Decimal("10.000") and budget.format_cost(2_000) == "10.00 USD"
    assert budget.warning(7_999) is None
    assert budget.warning(8_000) == "X reads at 80% of the monthly cap: 8,000 of 10,000 used (about 40.00 USD)"


def test_budget_at_the_cap_raises_a_plain_words_error():
    budget = ReadBudget(monthly_cap=10_000, price_per_read=Decimal("0.005"))
    with pytest.raises(BudgetExhaustedError) as info:
        budget.allowance(used=10_000, wanted=100)
    assert str(info.value) == (
        "X monthly read cap reached: 10,000 of 10,000 reads used (about 50.00 USD). "
        "Fetching is paused until next month or until the cap is raised in the config."
    )
    assert budget.warning(10_000) == str(info.value)


def test_budget_without_a_cap_never_stops_and_bad_values_are_refused():
    assert ReadBudget(monthly_cap=None).allowance(used=10**9, wanted=100) == 100
    with pytest.raises(ValueError, match="monthly_cap"):
        ReadBudget(monthly_cap=-1)
    with pytest.raises(ValueError, match="price_per_read"):
        ReadBudget(monthly_cap=1, price_per_read=Decimal("-0.1"))


def test_budget_month_is_the_utc_calendar_month():
    from datetime import datetime, timedelta, timezone

    late_evening_in_new_york = datetime(2026, 3, 31, 21, 0, tzinfo=timezone(timedelta(hours=-4)))
    assert budget_month(late_evening_in_new_york) == "2026-04"
