"""Small builders for connector records used across tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.base import REASON_REPLYABLE, Author, Mention, Metrics

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def make_mention(
    i: int, *, platform: str = "x", likes: int = 0, author: int | Author | None = None, **kw: object
) -> Mention:
    """The i-th synthetic mention; same i gives the same external id.  ``author`` is an index or a record."""
    a = author if isinstance(author, int) else i % 7
    fields: dict[str, object] = {
        "platform": platform,
        "external_id": f"{platform}-{i}",
        "text": f"@skyline my flight {i} was delayed 😡",
        "created_at": T0 + timedelta(minutes=i),
        "author": author
        if isinstance(author, Author)
        else Author(platform, f"u{a}", f"user{a}", f"User {a}", followers=100 * a, verified=a == 3),
        "url": f"https://x.com/user{a}/status/{i}",
        "language": "en",
        "conversation_id": f"{platform}-{i}",
        "metrics": Metrics(likes=likes),
        "replyable": True,
        "replyable_reason": REASON_REPLYABLE,
        "raw": {"data": {"id": str(i)}},
    }
    fields.update(kw)
    return Mention(**fields)  # type: ignore[arg-type]


def make_batch(n: int, start: int = 0, **kw: object) -> list[Mention]:
    """``n`` consecutive mentions."""
    return [make_mention(i, **kw) for i in range(start, start + n)]
