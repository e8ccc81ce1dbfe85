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
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from connectors.base import AuthError, Batch, Mention, PostedReply, RetriableError
from console.services.outbox import (
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
from storage.enums import ReplyState
from storage.ingest import ingest_batch
from storage.models import AuditEntry, Reply, Source
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
        thread = threading.Thread(target=other_tab)
        thread.start()
        time.sleep(0.3)
        assert thread.is_alive()  # blocked on the unique index until this transaction ends
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


def crash_mid_send(store: Store, platform: Platform) -> int:
    (mention_id,) = seed(store)
    reply_id = queue(store, mention_id)
    platform.crash_after_post = True
    with pytest.raises(Killed):
        send_queued(store, lambda m: platform, now=NOW)
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
        settle_reply(session, reply_id, posted=False, user_id=None)
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
