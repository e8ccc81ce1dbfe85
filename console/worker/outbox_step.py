"""The worker's outbox step: send queued replies one at a time, and settle those a crash left in ``sending``.

Order of events for one reply, each arrow a commit:
``queued`` → claim: ``sending`` (attempts + 1, ``claimed_by`` this worker) → platform call → ``sent`` |
``queued`` with a backoff | ``failed`` | ``needs_attention``.  A worker claims one reply, posts it and
records the result before it claims the next, so a crash strands at most the one it was sending.

A ``sending`` row whose claimant is gone (its process is dead, its heartbeat is silent, or the row is
older than :data:`STALE_SENDING`) is never blindly re-sent: the connector's ``find_reply`` looks for it on
the platform and it is marked sent when found, else parked as ``needs_attention`` with the reason.  Parked
replies are looked for again every :data:`RECHECK_EVERY` for :data:`RECHECK_FOR`, and a manager settles
the rest by hand (:func:`console.services.replies.outbox.settle_reply`).

When the database fails in the middle of a send, this process still knows how far it got: a reply it had
not yet posted goes back to the queue, and a posted one is recorded as sent, on the first pass after the
database is back.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from connectors.base import Connector, FatalError, PostedReply, RetriableError, SkippableError
from connectors.base import Mention as MentionRecord
from console.services.replies.outbox import audit_reply, mention_record, record_first_response
from console.services.store import Store
from console.services.worker_health import is_abandoned, is_database_error, pid_alive, process_owner
from storage.enums import ReplyState
from storage.models import Author, Mention, Reply, WorkerStatus

log = logging.getLogger(__name__)

ConnectorForMention = Callable[[Mention], Connector]
MAX_ATTEMPTS = 6
BASE_BACKOFF_S = 30.0
MAX_BACKOFF = timedelta(minutes=30)
STALE_SENDING = timedelta(minutes=5)
"""A ``sending`` row older than this belongs to a worker that died (a send takes seconds)."""
RECHECK_EVERY = timedelta(minutes=5)
RECHECK_FOR = timedelta(hours=24)
"""Parked replies are looked for on the platform every ``RECHECK_EVERY`` until they are this old."""
RECHECKS_PER_PASS = 10


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
    requeued: list[int] = field(default_factory=list)


Outcome = Callable[[SendReport], None]
"""Recording what became of one send, into a pass's report."""


class _LocalClaims:
    """What this process knows about its own claims, which the database cannot be told during an outage.

    ``busy``: being sent right now (never recovered).  ``pending``: the outcome of a send whose recording
    failed, replayed on the next pass.  Both are kept per store URL, so a process with several stores (the
    tests, a notebook) never replays one store's outcome into another.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.busy: set[tuple[str, int]] = set()
        self.pending: dict[tuple[str, int], Outcome] = {}

    def is_busy(self, store: Store, reply_id: int) -> bool:
        with self.lock:
            return (store.url, reply_id) in self.busy

    def take(self, store: Store, reply_id: int, busy: bool) -> None:
        with self.lock:
            (self.busy.add if busy else self.busy.discard)((store.url, reply_id))

    def keep(self, store: Store, reply_id: int, outcome: Outcome) -> None:
        with self.lock:
            self.pending[(store.url, reply_id)] = outcome

    def replay(self, store: Store, report: SendReport) -> None:
        """Record the outcomes an outage kept from being recorded; a new database failure keeps the rest.

        An outcome that fails for another reason (a bug) is dropped with its traceback: its reply stays in
        ``sending`` under this worker's name, so recovery looks it up on the platform instead.
        """
        with self.lock:
            waiting = [(key, outcome) for key, outcome in self.pending.items() if key[0] == store.url]
        for key, outcome in waiting:
            try:
                outcome(report)
            except Exception as exc:
                if is_database_error(exc):
                    raise
                log.exception("reply %s: could not record the outcome kept from an outage", key[1])
            with self.lock:
                self.pending.pop(key, None)


_LOCAL = _LocalClaims()


def backoff(attempts: int, rng: random.Random, retry_after: float | None = None) -> timedelta:
    """The platform's ``retry_after`` when it gave one, else exponential with full jitter, capped."""
    if retry_after:
        return timedelta(seconds=retry_after)
    ceiling = min(MAX_BACKOFF.total_seconds(), BASE_BACKOFF_S * 2 ** max(0, attempts - 1))
    return timedelta(seconds=rng.uniform(ceiling / 2, ceiling))


def _finish(
    session: Session,
    reply_id: int,
    now: datetime,
    values: dict[str, Any],
    action: str,
    *,
    from_states: tuple[ReplyState, ...] = (ReplyState.SENDING,),
) -> Reply | None:
    """Move a row on from ``from_states``; ``None`` if another worker (or a person) already did (its result stands)."""
    done = session.execute(
        update(Reply)
        .where(Reply.id == reply_id, Reply.state.in_(from_states))
        .values(updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return None
    reply = session.get(Reply, reply_id, populate_existing=True)
    assert reply is not None
    audit_reply(session, reply, action, user_id=reply.user_id, actor="worker")
    return reply


def mark_sent(store: Store, reply_id: int, posted: PostedReply, now: datetime, *, recovered: bool = False) -> bool:
    """Record an accepted reply, the mention's first response and an audit row, in one transaction.

    A parked reply is marked sent too: the platform has it, whatever a crash or a silent heartbeat made
    another worker believe.
    """
    with store.transaction() as session:
        values = {"state": ReplyState.SENT, "external_id": posted.external_id, "external_url": posted.url}
        reply = _finish(
            session,
            reply_id,
            now,
            {**values, "sent_at": posted.posted_at, "last_error": None},
            "reply.recovered" if recovered else "reply.sent",
            from_states=(ReplyState.SENDING, ReplyState.NEEDS_ATTENTION),
        )
        if reply is None:
            return False
        record_first_response(session, reply.mention_id, posted.posted_at)
        return True


def _set(store: Store, reply_id: int, now: datetime, action: str, **values: Any) -> bool:
    with store.transaction() as session:
        return _finish(session, reply_id, now, values, action) is not None


# --- claiming one reply -------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A reply this worker moved to ``sending``, with what it needs to post it (no further database reads)."""

    reply_id: int
    attempts: int
    text: str
    idempotency_key: str
    mention: Mention
    author: Author | None


def _due(now: datetime) -> Any:
    return Reply.state == ReplyState.QUEUED, or_(Reply.next_attempt_at.is_(None), Reply.next_attempt_at <= now)


def _take_one(session: Session, now: datetime, owner: str) -> Claimed | None:
    for _ in range(5):  # on SQLite another worker may take the row between our read and our update
        query = select(Reply).where(*_due(now)).order_by(Reply.created_at, Reply.id).limit(1)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        reply = session.scalars(query).first()
        if reply is None:
            return None
        mention = session.get(Mention, reply.mention_id)
        if mention is None:  # cannot happen while replies cascade with their mention; never strand it in sending
            reply.state, reply.last_error, reply.updated_at = ReplyState.FAILED, "the mention was deleted", now
            session.flush()
            continue
        taken = session.execute(
            update(Reply)
            .where(Reply.id == reply.id, Reply.state == ReplyState.QUEUED)
            .values(state=ReplyState.SENDING, attempts=Reply.attempts + 1, claimed_by=owner, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            continue
        author = session.get(Author, mention.author_id) if mention.author_id else None
        return Claimed(reply.id, reply.attempts + 1, reply.text, reply.idempotency_key, mention, author)
    return None


def claim_one(store: Store, now: datetime, owner: str) -> Claimed | None:
    """Move the oldest due ``queued`` reply to ``sending`` for ``owner`` and commit, before any platform call."""
    claimed: Claimed | None = None
    try:
        with store.transaction() as session:
            claimed = _take_one(session, now, owner)
            if claimed is not None:
                _LOCAL.take(store, claimed.reply_id, busy=True)
    except BaseException as exc:
        if claimed is not None:  # the commit may have gone through: if so, put the reply back once we can
            _LOCAL.take(store, claimed.reply_id, busy=False)
            if is_database_error(exc):
                _LOCAL.keep(store, claimed.reply_id, _requeue_later(store, claimed.reply_id, owner, now))
        raise
    return claimed


def _requeue_later(store: Store, reply_id: int, owner: str, now: datetime) -> Outcome:
    """A claim that never reached the platform goes back to the queue, its attempt not counted."""

    def requeue(report: SendReport) -> None:
        with store.transaction() as session:
            done = session.execute(
                update(Reply)
                .where(Reply.id == reply_id, Reply.state == ReplyState.SENDING, Reply.claimed_by == owner)
                .values(state=ReplyState.QUEUED, attempts=Reply.attempts - 1, claimed_by=None, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        if done.rowcount == 1:  # type: ignore[attr-defined]
            report.requeued.append(reply_id)

    return requeue


# --- sending it ---------------------------------------------------------------------------------


def _find(connector: Connector, record: MentionRecord, text: str) -> PostedReply | None:
    finder = getattr(connector, "find_reply", None)
    if finder is None:
        raise NoReplyLookupError(f"{connector.platform} cannot look for posted replies")
    found: PostedReply | None = finder(record, text=text)
    return found


def _record(store: Store, reply_id: int, report: SendReport, outcome: Outcome) -> None:
    """Record a send's outcome; when the database fails, keep it to record on the next pass."""
    try:
        outcome(report)
    except Exception as exc:
        if is_database_error(exc):
            _LOCAL.keep(store, reply_id, outcome)
        raise


def _send_one(
    store: Store,
    claimed: Claimed,
    connectors: ConnectorForMention,
    now: datetime,
    rng: random.Random,
    report: SendReport,
    owner: str,
) -> None:
    reply_id, posting = claimed.reply_id, False
    try:
        connector = connectors(claimed.mention)
        record = mention_record(claimed.mention, claimed.author)
        # An earlier attempt may have reached the platform (5xx, timeout): look before posting again.
        posted = _find(connector, record, claimed.text) if claimed.attempts > 1 else None
        if posted is None:
            posting = True
            posted = connector.reply(record, claimed.text, idempotency_key=claimed.idempotency_key)
    except RetriableError as exc:
        error = exc  # ``exc`` is unbound after the block; a replayed outcome still needs it
        _record(store, reply_id, report, lambda r: _retry_or_fail(store, claimed, error, now, rng, r))
    except (FatalError, SkippableError) as exc:
        log.warning("reply %s failed: %s", reply_id, exc)
        reason = f"not sent: {exc}"
        _record(store, reply_id, report, lambda r: _fail(store, reply_id, now, reason, r))
    except NoReplyLookupError as exc:
        reason = f"an earlier attempt may have been posted and {exc}; check the thread"
        _record(store, reply_id, report, lambda r: _park(store, reply_id, now, reason, r))
    except Exception as exc:
        if is_database_error(exc) and not posting:  # e.g. the source lookup failed: it never left this process
            _LOCAL.keep(store, reply_id, _requeue_later(store, reply_id, owner, now))
            raise
        if not posting and claimed.attempts == 1:  # nothing reached the platform, now or before
            log.exception("reply %s: could not prepare the send", reply_id)
            reason = f"not sent: could not prepare the send ({type(exc).__name__}): {exc}"
            _record(store, reply_id, report, lambda r: _fail(store, reply_id, now, reason, r))
            return
        log.exception("reply %s: unexpected error while sending", reply_id)  # the platform may have accepted it
        reason = f"unexpected error while sending ({type(exc).__name__}): {exc}"
        _record(store, reply_id, report, lambda r: _park(store, reply_id, now, reason, r))
    else:
        _record(store, reply_id, report, _sent_later(store, reply_id, posted, now))


def _sent_later(store: Store, reply_id: int, posted: PostedReply, now: datetime) -> Outcome:
    def sent(report: SendReport) -> None:
        if mark_sent(store, reply_id, posted, now):
            report.sent.append(reply_id)

    return sent


def _retry_or_fail(
    store: Store, claimed: Claimed, exc: RetriableError, now: datetime, rng: random.Random, report: SendReport
) -> None:
    if claimed.attempts >= MAX_ATTEMPTS:
        _fail(store, claimed.reply_id, now, f"gave up after {claimed.attempts} attempts: {exc}", report)
        return
    wait = backoff(claimed.attempts, rng, exc.retry_after)
    if _set(
        store,
        claimed.reply_id,
        now,
        "reply.retry",
        state=ReplyState.QUEUED,
        next_attempt_at=now + wait,
        claimed_by=None,
        last_error=f"will retry at {(now + wait):%H:%M:%S} UTC: {exc}",
    ):
        report.retrying.append(claimed.reply_id)


def _fail(store: Store, reply_id: int, now: datetime, reason: str, report: SendReport) -> None:
    if _set(store, reply_id, now, "reply.failed", state=ReplyState.FAILED, last_error=reason):
        report.failed.append(reply_id)


def _park(store: Store, reply_id: int, now: datetime, reason: str, report: SendReport) -> None:
    if _set(store, reply_id, now, "reply.needs_attention", state=ReplyState.NEEDS_ATTENTION, last_error=reason):
        report.needs_attention.append(reply_id)


# --- replies a dead worker left in sending --------------------------------------------------------


def claimant_gone(
    session: Session, claimed_by: str | None, updated_at: datetime, now: datetime, *, owner: str, older_than: timedelta
) -> bool:
    """Whether the worker that claimed a ``sending`` row can no longer finish it (the caller skips rows it is sending).

    It is gone when it is this worker (``owner``): a row of ours that this process is not sending is a send
    an earlier pass did not finish; when the row is older than ``older_than``; when it ran on this host and
    its process is dead; or when its heartbeat row says it stopped or has been silent for a minute.
    """
    if claimed_by == owner or updated_at <= now - older_than:
        return True
    if claimed_by is None:
        return False
    host, _, pid = claimed_by.rpartition(":")
    if host == socket.gethostname() and pid.isdigit() and not pid_alive(int(pid)):
        return True
    return is_abandoned(session.get(WorkerStatus, claimed_by), now)


def _abandoned(store: Store, now: datetime, owner: str, older_than: timedelta) -> list[int]:
    with store.read() as session:
        rows = session.execute(
            select(Reply.id, Reply.claimed_by, Reply.updated_at)
            .where(Reply.state == ReplyState.SENDING)
            .order_by(Reply.id)
        ).all()
        return [
            reply_id
            for reply_id, claimed_by, updated_at in rows
            if not _LOCAL.is_busy(store, reply_id)
            and claimant_gone(session, claimed_by, updated_at, now, owner=owner, older_than=older_than)
        ]


def _load(store: Store, reply_id: int) -> tuple[Reply, Mention, Author | None]:
    with store.read() as session:
        reply = session.get(Reply, reply_id)
        assert reply is not None
        mention = session.get(Mention, reply.mention_id)
        if mention is None:
            raise FatalError("the mention this reply answers was deleted")
        author = session.get(Author, mention.author_id) if mention.author_id else None
        return reply, mention, author


def recover_sending(
    store: Store,
    connectors: ConnectorForMention,
    now: datetime,
    report: SendReport,
    *,
    older_than: timedelta = STALE_SENDING,
    owner: str | None = None,
) -> None:
    """Settle ``sending`` rows whose worker is gone: found on the platform → sent, else needs_attention."""
    owner = owner or process_owner()
    for reply_id in _abandoned(store, now, owner, older_than):
        reply, mention, author = _load(store, reply_id)
        try:
            found = _find(connectors(mention), mention_record(mention, author), reply.text)
        except RetriableError as exc:  # look again on a later pass; the row stays in sending
            _touch(store, reply_id, now, f"could not check the platform yet: {exc}")
            continue
        except Exception as exc:
            if is_database_error(exc):
                raise
            _park(store, reply_id, now, f"the worker stopped while sending; {exc}; check the thread", report)
            continue
        if found is not None:
            if mark_sent(store, reply_id, found, now, recovered=True):
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


def recheck_parked(store: Store, connectors: ConnectorForMention, now: datetime, report: SendReport) -> None:
    """Look again for parked replies (every ``RECHECK_EVERY``, for a day): one found is marked sent by the worker."""
    with store.read() as session:
        due = list(
            session.scalars(
                select(Reply.id)
                .where(
                    Reply.state == ReplyState.NEEDS_ATTENTION,
                    Reply.created_at >= now - RECHECK_FOR,
                    Reply.updated_at <= now - RECHECK_EVERY,
                )
                .order_by(Reply.updated_at, Reply.id)
                .limit(RECHECKS_PER_PASS)
            )
        )
    for reply_id in due:
        reply, mention, author = _load(store, reply_id)
        found = None
        try:
            found = _find(connectors(mention), mention_record(mention, author), reply.text)
        except Exception as exc:
            if is_database_error(exc):
                raise
            log.debug("reply %s: parked, and the platform could not be searched: %s", reply_id, exc)
        if found is not None:
            if mark_sent(store, reply_id, found, now, recovered=True):
                report.recovered.append(reply_id)
            continue
        with store.transaction() as session:  # checked: the next look is RECHECK_EVERY from now
            session.execute(
                update(Reply)
                .where(Reply.id == reply_id, Reply.state == ReplyState.NEEDS_ATTENTION)
                .values(updated_at=now)
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
    owner: str | None = None,
) -> SendReport:
    """One outbox pass: settle what a crash or an outage left, then claim, post and record up to ``limit`` replies.

    Each reply is claimed, posted and recorded before the next is claimed, so at most one is ``sending``.
    """
    now = now or datetime.now(UTC)
    rng = rng or random.Random()
    owner = owner or process_owner()
    report = SendReport()
    _LOCAL.replay(store, report)
    recover_sending(store, connector_for_mention, now, report, older_than=stale_after, owner=owner)
    recheck_parked(store, connector_for_mention, now, report)
    for _ in range(limit):
        claimed = claim_one(store, now, owner)
        if claimed is None:
            break
        try:
            _send_one(store, claimed, connector_for_mention, now, rng, report, owner)
        finally:
            _LOCAL.take(store, claimed.reply_id, busy=False)
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
