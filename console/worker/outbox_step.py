"""The worker's outbox step: send queued replies, and settle those a crash left in ``sending``.

Order of events for one reply, each arrow a commit:
``queued`` → claim: ``sending`` (attempts + 1) → platform call → ``sent`` | ``queued`` with a
backoff | ``failed`` | ``needs_attention``.  The row is in ``sending``, committed, before the platform
is called, so a crash after the platform accepted the reply leaves a ``sending`` row behind.  Such a
row is never blindly re-sent: the connector's ``find_reply`` looks for it on the platform and it is
marked sent when found, else parked as ``needs_attention`` for a human.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from connectors.base import Connector, FatalError, PostedReply, RetriableError, SkippableError
from console.services.outbox import audit_reply, mention_record, record_first_response
from console.services.store import Store
from storage.enums import ReplyState
from storage.models import Author, Mention, Reply

log = logging.getLogger(__name__)

ConnectorForMention = Callable[[Mention], Connector]
MAX_ATTEMPTS = 6
BASE_BACKOFF_S = 30.0
MAX_BACKOFF = timedelta(minutes=30)
STALE_SENDING = timedelta(minutes=5)
"""A ``sending`` row older than this belongs to a worker that died (a send takes seconds)."""


class NoReplyLookupError(Exception):
    """The connector cannot search the platform for a reply it may have posted."""


@dataclass
class SendReport:
    """What one pass of the outbox did, by reply id."""

    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    needs_attention: list[int] = field(default_factory=list)
    recovered: list[int] = field(default_factory=list)


def backoff(attempts: int, rng: random.Random, retry_after: float | None = None) -> timedelta:
    """The platform's ``retry_after`` when it gave one, else exponential with full jitter, capped."""
    if retry_after:
        return timedelta(seconds=retry_after)
    ceiling = min(MAX_BACKOFF.total_seconds(), BASE_BACKOFF_S * 2 ** max(0, attempts - 1))
    return timedelta(seconds=rng.uniform(ceiling / 2, ceiling))


def _finish(session: Session, reply_id: int, now: datetime, values: dict[str, Any], action: str) -> Reply | None:
    """Move a ``sending`` row on; ``None`` if another worker already did (its result stands)."""
    done = session.execute(
        update(Reply)
        .where(Reply.id == reply_id, Reply.state == ReplyState.SENDING)
        .values(updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return None
    reply = session.get(Reply, reply_id, populate_existing=True)
    assert reply is not None
    audit_reply(session, reply, action, user_id=reply.user_id, actor="worker")
    return reply


def mark_sent(store: Store, reply_id: int, posted: PostedReply, now: datetime, *, recovered: bool = False) -> None:
    """Record an accepted reply, the mention's first response and an audit row, in one transaction."""
    with store.transaction() as session:
        values = {"state": ReplyState.SENT, "external_id": posted.external_id, "external_url": posted.url}
        reply = _finish(session, reply_id, now, {**values, "sent_at": posted.posted_at, "last_error": None},
                        "reply.recovered" if recovered else "reply.sent")  # fmt: skip
        if reply is not None:
            record_first_response(session, reply.mention_id, posted.posted_at)


def _set(store: Store, reply_id: int, now: datetime, action: str, **values: Any) -> None:
    with store.transaction() as session:
        _finish(session, reply_id, now, values, action)


def claim(store: Store, now: datetime, limit: int = 20) -> list[int]:
    """Move due ``queued`` rows to ``sending`` and commit, before any platform call is made."""
    with store.transaction() as session:
        query = (
            select(Reply.id)
            .where(Reply.state == ReplyState.QUEUED, or_(Reply.next_attempt_at.is_(None), Reply.next_attempt_at <= now))
            .order_by(Reply.created_at, Reply.id)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        claimed = []
        for reply_id in list(session.scalars(query)):
            taken = session.execute(
                update(Reply)
                .where(Reply.id == reply_id, Reply.state == ReplyState.QUEUED)
                .values(state=ReplyState.SENDING, attempts=Reply.attempts + 1, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(reply_id)
    return claimed


def _load(store: Store, reply_id: int) -> tuple[Reply, Mention, Author | None]:
    with store.read() as session:
        reply = session.get(Reply, reply_id)
        assert reply is not None
        mention = session.get(Mention, reply.mention_id)
        if mention is None:
            raise FatalError("the mention this reply answers was deleted")
        author = session.get(Author, mention.author_id) if mention.author_id else None
        return reply, mention, author


def _find(connector: Connector, mention: Mention, author: Author | None, text: str) -> PostedReply | None:
    finder = getattr(connector, "find_reply", None)
    if finder is None:
        raise NoReplyLookupError(f"{connector.platform} cannot look for posted replies")
    found: PostedReply | None = finder(mention_record(mention, author), text=text)
    return found


def _send_one(
    store: Store, reply_id: int, connectors: ConnectorForMention, now: datetime, rng: random.Random, report: SendReport
) -> None:
    reply, mention, author = _load(store, reply_id)
    try:
        connector = connectors(mention)
        # An earlier attempt may have reached the platform (5xx, timeout): look before posting again.
        posted = _find(connector, mention, author, reply.text) if reply.attempts > 1 else None
        if posted is None:
            record = mention_record(mention, author)
            posted = connector.reply(record, reply.text, idempotency_key=reply.idempotency_key)
    except RetriableError as exc:
        _retry_or_fail(store, reply, exc, now, rng, report)
    except (FatalError, SkippableError) as exc:
        log.warning("reply %s failed: %s", reply_id, exc)
        _set(store, reply_id, now, "reply.failed", state=ReplyState.FAILED, last_error=f"not sent: {exc}")
        report.failed.append(reply_id)
    except NoReplyLookupError as exc:
        _park(store, reply_id, now, f"an earlier attempt may have been posted and {exc}; check the thread", report)
    except Exception as exc:  # unknown outcome: the platform may have accepted it, so a human decides
        log.exception("reply %s: unexpected error while sending", reply_id)
        _park(store, reply_id, now, f"unexpected error while sending ({type(exc).__name__}): {exc}", report)
    else:
        mark_sent(store, reply_id, posted, now)
        report.sent.append(reply_id)


def _retry_or_fail(
    store: Store, reply: Reply, exc: RetriableError, now: datetime, rng: random.Random, report: SendReport
) -> None:
    if reply.attempts >= MAX_ATTEMPTS:
        reason = f"gave up after {reply.attempts} attempts: {exc}"
        _set(store, reply.id, now, "reply.failed", state=ReplyState.FAILED, last_error=reason)
        report.failed.append(reply.id)
        return
    wait = backoff(reply.attempts, rng, exc.retry_after)
    _set(store, reply.id, now, "reply.retry", state=ReplyState.QUEUED, next_attempt_at=now + wait,
         last_error=f"will retry at {(now + wait):%H:%M:%S} UTC: {exc}")  # fmt: skip
    report.retrying.append(reply.id)


def _park(store: Store, reply_id: int, now: datetime, reason: str, report: SendReport) -> None:
    _set(store, reply_id, now, "reply.needs_attention", state=ReplyState.NEEDS_ATTENTION, last_error=reason)
    report.needs_attention.append(reply_id)


def recover_sending(
    store: Store, connectors: ConnectorForMention, now: datetime, report: SendReport, *, older_than: timedelta
) -> None:
    """Settle ``sending`` rows left by a dead worker: found on the platform → sent, else needs_attention."""
    with store.read() as session:
        stale = list(
            session.scalars(
                select(Reply.id).where(Reply.state == ReplyState.SENDING, Reply.updated_at <= now - older_than)
            )
        )
    for reply_id in stale:
        reply, mention, author = _load(store, reply_id)
        try:
            found = _find(connectors(mention), mention, author, reply.text)
        except RetriableError as exc:  # look again on a later pass; the row stays in sending
            _touch(store, reply_id, now, f"could not check the platform yet: {exc}")
            continue
        except Exception as exc:
            _park(store, reply_id, now, f"the worker stopped while sending; {exc}; check the thread", report)
            continue
        if found is not None:
            mark_sent(store, reply_id, found, now, recovered=True)
            report.recovered.append(reply_id)
        else:
            reason = "the worker stopped while sending and the reply was not found on the platform; check the thread"
            _park(store, reply_id, now, reason, report)


def _touch(store: Store, reply_id: int, now: datetime, reason: str) -> None:
    with store.transaction() as session:
        session.execute(
            update(Reply)
            .where(Reply.id == reply_id, Reply.state == ReplyState.SENDING)
            .values(updated_at=now, last_error=reason)
            .execution_options(synchronize_session=False)
        )


def send_queued(
    store: Store,
    connector_for_mention: ConnectorForMention,
    *,
    now: datetime | None = None,
    limit: int = 20,
    stale_after: timedelta = STALE_SENDING,
    rng: random.Random | None = None,
) -> SendReport:
    """One outbox pass: settle stale ``sending`` rows, then claim and send due ``queued`` ones."""
    now = now or datetime.now(UTC)
    rng = rng or random.Random()
    report = SendReport()
    recover_sending(store, connector_for_mention, now, report, older_than=stale_after)
    for reply_id in claim(store, now, limit):
        _send_one(store, reply_id, connector_for_mention, now, rng, report)
    return report


class SourceConnectors:
    """``mention -> connector`` through the source that fetched the mention, cached per source."""

    def __init__(self, store: Store, factory: Callable[[Any], Connector]) -> None:
        self.store = store
        self.factory = factory
        self._cache: dict[int, Connector] = {}

    def __call__(self, mention: Mention) -> Connector:
        """The connector of the mention's source (or of an enabled source of its platform and brand)."""
        from console.worker.leases import lease_of

        source_id = mention.source_id or self._fallback(mention)
        if source_id not in self._cache:
            with self.store.read() as session:
                lease = lease_of(session, source_id)
            self._cache[source_id] = self.factory(lease)
        return self._cache[source_id]

    def _fallback(self, mention: Mention) -> int:
        from storage.models import Source

        with self.store.read() as session:
            source_id = session.scalar(
                select(Source.id)
                .where(
                    Source.platform == mention.platform, Source.enabled.is_(True), Source.brand_id == mention.brand_id
                )
                .order_by(Source.id)
                .limit(1)
            )
        if source_id is None:
            raise FatalError(f"no enabled {mention.platform} source to reply through for this brand")
        return source_id


def outbox_step(factory: Callable[[Any], Connector]) -> Callable[[Store], SendReport]:
    """A ``run_forever`` step that sends queued replies through each mention's source."""

    def send_replies(store: Store) -> SendReport:
        report = send_queued(store, SourceConnectors(store, factory))
        for name in ("sent", "recovered", "retrying", "failed", "needs_attention"):
            if getattr(report, name):
                log.info("outbox: %d %s", len(getattr(report, name)), name.replace("_", " "))
        return report

    return send_replies
