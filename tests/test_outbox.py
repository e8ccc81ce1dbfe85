"""The outbox: one reply in flight per mention, retries with backoff, and never a second post after a crash."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from connectors.base import AuthError, Batch, Mention, PostedReply, RetriableError
from console.services.permissions import Actor
from console.services.replies.outbox import (
    IdempotencyConflictError,
    NotReplyableError,
    OutboxError,
    ReplyInFlightError,
    UnresolvedReplyError,
    queue_reply,
    settle_reply,
)
from console.services.store import Store, open_store
from console.worker.outbox_step import MAX_ATTEMPTS, outbox_step, send_queued
from storage.enums import ReplyState, Role
from storage.ingest import ingest_batch
from storage.models import AuditEntry, Reply, Source, User
from storage.models import Mention as MentionRow
from tests.factories import make_batch, make_mention

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


class Killed(BaseException):
    """The process dies here: nothing after it runs, no ``except Exception`` sees it."""


class Platform:
    """A double of a network that accepts replies and remembers every post (no way to search it)."""

    platform: ClassVar[str] = "x"

    def __init__(self, *, failures: list[Exception] | None = None, crash_after_post: bool = False) -> None:
        self.posted: list[tuple[str, str, str]] = []
        self.failures = list(failures or [])
        self.crash_after_post = crash_after_post

    def fetch(self, cursor: str | None, *, limit: int = 100) -> Batch:
        return Batch([], cursor, False)

    def reply(self, to: Mention, text: str, *, idempotency_key: str) -> PostedReply:
        if self.failures:
            raise self.failures.pop(0)
        self.posted.append((to.external_id, text, idempotency_key))
        if self.crash_after_post:
            raise Killed
        return self._posted(len(self.posted))

    @staticmethod
    def _posted(n: int) -> PostedReply:
        return PostedReply(f"reply-{n}", f"https://x.com/skyline/status/reply-{n}", NOW + timedelta(seconds=n))


class SearchablePlatform(Platform):
    """The same network with a way to look for a posted reply (X's conversation search)."""

    def __init__(self, *, visible: bool = True, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.visible = visible
        self.searches = 0

    def find_reply(self, to: Mention, text: str) -> PostedReply | None:
        self.searches += 1
        for n, (external_id, posted_text, _) in enumerate(self.posted, start=1):
            if self.visible and external_id == to.external_id and posted_text == text:
                return self._posted(n)
        return None


def seed(store: Store, n: int = 1, **kw: object) -> list[int]:
    with store.transaction() as session:
        ingest_batch(session, make_batch(n, **kw))
        return list(session.scalars(select(MentionRow.id).order_by(MentionRow.id)))


def queue(store: Store, mention_id: int, text: str = "So sorry, we are on it", key: str = "k1") -> int:
    with store.transaction() as session:
        return queue_reply(session, mention_id, text, None, key).id


def reply_row(store: Store, reply_id: int) -> Reply:
    with store.read() as session:
        row = session.get(Reply, reply_id)
        assert row is not None
        return row


def manager(store: Store, name: str = "maya", role: Role = Role.MANAGER) -> Actor:
    with store.transaction() as session:
        user = session.scalar(select(User).where(User.username == name))
        if user is None:
            user = User(username=name, display_name=name.capitalize(), role=role, password_hash="-")
            session.add(user)
            session.flush()
        return Actor.of(user)


def audit_actions(store: Store) -> list[str]:
    with store.read() as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


# --- queueing ---------------------------------------------------------------------------------


def test_a_double_clicked_send_is_one_reply(store: Store) -> None:
    (mention_id,) = seed(store)
    first, second = queue(store, mention_id), queue(store, mention_id)
    assert first == second
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(Reply)) == 1
    platform = Platform()
    send_queued(store, lambda m: platform, now=NOW)
    send_queued(store, lambda m: platform, now=NOW + timedelta(minutes=1))
    assert platform.posted == [("x-0", "So sorry, we are on it", "k1")]


def test_a_second_different_reply_while_one_is_in_flight_gets_a_clear_error(store: Store) -> None:
    (mention_id,) = seed(store)
    queue(store, mention_id)
    with pytest.raises(ReplyInFlightError, match="another reply to this mention is already queued"):
        queue(store, mention_id, "A different answer", key="k2")
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(Reply)) == 1


def test_the_database_itself_refuses_two_replies_in_flight(store: Store) -> None:
    (mention_id,) = seed(store)
    with pytest.raises(IntegrityError), store.transaction() as session:
        session.add_all([Reply(mention_id=mention_id, text=t, idempotency_key=t) for t in ("a", "b")])


def wait_until_blocked_by(store: Store, holder_pid: int, timeout: float = 10.0) -> None:
    """Return once another PostgreSQL backend waits on a lock that ``holder_pid`` holds; fail at the deadline."""
    blocked = text("SELECT count(*) FROM pg_stat_activity WHERE :holder = ANY(pg_blocking_pids(pid))")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with store.engine.connect() as conn:  # a transaction per look: pg_stat_activity is read afresh
            if conn.scalar(blocked, {"holder": holder_pid}):
                return
        time.sleep(0.01)
    pytest.fail(f"no backend waited on backend {holder_pid}'s locks within {timeout} s")


@pytest.mark.parametrize("same_key", [True, False])
def test_concurrent_sends_on_postgresql_are_settled_by_the_index(pg_store: Store, same_key: bool) -> None:
    (mention_id,) = seed(pg_store)
    results: list[object] = []

    def other_tab() -> None:
        try:
            results.append(queue(pg_store, mention_id, "Sorry!" if same_key else "Other", "k1" if same_key else "k2"))
        except OutboxError as exc:
            results.append(exc)

    with pg_store.transaction() as session:
        first = queue_reply(session, mention_id, "Sorry!", None, "k1")
        session.flush()
        holder = session.scalar(text("SELECT pg_backend_pid()"))
        thread = threading.Thread(target=other_tab)
        thread.start()
        wait_until_blocked_by(pg_store, holder)  # the other tab waits on the unique index until this transaction ends
        assert thread.is_alive() and results == []
    thread.join(10)
    (outcome,) = results
    if same_key:
        assert outcome == first.id
    else:
        assert isinstance(outcome, ReplyInFlightError)


def test_bad_sends_are_refused_with_reasons(store: Store) -> None:
    replyable, listen_only = seed(store, 2)
    with store.transaction() as session:
        session.get(MentionRow, listen_only).replyable = False  # type: ignore[union-attr]
        session.get(MentionRow, listen_only).replyable_reason = "found by keyword search"  # type: ignore[union-attr]
    with pytest.raises(NotReplyableError, match="found by keyword search"):
        queue(store, listen_only)
    with pytest.raises(OutboxError, match="empty"):
        queue(store, replyable, "   ")
    queue(store, replyable, "Sorry!", key="k1")
    with pytest.raises(IdempotencyConflictError):
        queue(store, replyable, "Something else", key="k1")


# --- sending ----------------------------------------------------------------------------------


def test_a_sent_reply_records_the_post_the_first_response_and_the_audit_trail(store: Store) -> None:
    (mention_id,) = seed(store)
    reply_id = queue(store, mention_id)
    report = send_queued(store, lambda m: Platform(), now=NOW)
    assert report.sent == [reply_id]
    row = reply_row(store, reply_id)
    assert (row.state, row.attempts, row.external_id, row.last_error) == (ReplyState.SENT, 1, "reply-1", None)
    assert row.external_url == "https://x.com/skyline/status/reply-1" and row.sent_at == NOW + timedelta(seconds=1)
    with store.read() as session:
        assert session.get(MentionRow, mention_id).first_response_at == NOW + timedelta(seconds=1)  # type: ignore[union-attr]
    assert audit_actions(store) == ["reply.queued", "reply.sent"]
    queue(store, mention_id, "One more thing", key="k2")  # a follow-up is allowed once the first is sent
    send_queued(store, lambda m: Platform(), now=NOW + timedelta(hours=1))
    with store.read() as session:
        assert session.get(MentionRow, mention_id).first_response_at == NOW + timedelta(seconds=1)  # type: ignore[union-attr]


def test_retriable_errors_back_off_then_look_before_posting_again(store: Store) -> None:
    (mention_id,) = seed(store)
    reply_id = queue(store, mention_id)
    platform = SearchablePlatform(failures=[RetriableError("X had an internal error (503)", retry_after=90)])
    report = send_queued(store, lambda m: platform, now=NOW)
    assert report.retrying == [reply_id]
    row = reply_row(store, reply_id)
    assert (row.state, row.attempts, row.next_attempt_at) == (ReplyState.QUEUED, 1, NOW + timedelta(seconds=90))
    assert row.last_error is not None and "503" in row.last_error
    assert send_queued(store, lambda m: platform, now=NOW + timedelta(seconds=60)).retrying == []  # not yet due
    report = send_queued(store, lambda m: platform, now=NOW + timedelta(seconds=91))
    assert report.sent == [reply_id] and platform.searches == 1 and len(platform.posted) == 1
    assert reply_row(store, reply_id).attempts == 2


def test_a_reply_the_platform_took_despite_an_error_is_found_not_posted_twice(store: Store) -> None:
    (mention_id,) = seed(store)
    reply_id = queue(store, mention_id)

    class TimesOutAfterPosting(SearchablePlatform):
        def reply(self, to: Mention, text: str, *, idempotency_key: str) -> PostedReply:
            if not self.posted:
                self.posted.append((to.external_id, text, idempotency_key))
                raise RetriableError("X did not answer in time")
            return super().reply(to, text, idempotency_key=idempotency_key)

    platform = TimesOutAfterPosting()
    send_queued(store, lambda m: platform, now=NOW)
    send_queued(store, lambda m: platform, now=NOW + timedelta(hours=1))
    assert len(platform.posted) == 1 and reply_row(store, reply_id).state is ReplyState.SENT


def test_fatal_errors_stop_with_the_reason(store: Store) -> None:
    (mention_id,) = seed(store)
    reply_id = queue(store, mention_id)
    refused = AuthError("X refused access with these credentials (403 Forbidden)", status=403)
    report = send_queued(store, lambda m: Platform(failures=[refused]), now=NOW)
    assert report.failed == [reply_id]
    row = reply_row(store, reply_id)
    assert row.state is ReplyState.FAILED and row.attempts == 1
    assert row.last_error == "not sent: X refused access with these credentials (403 Forbidden)"
    assert audit_actions(store) == ["reply.queued", "reply.failed"]
    queue(store, mention_id, "Trying again", key="k2")  # a failed reply no longer blocks a new one


def test_retries_give_up_after_the_last_attempt(sqlite_store: Store) -> None:
    (mention_id,) = seed(sqlite_store)
    reply_id = queue(sqlite_store, mention_id)
    platform = SearchablePlatform(failures=[RetriableError("X is unavailable (503)", retry_after=1)] * MAX_ATTEMPTS)
    for minute in range(MAX_ATTEMPTS):
        send_queued(sqlite_store, lambda m: platform, now=NOW + timedelta(minutes=minute))
    row = reply_row(sqlite_store, reply_id)
    assert (row.state, row.attempts, platform.posted) == (ReplyState.FAILED, MAX_ATTEMPTS, [])
    assert row.last_error == f"gave up after {MAX_ATTEMPTS} attempts: X is unavailable (503)"


def test_an_unexpected_error_parks_the_reply_for_a_human(sqlite_store: Store) -> None:
    (mention_id,) = seed(sqlite_store)
    reply_id = queue(sqlite_store, mention_id)
    report = send_queued(sqlite_store, lambda m: Platform(failures=[ZeroDivisionError("boom")]), now=NOW)
    assert report.needs_attention == [reply_id]
    assert reply_row(sqlite_store, reply_id).last_error == "unexpected error while sending (ZeroDivisionError): boom"


# --- crash after the platform accepted the reply ----------------------------------------------


ELSEWHERE = "other-host:4242"
"""A worker on another machine: its liveness is known only from its heartbeat row (none here) and the row's age."""


def crash_mid_send(store: Store, platform: Platform) -> int:
    (mention_id,) = seed(store)
    reply_id = queue(store, mention_id)
    platform.crash_after_post = True
    with pytest.raises(Killed):
        send_queued(store, lambda m: platform, now=NOW, owner=ELSEWHERE)
    platform.crash_after_post = False
    assert reply_row(store, reply_id).state is ReplyState.SENDING  # committed before the platform call
    return reply_id


def test_after_a_crash_the_reply_is_found_on_the_platform_and_never_posted_again(store: Store) -> None:
    platform = SearchablePlatform()
    reply_id = crash_mid_send(store, platform)
    early = send_queued(store, lambda m: platform, now=NOW + timedelta(minutes=1))  # may still be in flight
    assert early.recovered == [] and reply_row(store, reply_id).state is ReplyState.SENDING
    report = send_queued(store, lambda m: platform, now=NOW + timedelta(minutes=10))
    assert report.recovered == [reply_id] and len(platform.posted) == 1
    row = reply_row(store, reply_id)
    assert (row.state, row.external_id) == (ReplyState.SENT, "reply-1")
    assert audit_actions(store) == ["reply.queued", "reply.recovered"]


@pytest.mark.parametrize("make", [lambda: SearchablePlatform(visible=False), Platform], ids=["not-found", "no-search"])
def test_after_a_crash_an_unconfirmed_reply_waits_for_a_human(store: Store, make: type[Platform]) -> None:
    platform = make()
    reply_id = crash_mid_send(store, platform)
    report = send_queued(store, lambda m: platform, now=NOW + timedelta(minutes=10))
    assert report.needs_attention == [reply_id] and len(platform.posted) == 1
    row = reply_row(store, reply_id)
    assert row.state is ReplyState.NEEDS_ATTENTION and "check the thread" in (row.last_error or "")
    send_queued(store, lambda m: platform, now=NOW + timedelta(hours=1))
    assert len(platform.posted) == 1
    with pytest.raises(UnresolvedReplyError):
        queue(store, row.mention_id, "Hello again", key="k2")
    with store.transaction() as session:
        settle_reply(session, manager(store), reply_id, posted=False)
    queue(store, row.mention_id, "Hello again", key="k2")


class FilePlatform(SearchablePlatform):
    """Posts survive the process: they are lines in a file (the "platform" outlives the worker)."""

    def __init__(self, path: Path, *, die_after_post: bool = False) -> None:
        super().__init__()
        self.path, self.die_after_post = path, die_after_post

    def reply(self, to: Mention, text: str, *, idempotency_key: str) -> PostedReply:
        with self.path.open("a") as file:
            file.write(json.dumps([to.external_id, text, idempotency_key]) + "\n")
        if self.die_after_post:
            os._exit(137)
        return self._posted(1)

    def find_reply(self, to: Mention, text: str) -> PostedReply | None:
        self.posted = [tuple(json.loads(line)) for line in self.path.read_text().splitlines()]  # type: ignore[misc]
        return super().find_reply(to, text)


def _worker_killed_after_posting(url: str, path: Path) -> None:
    send_queued(open_store(url), lambda m: FilePlatform(path, die_after_post=True), now=NOW)


def test_a_worker_process_killed_after_the_platform_accepted_does_not_post_twice(store: Store, tmp_path) -> None:
    (mention_id,) = seed(store)
    reply_id = queue(store, mention_id)
    posts = tmp_path / "platform.jsonl"
    child = multiprocessing.get_context("fork").Process(target=_worker_killed_after_posting, args=(store.url, posts))
    child.start()
    child.join(30)
    assert child.exitcode == 137 and reply_row(store, reply_id).state is ReplyState.SENDING
    report = send_queued(store, lambda m: FilePlatform(posts), now=NOW + timedelta(minutes=10))
    assert report.recovered == [reply_id] and len(posts.read_text().splitlines()) == 1
    assert reply_row(store, reply_id).state is ReplyState.SENT


# --- several workers, and routing through the mention's source --------------------------------


def test_two_workers_on_postgresql_send_each_reply_once(pg_store: Store) -> None:
    mention_ids = seed(pg_store, 12)
    for i, mention_id in enumerate(mention_ids):
        queue(pg_store, mention_id, f"Reply {i}", key=f"k{i}")
    posted: list[str] = []
    lock, barrier = threading.Lock(), threading.Barrier(2)

    class Slow(Platform):
        def reply(self, to: Mention, text: str, *, idempotency_key: str) -> PostedReply:
            time.sleep(0.02)
            with lock:
                posted.append(idempotency_key)
            return self._posted(len(posted))

    def work() -> None:
        barrier.wait()
        send_queued(pg_store, lambda m: Slow(), now=NOW, limit=4)
        send_queued(pg_store, lambda m: Slow(), now=NOW, limit=20)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(posted) == sorted(f"k{i}" for i in range(12))
    with pg_store.read() as session:
        states = list(session.scalars(select(Reply.state)))
    assert states == [ReplyState.SENT] * 12


def test_the_worker_step_replies_through_the_source_that_fetched_the_mention(sqlite_store: Store) -> None:
    with sqlite_store.transaction() as session:
        session.add_all(
            [Source(name="x-search", platform="x", kind="search"), Source(name="x-m", platform="x", kind="mentions")]
        )
        session.flush()
        source_id = session.scalar(select(Source.id).where(Source.name == "x-m"))
        ingest_batch(session, [make_mention(1)], source_id=source_id)
        mention_id = session.scalar(select(MentionRow.id))
    queue(sqlite_store, mention_id)  # type: ignore[arg-type]
    platforms: dict[str, Platform] = {}
    report = outbox_step(lambda lease: platforms.setdefault(lease.name, Platform()))(sqlite_store)
    assert len(report.sent) == 1 and list(platforms) == ["x-m"] and len(platforms["x-m"].posted) == 1


# --- the demo ---------------------------------------------------------------------------------


def test_a_reply_to_seeded_demo_history_goes_out_through_the_brands_demo_source(sqlite_store: Store) -> None:
    """Seeded mentions carry platforms (mastodon, bluesky…) that have no source in the demo config; the demo
    source of their brand fetched them, so the reply goes out through it instead of failing as unroutable."""
    from console.config import load_config
    from console.secrets import Secrets
    from console.services.demo_seed import seed_demo
    from console.worker.factory import ConnectorFactory
    from console.worker.outbox_step import SourceConnectors
    from storage.models import Brand

    cfg = load_config()
    seed_demo(sqlite_store, cfg, mentions=400, now=NOW)
    with sqlite_store.read() as session:
        rows = session.execute(
            select(MentionRow.id, MentionRow.platform, Brand.name, Source.name, Source.platform)
            .join(Brand, Brand.id == MentionRow.brand_id)
            .outerjoin(Source, Source.id == MentionRow.source_id)
            .where(MentionRow.replyable.is_(True), MentionRow.is_brand_post.is_(False))
        ).all()
        reply_count = session.scalar(select(func.count()).select_from(Reply))
    own = {b.name for b in cfg.brands if any(s.kind == "demo" and s.brand == b.name for s in cfg.sources)}
    ours = [r for r in rows if r[2] in own]
    assert ours and all(r[3] is not None and r[4] == "demo" for r in ours), ours[:5]
    mention_id = next(r[0] for r in ours if r[1] == "mastodon")
    reply_id = queue(sqlite_store, mention_id, "So sorry about this. ^JK", key="demo-1")
    factory = ConnectorFactory(secrets=Secrets(env={}), config=cfg, store=sqlite_store)
    report = send_queued(sqlite_store, SourceConnectors(sqlite_store, factory), now=NOW)
    assert report.sent == [reply_id], report
    assert reply_row(sqlite_store, reply_id).state is ReplyState.SENT
    with sqlite_store.read() as session:
        assert session.scalar(select(func.count()).select_from(Reply)) == reply_count + 1


# --- one reply at a time, and what a crash or an outage leaves --------------------------------


def sending_count(store: Store) -> int:
    with store.read() as session:
        return session.scalar(select(func.count()).select_from(Reply).where(Reply.state == ReplyState.SENDING)) or 0


def test_replies_are_claimed_one_at_a_time_by_this_worker(store: Store) -> None:
    mention_ids = seed(store, 5)
    for i, mention_id in enumerate(mention_ids):
        queue(store, mention_id, f"Reply {i}", key=f"k{i}")
    seen: list[tuple[int, str | None]] = []

    class Watching(Platform):
        def reply(self, to: Mention, text: str, *, idempotency_key: str) -> PostedReply:
            with store.read() as session:
                claimed = list(session.scalars(select(Reply.claimed_by).where(Reply.state == ReplyState.SENDING)))
            seen.append((len(claimed), claimed[0] if claimed else None))
            return super().reply(to, text, idempotency_key=idempotency_key)

    platform = Watching()
    report = send_queued(store, lambda m: platform, now=NOW, owner="host-a:1")
    assert len(report.sent) == 5 and [key for _, _, key in platform.posted] == [f"k{i}" for i in range(5)]
    assert seen == [(1, "host-a:1")] * 5  # the one being posted, and nothing else stranded


def test_a_limit_sends_that_many_one_after_another(sqlite_store: Store) -> None:
    for i, mention_id in enumerate(seed(sqlite_store, 4)):
        queue(sqlite_store, mention_id, f"Reply {i}", key=f"k{i}")
    report = send_queued(sqlite_store, lambda m: Platform(), now=NOW, limit=3)
    assert len(report.sent) == 3 and sending_count(sqlite_store) == 0
    with sqlite_store.read() as session:
        assert session.scalar(select(func.count()).where(Reply.state == ReplyState.QUEUED)) == 1


def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])  # noqa: S603
    child.wait()
    return child.pid


def _leave_sending(store: Store, claimed_by: str, at: datetime = NOW) -> int:
    (mention_id,) = seed(store)
    reply_id = queue(store, mention_id)
    with store.transaction() as session:
        row = session.get(Reply, reply_id)
        assert row is not None
        row.state, row.attempts, row.claimed_by, row.updated_at = ReplyState.SENDING, 1, claimed_by, at
    return reply_id


def test_a_reply_claimed_by_a_dead_process_on_this_host_is_looked_up_at_once(store: Store) -> None:
    import socket

    reply_id = _leave_sending(store, f"{socket.gethostname()}:{_dead_pid()}")
    platform = SearchablePlatform()
    platform.posted.append(("x-0", "So sorry, we are on it", "k1"))  # it did reach the platform
    report = send_queued(store, lambda m: platform, now=NOW + timedelta(seconds=5))
    assert report.recovered == [reply_id] and len(platform.posted) == 1
    assert reply_row(store, reply_id).state is ReplyState.SENT


@pytest.mark.parametrize(("beat_ago", "gone"), [(timedelta(minutes=2), True), (timedelta(seconds=5), False)])
def test_a_reply_claimed_elsewhere_is_recovered_once_that_workers_heartbeat_is_silent(
    store: Store, beat_ago: timedelta, gone: bool
) -> None:
    from storage.models import WorkerStatus

    reply_id = _leave_sending(store, ELSEWHERE)
    with store.transaction() as session:
        session.add(WorkerStatus(owner=ELSEWHERE, host="other-host", pid=4242, heartbeat_at=NOW - beat_ago))
    report = send_queued(store, lambda m: SearchablePlatform(visible=False), now=NOW + timedelta(seconds=5))
    assert report.needs_attention == ([reply_id] if gone else [])
    assert reply_row(store, reply_id).state is (ReplyState.NEEDS_ATTENTION if gone else ReplyState.SENDING)


def _locked() -> Exception:
    import sqlite3

    from sqlalchemy.exc import OperationalError

    return OperationalError("UPDATE replies …", {}, sqlite3.OperationalError("database is locked"))


def test_a_posted_reply_whose_recording_failed_is_recorded_when_the_database_is_back(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import console.worker.outbox_step as outbox_step_module

    (mention_id,) = seed(store)
    reply_id = queue(store, mention_id)
    real, calls = outbox_step_module.record_first_response, []

    def fails_once(session, mention_id, at):  # type: ignore[no-untyped-def]
        calls.append(mention_id)
        if len(calls) == 1:
            raise _locked()
        real(session, mention_id, at)

    monkeypatch.setattr(outbox_step_module, "record_first_response", fails_once)
    platform = SearchablePlatform()
    with pytest.raises(Exception, match="database is locked"):
        send_queued(store, lambda m: platform, now=NOW)
    assert reply_row(store, reply_id).state is ReplyState.SENDING and len(platform.posted) == 1
    report = send_queued(store, lambda m: platform, now=NOW + timedelta(seconds=30))
    assert len(platform.posted) == 1 and platform.searches == 0  # recorded from memory: no lookup, no second post
    row = reply_row(store, reply_id)
    assert (row.state, row.external_id) == (ReplyState.SENT, "reply-1") and report.sent == [reply_id]


def test_a_claim_that_never_reached_the_platform_goes_back_to_the_queue(store: Store) -> None:
    (mention_id,) = seed(store)
    reply_id = queue(store, mention_id)
    platform, failures = Platform(), [_locked()]

    def connectors(mention: MentionRow) -> Platform:
        if failures:
            raise failures.pop()  # e.g. reading the mention's source failed
        return platform

    with pytest.raises(Exception, match="database is locked"):
        send_queued(store, connectors, now=NOW)
    assert reply_row(store, reply_id).state is ReplyState.SENDING and platform.posted == []
    report = send_queued(store, connectors, now=NOW + timedelta(seconds=30))
    assert report.sent == [reply_id] and report.needs_attention == [] and len(platform.posted) == 1
    assert reply_row(store, reply_id).attempts == 1  # the attempt that never left counts for nothing


def test_an_outcome_kept_from_an_outage_is_recorded_in_its_own_store_only(
    sqlite_store: Store, sqlite_template: Path, tmp_path: Path
) -> None:
    import shutil

    shutil.copy(sqlite_template, tmp_path / "other.db")
    other = open_store(f"sqlite:///{tmp_path / 'other.db'}")
    (mention_id,) = seed(sqlite_store)
    reply_id = queue(sqlite_store, mention_id)
    failures = [_locked()]

    def connectors(mention: MentionRow) -> Platform:
        if failures:
            raise failures.pop()
        return Platform()

    with pytest.raises(Exception, match="database is locked"):
        send_queued(sqlite_store, connectors, now=NOW)  # the requeue is kept in memory for this store
    (other_mention,) = seed(other)
    assert queue(other, other_mention) == reply_id  # the same id in another store
    try:
        report = send_queued(other, lambda m: Platform(), now=NOW + timedelta(seconds=30))
    finally:
        other.dispose()
    assert report.sent == [reply_id] and report.requeued == []
    assert reply_row(sqlite_store, reply_id).state is ReplyState.SENDING  # untouched by the other store's pass
    report = send_queued(sqlite_store, connectors, now=NOW + timedelta(seconds=30))
    assert report.requeued == [reply_id] and report.sent == [reply_id]


def backdate(store: Store, reply_id: int, **times: datetime) -> None:
    """Set a reply's times on the test's clock (an ORM change would stamp ``updated_at`` with the real one)."""
    with store.transaction() as session:
        session.execute(update(Reply).where(Reply.id == reply_id).values(**times))


def test_a_parked_reply_is_looked_for_again_every_five_minutes_for_a_day(store: Store) -> None:
    platform = SearchablePlatform(visible=False)
    reply_id = crash_mid_send(store, platform)
    parked_at = NOW + timedelta(minutes=10)
    assert send_queued(store, lambda m: platform, now=parked_at).needs_attention == [reply_id]
    backdate(store, reply_id, created_at=NOW, updated_at=parked_at)
    searches = platform.searches
    send_queued(store, lambda m: platform, now=parked_at + timedelta(minutes=4))
    assert platform.searches == searches  # not yet
    send_queued(store, lambda m: platform, now=parked_at + timedelta(minutes=6))
    assert platform.searches == searches + 1 and reply_row(store, reply_id).state is ReplyState.NEEDS_ATTENTION
    platform.visible = True  # the platform's search caught up
    send_queued(store, lambda m: platform, now=parked_at + timedelta(minutes=9))
    assert platform.searches == searches + 1  # checked 3 minutes ago
    report = send_queued(store, lambda m: platform, now=parked_at + timedelta(minutes=12))
    assert report.recovered == [reply_id] and len(platform.posted) == 1
    row = reply_row(store, reply_id)
    assert (row.state, row.external_id) == (ReplyState.SENT, "reply-1")
    with store.read() as session:
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert entry is not None and (entry.action, entry.actor) == ("reply.recovered", "worker")


def test_a_parked_reply_older_than_a_day_is_left_to_a_manager(store: Store) -> None:
    platform = SearchablePlatform(visible=False)
    reply_id = crash_mid_send(store, platform)
    send_queued(store, lambda m: platform, now=NOW + timedelta(minutes=10))
    backdate(store, reply_id, created_at=NOW - timedelta(hours=25), updated_at=NOW + timedelta(minutes=10))
    platform.visible, searches = True, platform.searches
    send_queued(store, lambda m: platform, now=NOW + timedelta(hours=2))
    assert platform.searches == searches and reply_row(store, reply_id).state is ReplyState.NEEDS_ATTENTION


# --- settling a parked reply ------------------------------------------------------------------


def park(store: Store) -> int:
    platform = Platform()
    reply_id = crash_mid_send(store, platform)
    send_queued(store, lambda m: platform, now=NOW + timedelta(minutes=10))
    assert reply_row(store, reply_id).state is ReplyState.NEEDS_ATTENTION
    return reply_id


def test_only_a_manager_settles_a_parked_reply_and_it_is_audited(store: Store) -> None:
    from console.services.permissions import PermissionDenied

    reply_id = park(store)
    agent = manager(store, "jamie", Role.AGENT)
    with pytest.raises(PermissionDenied, match="jamie \\(agent\\) may not reassign"), store.transaction() as session:
        settle_reply(session, agent, reply_id, posted=True)
    with store.transaction() as session:
        settle_reply(session, manager(store), reply_id, posted=True, url="https://x.com/skyline/status/99")
    row = reply_row(store, reply_id)
    assert (row.state, row.external_url, row.last_error) == (ReplyState.SENT, "https://x.com/skyline/status/99", None)
    with store.read() as session:
        assert session.get(MentionRow, row.mention_id).first_response_at is not None  # type: ignore[union-attr]
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert entry is not None and entry.after is not None
    assert (entry.action, entry.actor, entry.after["posted"]) == ("reply.settled", "maya", True)
    with pytest.raises(OutboxError, match="is sent; only a reply that needs attention"), store.transaction() as s:
        settle_reply(s, manager(store), reply_id, posted=False)


def test_a_sender_who_checked_the_thread_may_send_a_new_reply_over_a_parked_one(store: Store) -> None:
    reply_id = park(store)
    mention_id = reply_row(store, reply_id).mention_id
    jamie = manager(store, "jamie", Role.AGENT)
    with pytest.raises(UnresolvedReplyError, match="a manager can settle it, or check the thread"):
        queue(store, mention_id, "Hello again", key="k2")
    with store.transaction() as session:
        new = queue_reply(session, mention_id, "Hello again", jamie.id, "k2", confirm_unresolved=True).id
    old = reply_row(store, reply_id)
    assert (old.state, old.last_error) == (ReplyState.FAILED, "not posted (checked by jamie)")
    assert reply_row(store, new).state is ReplyState.QUEUED
    with store.read() as session:
        rows = session.execute(select(AuditEntry.action, AuditEntry.actor, AuditEntry.entity_id)).all()
    assert ("reply.settled", "jamie", str(reply_id)) in rows and ("reply.queued", "jamie", str(new)) in rows


def test_a_reply_the_worker_found_while_the_sender_confirmed_is_not_called_unposted(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import console.services.replies.outbox as outbox_module
    from console.worker.outbox_step import mark_sent

    reply_id = park(store)
    mention_id = reply_row(store, reply_id).mention_id
    jamie = manager(store, "jamie", Role.AGENT)
    real = outbox_module._unresolved

    def found_meanwhile(session, mention_id):  # type: ignore[no-untyped-def]
        parked = real(session, mention_id)
        found = PostedReply("reply-9", "https://x.com/skyline/status/reply-9", NOW)
        assert mark_sent(store, reply_id, found, NOW, recovered=True)  # the worker's recheck, on its own connection
        return parked

    monkeypatch.setattr(outbox_module, "_unresolved", found_meanwhile)
    with pytest.raises(UnresolvedReplyError, match="just found on the platform"), store.transaction() as session:
        queue_reply(session, mention_id, "Hello again", jamie.id, "k2", confirm_unresolved=True)
    row = reply_row(store, reply_id)
    assert (row.state, row.external_id) == (ReplyState.SENT, "reply-9")
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(Reply)) == 1
        assert not session.scalar(select(func.count()).where(AuditEntry.action == "reply.settled"))


def test_send_reply_passes_the_senders_confirmation(store: Store) -> None:
    from console.services.replies.send import Draft, send_reply

    reply_id = park(store)
    mention_id = reply_row(store, reply_id).mention_id
    jamie = manager(store, "jamie", Role.AGENT)
    with store.transaction() as session:
        session.get(MentionRow, mention_id).assignee_id = jamie.id  # type: ignore[union-attr]
    with pytest.raises(UnresolvedReplyError), store.transaction() as session:
        send_reply(session, jamie, mention_id, Draft("Hello again", "k2"), None)
    with store.transaction() as session:
        send_reply(session, jamie, mention_id, Draft("Hello again", "k2", confirmed_unresolved=True), None)
    assert reply_row(store, reply_id).state is ReplyState.FAILED


def test_the_cli_lists_and_settles_parked_replies(sqlite_store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    from console.cli import main

    reply_id = park(sqlite_store)
    manager(sqlite_store, "jamie", Role.AGENT)
    manager(sqlite_store)
    url = ["--database-url", sqlite_store.url]
    assert main(["outbox", "list", *url]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["ID", "MENTION", "STATE", "ATTEMPTS", "AGE", "LAST", "ERROR"]
    assert (
        out[1].split()[:4] == [str(reply_id), str(reply_row(sqlite_store, reply_id).mention_id), "needs_attention", "1"]
        and "check the thread" in out[1]
    )
    assert main(["outbox", "settle", str(reply_id), "--not-posted", "--as", "jamie", *url]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mentiondesk: jamie (agent) may not reassign") and len(err.strip().splitlines()) == 1
    assert main(["outbox", "settle", str(reply_id), "--as", "maya", *url]) == 1
    assert "either --posted URL or --not-posted" in capsys.readouterr().err
    assert main(["outbox", "settle", "999", "--not-posted", "--as", "maya", *url]) == 1
    assert "reply 999 does not exist" in capsys.readouterr().err
    assert main(["outbox", "settle", str(reply_id), "--not-posted", "--as", "nobody", *url]) == 1
    assert "no active user 'nobody'" in capsys.readouterr().err
    assert main(["outbox", "settle", str(reply_id), "--posted", "https://x.com/s/1", "--as", "maya", *url]) == 0
    assert f"reply {reply_id} settled by maya as posted at https://x.com/s/1 (now sent)" in capsys.readouterr().out
    assert main(["outbox", "settle", str(reply_id), "--not-posted", "--as", "maya", *url]) == 1
    assert "only a reply that needs attention can be settled" in capsys.readouterr().err
    assert main(["outbox", "list", "--state", "needs_attention", *url]) == 0
    assert capsys.readouterr().out.strip() == "No needs attention replies."
    assert main(["outbox", "list", "--state", "all", *url]) == 0
    assert " sent " in capsys.readouterr().out
    with sqlite_store.read() as session:
        assert session.scalar(select(AuditEntry.actor).where(AuditEntry.action == "reply.settled")) == "maya"


def _panel_app(url: str, username: str, reply_id: int, mention_id: int) -> None:
    from sqlalchemy import select

    from console.services.permissions import Actor
    from console.services.store import open_store
    from console.ui.parked_replies import parked_reply_panel
    from storage.models import User

    store = open_store(url)
    with store.read() as session:
        actor = Actor.of(session.scalar(select(User).where(User.username == username)))  # type: ignore[arg-type]
    parked_reply_panel(store, actor, mention_id, reply_id)


@pytest.mark.parametrize("button", ["posted", "not_posted"])
def test_the_conversation_panel_lets_a_manager_settle_a_parked_reply(sqlite_store: Store, button: str) -> None:
    from streamlit.testing.v1 import AppTest

    reply_id = park(sqlite_store)
    mention_id = reply_row(sqlite_store, reply_id).mention_id
    manager(sqlite_store, "jamie", Role.AGENT)
    manager(sqlite_store)
    agent_view = AppTest.from_function(_panel_app, args=(sqlite_store.url, "jamie", reply_id, mention_id)).run()
    assert not agent_view.exception and not agent_view.button
    assert "A manager must check the thread" in agent_view.caption[0].value
    assert "check the thread" in agent_view.warning[0].value
    at = AppTest.from_function(_panel_app, args=(sqlite_store.url, "maya", reply_id, mention_id)).run()
    assert [b.label for b in at.button] == ["It was posted", "It was not posted"]
    at.text_input[0].input("https://x.com/skyline/status/7")
    at.button(key=f"parked_{button}_{reply_id}").click().run()
    assert not at.exception and not at.button  # settled: the panel is gone
    row = reply_row(sqlite_store, reply_id)
    if button == "posted":
        assert (row.state, row.external_url) == (ReplyState.SENT, "https://x.com/skyline/status/7")
    else:
        assert (row.state, row.last_error) == (ReplyState.FAILED, "not posted (checked by maya)")
