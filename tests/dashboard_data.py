"""A small hand-built store for dashboard, export and page tests; every figure is worked out by hand."""
# ruff: noqa: E501

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from console.services.store import Store
from storage.enums import ReplyState, Role
from storage.models import Author, Brand, Classification, Mention, Reply, User

ZONE = "America/New_York"
START = datetime(2026, 11, 2, 5, 0, tzinfo=UTC)  # 2026-11-02 00:00 in New York (EST, after DST ended)
END = datetime(2026, 11, 9, 5, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 9, 6, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
INJECTION = '=HYPERLINK("http://x","y")'


def _at(day: int, hour: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


# name, brand, platform, sentiment, urgency, created, first response after, due after, agent, status,
# resolved after, author, topics
ROWS: list[tuple[Any, ...]] = [
    (
        "m1",
        "Skyline",
        "x",
        "positive",
        "normal",
        _at(2, 10),
        10 * MIN,
        4 * HOUR,
        "alice",
        "resolved",
        HOUR,
        "a1",
        ["delay"],
    ),
    (
        "m2",
        "Skyline",
        "x",
        "negative",
        "high",
        _at(2, 11),
        2 * HOUR,
        HOUR,
        "alice",
        "pending",
        None,
        "a2",
        ["delay", "refund"],
    ),
    (
        "m3",
        "Skyline",
        "mastodon",
        "negative",
        "critical",
        _at(3, 2),
        None,
        15 * MIN,
        None,
        "open",
        None,
        "a3",
        ["outage"],
    ),
    (
        "m4",
        "Nimbus",
        "x",
        "neutral",
        "low",
        _at(4, 12),
        30 * MIN,
        24 * HOUR,
        "bob",
        "resolved",
        2 * HOUR,
        "a1",
        ["billing"],
    ),
    ("m5", "Horizon", "x", "negative", "normal", _at(5, 12), None, None, None, "new", None, "a2", ["delay"]),
    ("m6", "Skyline", "x", "positive", "normal", _at(6, 12), HOUR, 4 * HOUR, "bob", "open", None, "a1", []),
    (
        "p1",
        "Skyline",
        "x",
        "negative",
        "normal",
        _at(30, 12, 10),
        20 * MIN,
        4 * HOUR,
        "alice",
        "resolved",
        HOUR,
        "a1",
        ["delay"],
    ),
    ("p2", "Horizon", "x", "positive", "low", _at(31, 12, 10), None, None, None, "resolved", HOUR, "a2", []),
    ("late", "Skyline", "x", "positive", "low", _at(20, 12), None, None, None, "resolved", HOUR, "a1", []),
]


def build(store: Store, *, injection_text: bool = True) -> dict[str, int]:
    """Fill the store; returns brand name -> id."""
    with store.transaction() as s:
        brands = {n: Brand(name=n) for n in ("Skyline", "Nimbus", "Horizon")}
        s.add_all(brands.values())
        s.flush()
        brands["Horizon"].is_competitor = True
        brands["Horizon"].competitor_of_id = brands["Skyline"].id
        users = {n: User(username=n, role=Role.AGENT, password_hash="x") for n in ("alice", "bob")}
        authors = {
            "a1": Author(platform="x", external_id="1", handle="frequent", followers=1_000),
            "a2": Author(platform="x", external_id="2", handle="small", followers=50),
            "a3": Author(platform="mastodon", external_id="3", handle="famous", followers=1_000_000, verified=True),
        }
        s.add_all([*users.values(), *authors.values()])
        s.flush()
        for row in ROWS:
            _add(s, row, brands, users, authors, injection_text)
        s.add(
            Mention(
                platform="x",
                external_id="own",
                brand_id=brands["Skyline"].id,
                text="We are on it",
                created_at=_at(2, 12),
                fetched_at=_at(2, 12),
                is_brand_post=True,
                sentiment="positive",
            )
        )
        return {n: b.id for n, b in brands.items()}


def _add(s: Any, row: tuple[Any, ...], brands: dict, users: dict, authors: dict, injection_text: bool) -> None:
    name, brand, platform, sentiment, urgency, created, fr, due, agent, status, resolved, author, topics = row
    text = INJECTION if (name == "m1" and injection_text) else f"{name}: the flight was delayed"
    m = Mention(
        platform=platform,
        external_id=name,
        brand_id=brands[brand].id,
        author_id=authors[author].id,
        text=text,
        created_at=created,
        fetched_at=created + timedelta(seconds=30),
        sentiment=sentiment,
        urgency=urgency,
        priority=50,
        status=status,
        assignee_id=users[agent].id if agent else None,
        first_response_at=created + fr if fr else None,
        sla_due_at=created + due if due else None,
        first_response_due_at=created + due if due else None,
        resolved_at=created + resolved if resolved else None,
        language="en",
        url=f"https://x.example/{name}",
    )
    s.add(m)
    s.flush()
    s.add(
        Classification(
            mention_id=m.id,
            model_name="test",
            model_version="2",
            sentiment=sentiment,
            p_negative=0.1,
            p_neutral=0.2,
            p_positive=0.7,
            urgency=urgency,
            priority=50,
            topics=topics,
            is_current=True,
        )
    )
    s.add(
        Classification(
            mention_id=m.id,
            model_name="test",
            model_version="1",
            sentiment="neutral",
            p_negative=0.3,
            p_neutral=0.4,
            p_positive=0.3,
            urgency="low",
            topics=["stale"],
            is_current=False,
        )
    )
    if fr and agent:
        s.add(
            Reply(
                mention_id=m.id,
                user_id=users[agent].id,
                text="Sorry!",
                state=ReplyState.SENT,
                idempotency_key=f"k-{name}",
                sent_at=created + fr,
            )
        )
