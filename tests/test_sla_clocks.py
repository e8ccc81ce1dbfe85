"""SLA clocks through the production path: the classify step, triage, the outbox, ingest and the desk step.

Every test reads the due times back from the store, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from classifiers.base import Scores
from connectors.base import PostedReply
from console.config import AppConfig, parse_config
from console.domain.sla import ClockState
from console.services import triage
from console.services.catalog import sync_config
from console.services.escalations import at_risk_escalations, escalate, open_escalation
from console.services.permissions import Actor
from console.services.replies.outbox import queue_reply
from console.services.sla_clocks import SlaClocks
from console.services.store import Store
from console.services.users import create_user
from console.worker.classify_step import classify_batch
from console.worker.desk_step import run_desk
from console.worker.outbox_step import mark_sent
from storage.enums import MentionStatus, Role
from storage.ingest import ingest_batch
from storage.models import Alert, AuditEntry, Author, Classification, Escalation, Mention
from tests.factories import make_mention

LONDON = ZoneInfo("Europe/London")
FRIDAY_1645 = datetime(2026, 11, 6, 16, 45, tzinfo=LONDON).astimezone(UTC)

CONFIG = {
    "team": {"timezone": "Europe/London"},
    "brands": [
        {
            "name": "Office",
            "calendar": {
                "timezone": "Europe/London",
                "hours": {d: "09:00-17:00" for d in ("mon", "tue", "wed", "thu", "fri")},
            },
        },
        {"name": "Always"},
    ],
    "sla": {
        "policies": [
            {"urgency": "critical", "first_response": "15m", "business_hours": False},
            {"urgency": "high", "first_response": "1h", "next_response": "30m"},
            {"urgency": "normal", "first_response": "4h"},
            {"urgency": "low", "first_response": "24h"},
        ]
    },
}


class WordsClassifier:
    """Urgency from words in the text, so each test says what it wants."""

    name, version = "words", "1"

    def classify(self, texts: Sequence[str]) -> list[Scores]:
        out = []
        for text in texts:
            level = next((u for u in ("critical", "high", "low") if u in text), "normal")
            out.append(Scores("negative", 0.8, 0.1, 0.1, level, 0.5, topics=["complaint"]))
        return out


@pytest.fixture
def cfg() -> AppConfig:
    return parse_config(CONFIG)


def _brand_ids(store: Store, cfg: AppConfig) -> dict[str, int]:
    with store.transaction() as session:
        return sync_config(session, cfg).brands


def _ingest(store: Store, brand_id: int, *mentions) -> list[int]:  # type: ignore[no-untyped-def]
    with store.transaction() as session:
        ingest_batch(session, list(mentions), brand_id=brand_id)
        keys = [m.external_id for m in mentions]
        rows = dict(session.execute(select(Mention.external_id, Mention.id).where(Mention.external_id.in_(keys))).all())
    return [rows[k] for k in keys]


def _get(store: Store, mention_id: int) -> Mention:
    with store.read() as session:
        m = session.get(Mention, mention_id)
        assert m is not None
        session.expunge(m)
        return m


def _clocks(store: Store, cfg: AppConfig) -> SlaClocks:
    with store.read() as session:
        return SlaClocks.load(session, cfg)


def _agent(store: Store, name: str = "jamie", role: Role = Role.AGENT) -> Actor:
    with store.transaction() as session:
        return Actor.of(create_user(session, name, f"{name}-pass-2026", role, name.capitalize()))


def test_classify_step_sets_due_in_the_brand_calendar_and_policy(store: Store, cfg: AppConfig) -> None:
    brands = _brand_ids(store, cfg)
    office = _ingest(store, brands["Office"], make_mention(1, text="high: stuck at the gate", created_at=FRIDAY_1645))
    always = _ingest(store, brands["Always"], make_mention(2, text="high: stuck at the gate", created_at=FRIDAY_1645))
    critical = _ingest(store, brands["Office"], make_mention(3, text="critical: smoke", created_at=FRIDAY_1645))
    assert classify_batch(store, WordsClassifier(), 64, cfg) == 3
    m = _get(store, office[0])
    assert m.sla_due_at == datetime(2026, 11, 9, 9, 45, tzinfo=LONDON)  # Friday 16:45 + 1 business hour
    assert m.sla_at_risk_at == datetime(2026, 11, 9, 9, 30, tzinfo=LONDON)  # 75 % of the target
    assert m.first_response_due_at == m.sla_due_at and m.sla_kind == "first_response"
    assert _get(store, always[0]).sla_due_at == FRIDAY_1645 + timedelta(hours=1)  # no calendar: 24/7
    assert _get(store, critical[0]).sla_due_at == FRIDAY_1645 + timedelta(minutes=15)  # business_hours = false


def test_listen_only_and_brand_posts_get_no_clock(store: Store, cfg: AppConfig) -> None:
    brands = _brand_ids(store, cfg)
    ids = _ingest(
        store,
        brands["Always"],
        make_mention(1, replyable=False, replyable_reason="search result"),
        make_mention(2, is_brand_post=True),
    )
    classify_batch(store, WordsClassifier(), 64, cfg)
    assert [_get(store, i).sla_due_at for i in ids] == [None, None]


def test_urgency_correction_recomputes_from_the_round_start(store: Store, cfg: AppConfig) -> None:
    brands = _brand_ids(store, cfg)
    (mid,) = _ingest(store, brands["Office"], make_mention(1, text="normal question", created_at=FRIDAY_1645))
    classify_batch(store, WordsClassifier(), 64, cfg)
    assert _get(store, mid).sla_due_at == datetime(2026, 11, 9, 12, 45, tzinfo=LONDON)  # 4 business hours
    agent = _agent(store)
    with store.transaction() as session:
        triage.correct_label(session, agent, mid, "urgency", "critical", clocks=SlaClocks.load(session, cfg))
    assert _get(store, mid).sla_due_at == FRIDAY_1645 + timedelta(minutes=15)


def test_a_sent_reply_stops_the_clock_and_the_same_customers_earlier_posts(store: Store, cfg: AppConfig) -> None:
    brands = _brand_ids(store, cfg)
    t0 = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
    first, second, other = _ingest(
        store,
        brands["Always"],
        make_mention(1, author=1, created_at=t0, conversation_id="x-1"),
        make_mention(2, author=1, created_at=t0 + timedelta(minutes=5), conversation_id="x-1", in_reply_to_id="x-1"),
        make_mention(3, author=2, created_at=t0 + timedelta(minutes=6), conversation_id="x-1", in_reply_to_id="x-1"),
    )
    classify_batch(store, WordsClassifier(), 64, cfg)
    with store.transaction() as session:
        reply = queue_reply(session, second, "Sorry about that! ^JK", None, "k-1")
        reply.state = "sending"  # type: ignore[assignment]
        reply_id = reply.id
    sent_at = t0 + timedelta(minutes=20)
    mark_sent(store, reply_id, PostedReply("r1", "https://x.example/r1", sent_at), sent_at)
    for mid in (first, second):
        m = _get(store, mid)
        assert m.sla_responded_at == sent_at and m.first_response_at == sent_at
        assert _clocks(store, cfg).read(m, sent_at).state is ClockState.MET
    assert _get(store, other).sla_responded_at is None  # someone else's post still waits


def test_a_follow_up_after_the_brand_answered_measures_the_next_response(store: Store, cfg: AppConfig) -> None:
    brands = _brand_ids(store, cfg)
    t0 = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
    (root,) = _ingest(store, brands["Always"], make_mention(1, text="high", created_at=t0, conversation_id="x-1"))
    _ingest(
        store,
        brands["Always"],
        make_mention(
            2, is_brand_post=True, created_at=t0 + timedelta(minutes=10), conversation_id="x-1", in_reply_to_id="x-1"
        ),
    )
    (follow,) = _ingest(
        store,
        brands["Always"],
        make_mention(
            3, text="high still broken", conversation_id="x-1", created_at=t0 + timedelta(hours=1), in_reply_to_id="x-2"
        ),
    )
    classify_batch(store, WordsClassifier(), 64, cfg)
    assert _get(store, root).sla_responded_at == t0 + timedelta(minutes=10)  # the brand post answered it
    m = _get(store, follow)
    assert m.sla_kind == "next_response" and m.sla_due_at == t0 + timedelta(hours=1, minutes=30)


def test_reopen_starts_a_next_response_round_and_keeps_the_first_verdict(store: Store, cfg: AppConfig) -> None:
    brands = _brand_ids(store, cfg)
    t0 = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
    (mid,) = _ingest(store, brands["Always"], make_mention(1, text="high", created_at=t0))
    classify_batch(store, WordsClassifier(), 64, cfg)
    with store.transaction() as session:
        reply = queue_reply(session, mid, "On it ^JK", None, "k-1")
        reply.state = "sending"  # type: ignore[assignment]
        reply_id = reply.id
    mark_sent(store, reply_id, PostedReply("r1", None, t0 + timedelta(minutes=30)), t0)
    agent, later = _agent(store), t0 + timedelta(days=1)
    with store.transaction() as session:
        clocks = SlaClocks.load(session, cfg)
        triage.set_status(session, agent, mid, MentionStatus.RESOLVED, now=later, clocks=clocks)
        triage.set_status(session, agent, mid, MentionStatus.OPEN, now=later + timedelta(hours=1), clocks=clocks)
    m = _get(store, mid)
    assert m.sla_kind == "next_response" and m.sla_responded_at is None
    assert m.sla_due_at == later + timedelta(hours=1, minutes=30)
    assert m.first_response_due_at == t0 + timedelta(hours=1) and m.first_response_at == t0 + timedelta(minutes=30)


def test_clock_reads_paused_outside_hours_and_at_risk_near_the_end(store: Store, cfg: AppConfig) -> None:
    brands = _brand_ids(store, cfg)
    (mid,) = _ingest(store, brands["Office"], make_mention(1, text="high", created_at=FRIDAY_1645))
    classify_batch(store, WordsClassifier(), 64, cfg)
    clocks, m = _clocks(store, cfg), _get(store, mid)
    saturday = datetime(2026, 11, 7, 12, 0, tzinfo=LONDON)
    paused = clocks.read(m, saturday)
    assert paused.state is ClockState.PAUSED and paused.seconds_left == 45 * 60
    assert clocks.read(m, datetime(2026, 11, 9, 9, 10, tzinfo=LONDON)).state is ClockState.ON_TIME
    assert clocks.read(m, datetime(2026, 11, 9, 9, 35, tzinfo=LONDON)).state is ClockState.AT_RISK
    assert clocks.read(m, datetime(2026, 11, 9, 9, 50, tzinfo=LONDON)).state is ClockState.BREACHED


def test_at_risk_unanswered_mentions_escalate_to_the_supervisor_once(store: Store, cfg: AppConfig) -> None:
    brands = _brand_ids(store, cfg)
    t0 = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
    waiting, answered = _ingest(
        store,
        brands["Always"],
        make_mention(1, text="high", created_at=t0),
        make_mention(2, text="high", created_at=t0),
    )
    classify_batch(store, WordsClassifier(), 64, cfg)
    with store.transaction() as session:
        reply = queue_reply(session, answered, "Hi ^JK", None, "k-2")
        reply.state = "sending"  # type: ignore[assignment]
        reply_id = reply.id
    mark_sent(store, reply_id, PostedReply("r2", None, t0 + timedelta(minutes=5)), t0)
    assert run_desk(store, cfg, now=t0 + timedelta(minutes=40)) == (0, 0)  # 40 of 60 min: not yet at risk
    assert run_desk(store, cfg, now=t0 + timedelta(minutes=46))[1] == 1
    assert run_desk(store, cfg, now=t0 + timedelta(minutes=70))[1] == 0  # once, even after the breach
    with store.read() as session:
        esc = open_escalation(session, waiting)
        assert esc is not None and esc.queue == "supervisor" and esc.trigger == "sla_at_risk"
        assert session.scalar(select(func.count()).select_from(Escalation)) == 1
        assert session.scalar(select(Mention.escalation_queue).where(Mention.id == waiting)) == "supervisor"
        assert session.scalar(select(func.count()).select_from(Alert).where(Alert.metric == "escalation")) == 1
        assert (
            session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "mention.escalate"))
            == 1
        )


def test_critical_rubric_categories_go_to_their_queue_at_once(store: Store, cfg: AppConfig) -> None:
    brands = _brand_ids(store, cfg)
    (mid,) = _ingest(store, brands["Always"], make_mention(1, text="I am calling my lawyer about this"))
    classify_batch(store, WordsClassifier(), 64, cfg)
    with store.read() as session:
        esc = open_escalation(session, mid)
        assert esc is not None and esc.queue == "legal" and esc.trigger == "rubric:legal_threat"
        assert "legal" in esc.reason


def test_a_person_moves_an_escalation_and_resolving_ends_it(store: Store, cfg: AppConfig) -> None:
    brands = _brand_ids(store, cfg)
    (mid,) = _ingest(store, brands["Always"], make_mention(1, text="my account was hacked"))
    classify_batch(store, WordsClassifier(), 64, cfg)
    maya = _agent(store, "maya", Role.MANAGER)
    with store.transaction() as session:
        escalate(session, maya, mid, "pr_crisis", "a journalist is asking", config=cfg.escalation)
    with store.transaction() as session:
        rows = list(session.scalars(select(Escalation).order_by(Escalation.id)))
        assert [(r.queue, r.end_action) for r in rows] == [("security", "moved"), ("pr_crisis", None)]
        triage.set_status(session, maya, mid, MentionStatus.RESOLVED, clocks=SlaClocks.load(session, cfg))
    with store.read() as session:
        assert open_escalation(session, mid) is None
        assert session.scalar(select(Mention.escalation_queue).where(Mention.id == mid)) is None


def test_desk_step_recomputes_clocks_a_migration_left_without_an_at_risk_time(store: Store, cfg: AppConfig) -> None:
    brands = _brand_ids(store, cfg)
    (mid,) = _ingest(store, brands["Office"], make_mention(1, text="high", created_at=FRIDAY_1645))
    with store.transaction() as session:  # as migration 0007 leaves an open round of an older store
        m = session.get(Mention, mid)
        assert m is not None
        m.urgency, m.sla_kind, m.sla_started_at = "high", "first_response", FRIDAY_1645
        m.sla_due_at = m.first_response_due_at = FRIDAY_1645 + timedelta(hours=1)
    assert run_desk(store, cfg, now=FRIDAY_1645)[0] == 1
    assert _get(store, mid).sla_due_at == datetime(2026, 11, 9, 9, 45, tzinfo=LONDON)
    with store.read() as session:
        assert at_risk_escalations(session, cfg.escalation, now=FRIDAY_1645) == []  # due Monday: nothing yet


def test_configured_vip_handles_and_keyword_rules_raise_priority_with_their_reasons(store: Store) -> None:
    plain = parse_config(CONFIG)
    tuned = parse_config(
        {
            **CONFIG,
            "classifier": {
                "vip_handles": ["@User2"],
                "keyword_rules": [{"pattern": "refund", "urgency": "critical", "reason": "money at stake"}],
            },
        }
    )
    brands = _brand_ids(store, tuned)
    texts = {1: "normal: where is my bag", 2: "normal: where is my bag", 3: "normal: I want a REFUND now"}
    authors = {1: 1, 2: 2, 3: 1}  # the keyword's mention comes from the first, plain author
    ids = _ingest(store, brands["Always"], *(make_mention(i, text=t, author=authors[i]) for i, t in texts.items()))
    assert classify_batch(store, WordsClassifier(), 64, tuned) == 3
    with store.read() as session:
        rows = {c.mention_id: c for c in session.scalars(select(Classification).where(Classification.is_current))}
        flags = select(Mention.id, Author.is_vip).join(Author, Author.id == Mention.author_id)
        vip_flags = dict(session.execute(flags).tuples().all())
    reasons = {i: [s["reason"] for s in rows[i].explanation] for i in ids}
    assert "author is on the VIP list" in reasons[ids[1]] and "author is on the VIP list" not in reasons[ids[0]]
    assert rows[ids[1]].priority > rows[ids[0]].priority + 10  # the VIP weight is 15
    keyword = next(s for s in rows[ids[2]].explanation if s["name"] == "keyword:refund")
    assert keyword["reason"] == 'keyword "refund": money at stake' and keyword["contribution"] == 25.0
    assert rows[ids[2]].priority > rows[ids[0]].priority + 20
    assert vip_flags == {ids[0]: False, ids[1]: True, ids[2]: False}  # the badge the Inbox shows
    # The built-in rules apply when none are configured: "refund" is not one of them.
    ids2 = _ingest(store, brands["Always"], make_mention(9, text="normal: I want a refund", author=1))
    classify_batch(store, WordsClassifier(), 64, plain)
    with store.read() as session:
        again = session.scalar(select(Classification).where(Classification.mention_id == ids2[0]))
    assert again is not None and again.priority == rows[ids[0]].priority
