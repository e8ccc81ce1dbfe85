"""A small real store for the triage, auth and console tests: one brand, five people, a few mentions."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from console.services.permissions import Actor
from console.services.store import Store
from console.services.users import create_user
from storage.enums import Role
from storage.ingest import ingest_batch
from storage.models import Brand, Classification, Mention
from tests.factories import make_mention

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class World:
    """Ids the tests refer to."""

    brand_id: int
    agent: Actor
    other_agent: Actor
    manager: Actor
    analyst: Actor
    admin: Actor
    mention_ids: list[int]


def build_world(store: Store, mentions: int = 6) -> World:
    """Users for every role and ``mentions`` replyable X mentions with a current classification."""
    with store.transaction() as s:
        brand = s.scalar(select(Brand).where(Brand.name == "Skyline Air")) or Brand(name="Skyline Air")
        s.add(brand)
        s.flush()
        people = {
            name: Actor.of(create_user(s, name, PASSWORD, role, display))
            for name, role, display in [
                ("jamie", Role.AGENT, "Jamie Kerr"),
                ("sam", Role.AGENT, "Sam Lee"),
                ("maya", Role.MANAGER, "Maya Manager"),
                ("alex", Role.ANALYST, "Alex Analyst"),
                ("admin", Role.ADMIN, "Ada Admin"),
            ]
        }
        ingest_batch(s, [make_mention(i) for i in range(mentions)], brand_id=brand.id)
        ids = sorted(s.scalars(Mention.__table__.select().with_only_columns(Mention.id)))
        for i, mention_id in enumerate(ids):
            sentiment = "negative" if i % 2 == 0 else "positive"
            s.add(
                Classification(
                    mention_id=mention_id,
                    model_name="test",
                    model_version="1",
                    sentiment=sentiment,
                    p_negative=0.8 if sentiment == "negative" else 0.1,
                    p_neutral=0.1,
                    p_positive=0.1 if sentiment == "negative" else 0.8,
                    urgency="high",
                    urgency_score=0.7,
                    priority=70 - i,
                    topics=["complaint"] if i % 2 == 0 else ["praise"],
                    language="en",
                    explanation=[{"name": "keyword", "contribution": 0.4, "reason": "mentions a delay"}],
                )
            )
            m = s.get(Mention, mention_id)
            assert m is not None
            m.sentiment, m.urgency, m.priority = sentiment, "high", 70 - i
        return World(brand.id, people["jamie"], people["sam"], people["maya"], people["alex"], people["admin"], ids)
