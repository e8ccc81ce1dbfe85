"""The worker's classify step: score mentions that have no current classification, in batches.

The classifier is anything with ``name``, ``version`` and ``classify(texts) -> list[Scores]``
(:class:`classifiers.base.Classifier`).  Each batch is one transaction: the ``Classification`` rows
(``is_current``), the denormalised ``sentiment``/``urgency``/``priority`` on the mention, its SLA clock
(due in its brand's business hours for its urgency) and the escalations of critical rubric categories
commit together, so no scored mention is ever without its due time.  Two workers scoring the same
mention cannot both write: the insert skips a row the unique indexes already hold.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from classifiers.base import Classifier, Scores
from classifiers.priority import DEFAULT_KEYWORD_RULES, KeywordRule, PriorityInputs, priority
from console.config import AppConfig, ClassifierConfig
from console.services.escalations import rubric_escalations
from console.services.sla_clocks import SlaClocks, start_clocks
from console.services.store import Store
from storage.models import Author, Classification, Mention, utcnow

log = logging.getLogger(__name__)

MAX_BATCHES_PER_PASS = 20


@dataclass(frozen=True, slots=True)
class _Pending:
    mention_id: int
    text: str
    followers: int
    verified: bool
    vip: bool
    handle: str
    author_id: int | None


def unclassified(session: Session, limit: int, *, skip_locked: bool = False) -> list[_Pending]:
    """Inbound mentions with no current classification, oldest first (the brand's own posts are skipped).

    With ``skip_locked`` (PostgreSQL) the rows are locked until the caller's transaction ends and rows another
    worker holds are passed over, so concurrent workers take disjoint batches.
    """
    current = exists().where(Classification.mention_id == Mention.id, Classification.is_current.is_(True))
    query = (
        select(Mention.id, Mention.text, Author.followers, Author.verified, Author.is_vip, Author.handle)
        .add_columns(Mention.author_id)
        .outerjoin(Author, Author.id == Mention.author_id)
        .where(~current, Mention.is_brand_post.is_(False))
        .order_by(Mention.id)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True, of=Mention)
    rows = session.execute(query)
    return [_Pending(i, t or "", int(f or 0), bool(v), bool(p), (h or "").lower(), a) for i, t, f, v, p, h, a in rows]


URGENCY_POINTS = {"critical": 25.0, "high": 15.0, "normal": 8.0, "low": 0.0}
"""What a configured keyword adds to the priority score, by the urgency the rule names."""


@dataclass(frozen=True)
class PrioritySettings:
    """The team's VIP handles and keyword rules, as the priority score reads them."""

    vip_handles: frozenset[str] = frozenset()
    rules: tuple[KeywordRule, ...] = DEFAULT_KEYWORD_RULES

    @classmethod
    def of(cls, cfg: ClassifierConfig) -> PrioritySettings:
        """Configured rules replace the built-in ones; handles match without ``@`` and case."""
        rules = tuple(
            KeywordRule(r.pattern, URGENCY_POINTS[r.urgency], r.reason or f"{r.urgency} keyword")
            for r in cfg.keyword_rules
        )
        handles = frozenset(h.lower().lstrip("@") for h in cfg.vip_handles)
        return cls(handles, rules or DEFAULT_KEYWORD_RULES)


def _row(item: _Pending, scores: Scores, model: Classifier, settings: PrioritySettings) -> dict[str, Any]:
    ranked = priority(
        PriorityInputs(
            text=item.text,
            urgency_score=scores.urgency_score,
            urgency_signals=scores.signals,
            followers=item.followers,
            verified=item.verified,
            vip=item.vip or item.handle.lstrip("@") in settings.vip_handles,
        ),
        rules=settings.rules,
    )
    return {
        "mention_id": item.mention_id,
        "model_name": model.name,
        "model_version": model.version,
        "sentiment": scores.sentiment,
        "p_negative": float(scores.p_negative),
        "p_neutral": float(scores.p_neutral),
        "p_positive": float(scores.p_positive),
        "urgency": scores.urgency,
        "urgency_score": float(scores.urgency_score),
        "priority": ranked.score,
        "topics": list(scores.topics),
        "language": scores.language,
        "explanation": [s._asdict() for s in ranked.signals],
        "is_current": True,
        "created_at": utcnow(),
    }


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(Classification).on_conflict_do_nothing(), rows)


def _denormalise(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    for row in rows:
        session.execute(
            update(Mention)
            .where(Mention.id == row["mention_id"])
            .values(sentiment=row["sentiment"], urgency=row["urgency"], priority=row["priority"])
            .execution_options(synchronize_session=False)
        )
        if row["language"]:
            session.execute(
                update(Mention)
                .where(Mention.id == row["mention_id"], Mention.language.is_(None))
                .values(language=row["language"])
                .execution_options(synchronize_session=False)
            )


def _mark_vips(session: Session, pending: Sequence[_Pending], settings: PrioritySettings) -> None:
    """Authors on the configured VIP list get the badge the Inbox and Conversation show."""
    ids = {p.author_id for p in pending if not p.vip and p.author_id and p.handle.lstrip("@") in settings.vip_handles}
    if ids:
        session.execute(update(Author).where(Author.id.in_(ids)).values(is_vip=True))


def classify_batch(store: Store, classifier: Classifier, batch_size: int, desk: AppConfig | None = None) -> int:
    """Score one batch; returns how many mentions were scored (0 when none were waiting).

    With ``desk`` (the app config) the batch's SLA clocks start and rubric escalations fire in the same
    transaction.  On PostgreSQL the batch is taken ``FOR UPDATE SKIP LOCKED`` by the transaction that writes its
    scores, so several workers score disjoint batches (otherwise both take the same oldest batch and the unique
    index throws one's work away: 41 % of the model calls in a two-worker soak).  SQLite reads and writes in two
    transactions: holding its one write lock through the model call would stall every other writer.
    """
    if store.engine.dialect.name == "postgresql":
        with store.transaction() as session:
            pending = unclassified(session, batch_size, skip_locked=True)
            rows = _scored(pending, classifier, desk)
            _write(session, pending, rows, desk)
        return len(rows)
    with store.read() as session:
        pending = unclassified(session, batch_size)
    rows = _scored(pending, classifier, desk)
    if rows:
        with store.transaction() as session:
            _write(session, pending, rows, desk)
    return len(rows)


def _scored(pending: list[_Pending], classifier: Classifier, desk: AppConfig | None) -> list[dict[str, Any]]:
    """The classification rows for ``pending`` (the model call)."""
    if not pending:
        return []
    scores = classifier.classify([item.text for item in pending])
    if len(scores) != len(pending):
        raise ValueError(f"classifier {classifier.name} returned {len(scores)} scores for {len(pending)} texts")
    settings = PrioritySettings.of(desk.classifier) if desk is not None else PrioritySettings()
    return [_row(item, s, classifier, settings) for item, s in zip(pending, scores, strict=True)]


def _write(session: Session, pending: list[_Pending], rows: list[dict[str, Any]], desk: AppConfig | None) -> None:
    if not rows:
        return
    settings = PrioritySettings.of(desk.classifier) if desk is not None else PrioritySettings()
    _insert_new(session, rows)
    _denormalise(session, rows)
    _mark_vips(session, pending, settings)
    if desk is not None:
        ids = [row["mention_id"] for row in rows]
        start_clocks(session, SlaClocks.load(session, desk), ids)
        rubric_escalations(session, ids, desk.escalation)


def classify_new(store: Store, classifier: Classifier, batch_size: int = 64, desk: AppConfig | None = None) -> int:
    """Score every waiting mention, batch by batch (bounded per pass so other steps get their turn)."""
    total = 0
    for _ in range(MAX_BATCHES_PER_PASS):
        done = classify_batch(store, classifier, batch_size, desk)
        total += done
        if done < batch_size:
            break
    if total:
        log.info("classified %d mentions with %s %s", total, classifier.name, classifier.version)
    return total


def classify_step(
    classifier: Classifier, batch_size: int = 64, desk: AppConfig | None = None
) -> Callable[[Store], int]:
    """A ``run_forever`` step that classifies new mentions with ``classifier`` (and starts their SLA clocks)."""

    def classify_mentions(store: Store) -> int:
        return classify_new(store, classifier, batch_size, desk)

    return classify_mentions
