"""Sign-in under attack, on a real SQLite file and real PostgreSQL: bursts, spraying, lockouts.

Every password check is a real argon2 verification, counted by wrapping the real
``password_matches``: that count is what an attacker gets out of the console.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from sqlalchemy import func, select

from console.config import SecurityConfig, SignInLimits
from console.services import auth
from console.services.auth import SignedIn, SignInError, SignInThrottled, authenticate
from console.services.store import Store, open_store
from console.services.users import hash_password, password_matches
from storage.enums import Role
from storage.models import AuthSession, LoginAttempt, User

PASSWORD = "correct horse battery"
HASH = hash_password(PASSWORD)
"""One argon2 hash shared by every test user: hashing is the slow part of these tests."""
T = datetime(2026, 11, 20, 9, tzinfo=UTC)
DEFAULTS = SecurityConfig()
"""The shipped limits: 3 free failures, 5 s doubling to 15 min, 20 per address and 200 overall per 15 min."""
ATTACKER, VICTIM = "203.0.113.66", "198.51.100.20"


class CountingCheck:
    """The real argon2 check, counting the passwords it verified; ``started`` fires at ``signal_at``."""

    def __init__(self, signal_at: int = 0) -> None:
        self.count = 0
        self.signal_at = signal_at
        self.started = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, password_hash: str, password: str) -> bool:
        with self._lock:
            self.count += 1
            if self.count == self.signal_at:
                self.started.set()
        return password_matches(password_hash, password)


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> CountingCheck:
    """Count every password the sign-in service verifies."""
    counter = CountingCheck(signal_at=DEFAULTS.sign_in.free_failures)
    monkeypatch.setattr(auth, "password_matches", counter)
    return counter


@pytest.fixture
def replica(store: Store) -> Iterator[Store]:
    """A second engine on the same database, as a second console process would have."""
    other = open_store(store.url)
    yield other
    other.dispose()


def _users(store: Store, *names: str) -> None:
    with store.transaction() as s:
        s.add_all(User(username=name, role=Role.AGENT, password_hash=HASH) for name in names)


def _security(**limits: object) -> SecurityConfig:
    return SecurityConfig(sign_in=SignInLimits.model_validate(limits))


def _outcome(call: Callable[[], SignedIn]) -> str:
    try:
        call()
    except SignInThrottled as exc:
        return f"throttled:{exc.limit}"
    except SignInError:
        return "wrong"
    return "signed in"


def _attempt(
    store: Store, username: str, password: str, address: str, security: SecurityConfig, now: datetime
) -> Callable[[], SignedIn]:
    return partial(authenticate, store, username, password, client_address=address, security=security, now=now)


def _try(store: Store, username: str, password: str, address: str, security: SecurityConfig, now: datetime) -> str:
    return _outcome(_attempt(store, username, password, address, security, now))


def _count(store: Store, *where: object) -> int:
    with store.read() as s:
        return int(s.scalar(select(func.count()).select_from(LoginAttempt).where(*where)) or 0)  # type: ignore[arg-type]


def _burst(attempts: list[Callable[[], SignedIn]]) -> list[str]:
    """Run every attempt in its own thread, released at the same instant."""
    barrier = threading.Barrier(len(attempts))
    outcomes: list[str] = [""] * len(attempts)

    def run(i: int) -> None:
        barrier.wait()
        outcomes[i] = _outcome(attempts[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(attempts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def test_a_burst_of_40_guesses_across_two_replicas_checks_only_the_free_failures(
    store: Store, replica: Store, checks: CountingCheck
) -> None:
    _users(store, "jamie")
    outcomes = _burst(
        [_attempt(store if i % 2 else replica, "jamie", f"guess-{i}", ATTACKER, DEFAULTS, T) for i in range(40)]
    )
    free = DEFAULTS.sign_in.free_failures
    assert checks.count == free
    assert sorted(outcomes) == ["throttled:username"] * (40 - free) + ["wrong"] * free
    assert _count(store) == free  # refused attempts are not recorded, so they cannot lengthen the wait
    # the right password straight after the burst is refused unchecked too
    assert _try(store, "jamie", PASSWORD, ATTACKER, DEFAULTS, T + timedelta(seconds=1)) == "throttled:username"
    assert checks.count == free


def test_the_right_password_inside_a_burst_does_not_sign_in_once_throttled(
    store: Store, replica: Store, checks: CountingCheck
) -> None:
    _users(store, "jamie")
    guesses = [_attempt(replica, "jamie", f"guess-{i}", ATTACKER, DEFAULTS, T) for i in range(39)]

    def right_password_once_the_free_guesses_are_being_checked() -> SignedIn:
        assert checks.started.wait(60)
        return authenticate(store, "jamie", PASSWORD, client_address=ATTACKER, security=DEFAULTS, now=T)

    outcomes = _burst([*guesses, right_password_once_the_free_guesses_are_being_checked])
    assert outcomes[-1] == "throttled:username"
    assert checks.count == DEFAULTS.sign_in.free_failures
    with store.read() as s:
        assert s.scalar(select(func.count()).select_from(AuthSession)) == 0


def test_spraying_many_users_from_one_address_is_stopped_by_the_per_address_limit(
    store: Store, checks: CountingCheck
) -> None:
    names = [f"user{i}" for i in range(12)]
    _users(store, *names)
    security = _security(per_address=5)
    outcomes = [_try(store, name, "Summer2026!", ATTACKER, security, T) for name in names]
    assert outcomes == ["wrong"] * 5 + ["throttled:address"] * 7
    assert checks.count == 5 and _count(store) == 5
    # other addresses are not slowed, and the sprayer gets five more only after the window
    assert _try(store, "user9", PASSWORD, VICTIM, security, T) == "signed in" and checks.count == 6
    later = T + security.sign_in.window + timedelta(seconds=1)
    assert _try(store, "user11", "Autumn2026!", ATTACKER, security, later) == "wrong" and checks.count == 7


def test_an_ipv6_sprayer_rotating_through_its_64_counts_as_one_address(
    sqlite_store: Store, checks: CountingCheck
) -> None:
    security = _security(per_address=2)
    outcomes = [_try(sqlite_store, f"u{i}", "guess", f"2001:db8:7:9::{i + 1:x}", security, T) for i in range(4)]
    assert outcomes == ["wrong", "wrong", "throttled:address", "throttled:address"]
    assert checks.count == 2


def test_the_overall_limit_stops_a_distributed_attack_but_not_known_devices(
    store: Store, checks: CountingCheck
) -> None:
    _users(store, "kim")
    security = _security(overall=4, per_address=100)
    home = "192.0.2.50"
    assert _try(store, "kim", PASSWORD, home, security, T - timedelta(hours=1)) == "signed in"
    assert [_try(store, f"admin{i}", "guess", f"192.0.2.{i + 1}", security, T) for i in range(4)] == ["wrong"] * 4
    soon = T + timedelta(seconds=1)
    with pytest.raises(SignInThrottled) as refused:
        authenticate(store, "admin", "guess", client_address="192.0.2.99", security=security, now=soon)
    assert refused.value.limit == "overall" and refused.value.retry_in == security.sign_in.window - timedelta(seconds=1)
    # kim from a new place waits like everyone else, but from where kim signed in before still gets in
    assert _try(store, "kim", PASSWORD, "192.0.2.51", security, soon) == "throttled:overall"
    assert _try(store, "kim", PASSWORD, home, security, soon) == "signed in"
    assert checks.count == 1 + 4 + 1
    later = T + security.sign_in.window + timedelta(seconds=1)
    assert _try(store, "kim", PASSWORD, "192.0.2.51", security, later) == "signed in"


def test_an_attacker_cannot_keep_a_user_locked_out(store: Store, checks: CountingCheck) -> None:
    """The attacker guesses at the fastest pace allowed; the real user, elsewhere, signs in every time."""
    _users(store, "jamie")
    security = _security(free_failures=2, first_wait="5s", max_wait="30s", window="30s", per_address=1000)
    limits = security.sign_in
    now, end, guesses, signed_in = T, T + timedelta(minutes=5), 0, 0
    while True:
        try:
            authenticate(store, "jamie", f"guess-{guesses}", client_address=ATTACKER, security=security, now=now)
        except SignInThrottled as exc:
            assert exc.retry_in <= limits.max_wait  # the backoff is capped: never locked for longer
            now += exc.retry_in
            continue
        except SignInError:
            guesses += 1
        if now >= end:
            break
        if guesses % 3 == 0:  # the real user, from their own address, while the attacker is locked out
            assert _try(store, "jamie", PASSWORD, VICTIM, security, now) == "signed in"
            signed_in += 1
        now += timedelta(seconds=1)
    assert signed_in == guesses // 3 >= 3
    # 2 free guesses, then waits of 5, 10 and 20 s, then one guess every 30 s
    assert guesses <= limits.free_failures + 3 + 10
    assert checks.count == guesses + signed_in
    # the address that was guessing gets in with the right password after max_wait, not later
    assert _try(store, "jamie", PASSWORD, ATTACKER, security, now + timedelta(seconds=1)) == "throttled:username"
    assert _try(store, "jamie", PASSWORD, ATTACKER, security, now + limits.max_wait) == "signed in"


def test_failures_from_an_address_over_its_limit_never_count_against_the_username(
    store: Store, checks: CountingCheck
) -> None:
    _users(store, "jamie")
    security = _security(free_failures=10, per_address=3)
    outcomes = [_try(store, "jamie", f"g{i}", ATTACKER, security, T + timedelta(seconds=i)) for i in range(8)]
    assert outcomes == ["wrong"] * 3 + ["throttled:address"] * 5
    assert checks.count == 3 and _count(store, LoginAttempt.username == "jamie") == 3
    with store.read() as s:
        assert s.scalar(select(User.failed_logins).where(User.username == "jamie")) == 3
