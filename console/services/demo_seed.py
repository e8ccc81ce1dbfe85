"""Seed a store with the generated demo: brands, users, 30 days of mentions and the team's history."""

from __future__ import annotations

import hashlib
import random
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from connectors.demo.generator import generate_mentions
from connectors.demo.records import GeneratedMention
from connectors.demo.world import DEFAULT_WORLD
from console.config import AppConfig
from console.services.catalog import sync_config
from console.services.sla_clocks import SlaClocks, start_clocks
from console.services.store import Store
from console.services.users import create_user
from storage.enums import MentionStatus, ReplyState, Role
from storage.ingest import IngestResult, ingest_batch
from storage.maintenance import refresh_statistics
from storage.models import Classification, Mention, Reply, Setting, User

SEED_MODEL = ("demo-seed", "1")
"""Seeded labels are the generator's intent, recorded under their own model name, never passed off as a model's."""
CHUNK = 2_000
STATISTICS_FIRST = 20_000
"""Planner statistics are refreshed at this many stored mentions and each doubling after.  A seed fills tables
from empty: with the statistics of a near-empty table (and no autovacuum to catch up) PostgreSQL planned each
chunk's key look-ups as scans, and a million-mention seed slowed to a crawl (docs/benchmarks.md has the rates)."""
URGENCY_BASE = {"critical": 85, "high": 65, "normal": 40, "low": 15}
CLASSIFIER_TOPICS = {
    "account_hacked": ["account_security"],
    "data_breach": ["account_security"],
    "fraud": ["account_security", "billing"],
    "app_crash": ["outage"],
    "outage": ["outage"],
    "slow_data": ["outage", "complaint"],
    "wifi": ["outage", "complaint"],
    "billing": ["billing"],
    "refund": ["billing", "request"],
    "contract": ["billing", "complaint"],
    "roaming": ["billing", "complaint"],
    "lost_luggage": ["delivery_luggage"],
    "damaged_luggage": ["delivery_luggage"],
    "late_delivery": ["delivery_luggage"],
    "courier": ["delivery_luggage", "complaint"],
    "missing_item": ["delivery_luggage", "complaint"],
    "wrong_order": ["delivery_luggage", "complaint"],
    "cold_food": ["complaint"],
    "delay": ["complaint"],
    "cancellation": ["complaint", "request"],
    "customer_service": ["complaint"],
    "food_poisoning": ["complaint"],
    "safety": ["complaint"],
    "legal": ["complaint"],
    "competitor_complaint": ["complaint"],
    "booking": ["question"],
    "plan_question": ["question"],
    "promo_question": ["question"],
    "contact": ["request"],
    "praise": ["praise"],
    "crew_praise": ["praise"],
    "followup_thanks": ["praise"],
    "competitor_praise": ["praise"],
}
"""The generator's story topics in the classifier's vocabulary, so seeded history filters and templates like live
mentions (spam, chatter and news carry no care topic)."""
STAFF = (
    ("admin", Role.ADMIN, "Ada Admin"),
    ("maya", Role.MANAGER, "Maya Manager"),
    ("alex", Role.ANALYST, "Alex Analyst"),
)


@dataclass(frozen=True)
class DemoLogin:
    """A demo account printed at start-up."""

    username: str
    password: str
    role: str


def demo_password(username: str) -> str:
    """Demo passwords are public by design; real users set their own with ``mentiondesk user add``."""
    return f"{username}-demo-2026"


def _username(agent: str) -> str:
    first = agent.split()[0].lower()
    return unicodedata.normalize("NFKD", first).encode("ascii", "ignore").decode()


def ensure_demo_users(session: Session) -> dict[str, int]:
    """Staff for each role plus every demo brand's care agents; returns username -> id."""
    wanted = list(STAFF) + [
        (_username(agent), Role.AGENT, agent) for brand in DEFAULT_WORLD.own_brands for agent in brand.agents
    ]
    existing = dict(session.execute(select(User.username, User.id)).tuples().all())
    for username, role, name in wanted:
        if username not in existing:
            existing[username] = create_user(session, username, demo_password(username), role, name).id
    return existing


def demo_logins() -> list[DemoLogin]:
    """One login per role, for the start-up banner."""
    agent = _username(DEFAULT_WORLD.own_brands[0].agents[0])
    people = [(agent, Role.AGENT)] + [(u, r) for u, r, _ in STAFF]
    return [DemoLogin(u, demo_password(u), r.value) for u, r in people]


def seed_priority(urgency: str, followers: int, rng: random.Random) -> int:
    """A plausible priority for seeded history: urgency first, reach second."""
    reach = min(10, len(str(max(followers, 1))) * 1.5)
    return max(0, min(100, int(URGENCY_BASE.get(urgency, 40) + reach + rng.uniform(-5, 5))))


def _probabilities(sentiment: str, rng: random.Random) -> tuple[float, float, float]:
    main = rng.uniform(0.6, 0.95)
    rest = (1 - main) / 2
    order = ("negative", "neutral", "positive")
    return tuple(main if s == sentiment else rest for s in order)  # type: ignore[return-value]


def _chunks(items: Iterable[GeneratedMention], size: int) -> Iterator[list[GeneratedMention]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


class _Seeder:
    """Applies generated history (labels, outcomes, replies) on top of ingested mentions."""

    def __init__(
        self,
        cfg: AppConfig,
        brands: dict[str, int],
        users: dict[str, int],
        seed: int,
        sources: dict[str, int],
        now: datetime,
    ) -> None:
        self.cfg, self.brands, self.users, self.now = cfg, brands, users, now
        self.rng = random.Random(seed)
        self.sources = demo_sources(cfg, sources)

    def store_chunk(self, session: Session, chunk: list[GeneratedMention]) -> IngestResult:
        by_brand: dict[str, list[GeneratedMention]] = defaultdict(list)
        for g in chunk:
            by_brand[g.brand].append(g)
        result = IngestResult()
        for brand, items in by_brand.items():
            result += ingest_batch(
                session, [g.mention for g in items], brand_id=self.brands.get(brand), source_id=self.sources.get(brand)
            )
        ids = self._ids(session, chunk)
        inbound = [
            g for g in chunk if not g.mention.is_brand_post and (g.mention.platform, g.mention.external_id) in ids
        ]
        self._label(session, inbound, ids)
        return result

    def _ids(self, session: Session, chunk: list[GeneratedMention]) -> dict[tuple[str, str], int]:
        """Ids of the chunk's mentions not classified yet (seeded once, even on a re-run).

        Two look-ups by key rather than one anti-join: with stale statistics PostgreSQL planned the anti-join as a
        scan of every classification per chunk, and external_id without platform could not use the unique
        index either: a million-mention seed crawled, slowing as the tables grew.
        """
        wanted = {(g.mention.platform, g.mention.external_id) for g in chunk}
        found = session.execute(
            select(Mention.platform, Mention.external_id, Mention.id).where(
                Mention.platform.in_(sorted({p for p, _ in wanted})),
                Mention.external_id.in_(sorted({e for _, e in wanted})),
            )
        )
        ids = {(p, e): i for p, e, i in found if (p, e) in wanted}
        seeded = set(
            session.scalars(select(Classification.mention_id).where(Classification.mention_id.in_(ids.values())))
        )
        return {key: i for key, i in ids.items() if i not in seeded}

    def _label(self, session: Session, items: list[GeneratedMention], ids: dict[tuple[str, str], int]) -> None:
        updates: list[dict[str, object]] = []
        labels: list[dict[str, object]] = []
        replies: list[dict[str, object]] = []
        mention_ids: list[int] = []
        for g in items:
            mention_id = ids[(g.mention.platform, g.mention.external_id)]
            mention_ids.append(mention_id)
            followers = g.mention.author.followers if g.mention.author else 0
            priority = seed_priority(g.urgency, followers, self.rng)
            row = {"id": mention_id, "sentiment": g.sentiment, "urgency": g.urgency, "priority": priority}
            row.update(self._outcome(g, mention_id, replies))
            updates.append(row)
            neg, neu, pos = _probabilities(g.sentiment, self.rng)
            labels.append(
                {
                    "mention_id": mention_id,
                    "model_name": SEED_MODEL[0],
                    "model_version": SEED_MODEL[1],
                    "sentiment": g.sentiment,
                    "p_negative": neg,
                    "p_neutral": neu,
                    "p_positive": pos,
                    "urgency": g.urgency,
                    "urgency_score": URGENCY_BASE[g.urgency] / 100,
                    "priority": priority,
                    "topics": CLASSIFIER_TOPICS.get(g.topic, []),
                    "language": g.mention.language,
                    "explanation": [],
                    "is_current": True,
                    "created_at": g.mention.fetched_at,
                }
            )
        if updates:
            session.execute(update(Mention), updates)
            session.execute(insert(Classification), labels)
        if replies:
            session.execute(insert(Reply), replies)
        # the same path as live mentions: due in the brand's business hours, stopped by the seeded reply
        start_clocks(session, SlaClocks.load(session, self.cfg), mention_ids, now=self.now)

    def _outcome(self, g: GeneratedMention, mention_id: int, replies: list[dict[str, object]]) -> dict[str, object]:
        o = g.outcome
        if o is None:
            return {"status": MentionStatus.NEW.value}
        agent_id = self.users.get(_username(o.agent))
        row: dict[str, object] = {"status": o.status, "assignee_id": agent_id, "assigned_at": o.acted_at}
        if o.replied:
            row["first_response_at"] = o.acted_at
            replies.append(
                {
                    "mention_id": mention_id,
                    "user_id": agent_id,
                    "text": o.reply_text,
                    "state": ReplyState.SENT.value,
                    "idempotency_key": _seed_key(g.mention.platform, g.mention.external_id),
                    "attempts": 1,
                    "external_id": o.reply_external_id,
                    "created_at": o.acted_at,
                    "updated_at": o.acted_at,
                    "sent_at": o.acted_at,
                }
            )
        if o.resolved_at:
            row["resolved_at"] = o.resolved_at
        return row


def _seed_key(platform: str, external_id: str) -> str:
    """Fits the 80-character key column whatever the platform's id length (Bluesky ids are long URIs)."""
    return "demo-" + hashlib.sha256(f"{platform}:{external_id}".encode()).hexdigest()[:40]


def demo_sources(cfg: AppConfig, sources: dict[str, int]) -> dict[str, int]:
    """Brand -> the id of its first enabled demo source.

    Seeded history is recorded as fetched by that source, so a reply to it goes out through the demo network like
    a reply to a live demo mention (its platform, e.g. mastodon, has no source of its own in the demo config).
    """
    found: dict[str, int] = {}
    for sc in cfg.sources:
        if sc.kind == "demo" and sc.enabled and sc.name in sources:
            found.setdefault(sc.brand, sources[sc.name])
    return found


def store_is_empty(store: Store) -> bool:
    """True before the first seed."""
    with store.read() as session:
        return not session.scalar(select(func.count()).select_from(Mention))


def seed_demo(
    store: Store,
    cfg: AppConfig,
    *,
    mentions: int = 5_000,
    seed: int = 42,
    days: int = 30,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> IngestResult:
    """Load the demo: config catalog, users, and ``mentions`` generated posts ending now."""
    now = now or datetime.now(UTC)
    with store.transaction() as session:
        catalog = sync_config(session, cfg)
        users = ensure_demo_users(session)
    seeder = _Seeder(cfg, catalog.brands, users, seed, catalog.sources, now)
    total = IngestResult()
    generated = generate_mentions(mentions, seed=seed, start=now - timedelta(days=days), end=now - timedelta(minutes=1))
    stored, next_statistics = 0, STATISTICS_FIRST
    for chunk in _chunks(generated, CHUNK):
        with store.transaction() as session:
            total += seeder.store_chunk(session, chunk)
        stored += len(chunk)
        if stored >= next_statistics:  # the planner's idea of the tables' size keeps up as they grow
            refresh_statistics(store.engine)
            next_statistics *= 2
        if progress:
            progress(len(chunk))
    refresh_statistics(store.engine, full=True)
    with store.transaction() as session:  # the live feed continues this history at its rate
        record_history(session, mentions, days)
    return total


DEMO_HISTORY_KEY = "demo.history"


def record_history(session: Session, mentions: int, days: int) -> None:
    """Remember how much history was seeded, so the live demo feed runs at the same rate (no false spike)."""
    row = session.get(Setting, DEMO_HISTORY_KEY)
    value = {"mentions": int(mentions), "days": int(days)}
    if row is None:
        session.add(Setting(key=DEMO_HISTORY_KEY, value=value))
    else:
        row.value = value


def seeded_history(session: Session) -> tuple[int, int] | None:
    """``(mentions, days)`` of the seeded demo history, or ``None`` for a store not seeded by the demo."""
    row = session.get(Setting, DEMO_HISTORY_KEY)
    if row is None or not isinstance(row.value, dict):
        return None
    try:
        mentions, days = int(row.value["mentions"]), int(row.value["days"])
    except (KeyError, TypeError, ValueError):
        return None
    return (mentions, days) if mentions >= 0 and days >= 1 else None
