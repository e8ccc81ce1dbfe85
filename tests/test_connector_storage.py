"""Real recorded payloads, through the real connectors, into the real store (SQLite and PostgreSQL).

The connectors package never imports storage; this test joins them the way ``console`` does, to
prove that what the connectors now produce fits the columns (ids of 140 characters used to fail
the whole batch on PostgreSQL) and that re-ingesting the same pages adds nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import responses
from sqlalchemy import func, select

from connectors.rss import RssConfig, RssConnector
from connectors.x import XConfig, XConnector
from console.services.store import Store
from storage.ingest import ingest_batch
from storage.models import Mention

FIXTURES = Path(__file__).parent / "fixtures"
NWS_URL = "https://alerts.weather.gov/cap/wwaatmget.php?x=INC121&y=0"


def _count(store: Store) -> int:
    with store.read() as s:
        return s.scalar(select(func.count()).select_from(Mention)) or 0


@responses.activate
def test_feed_items_with_ids_longer_than_the_column_are_stored_and_not_duplicated(store: Store) -> None:
    body = (FIXTURES / "rss/nws_cap_index.xml").read_bytes()
    responses.get(NWS_URL, body=body, content_type="application/atom+xml")
    responses.get(NWS_URL, body=body, content_type="application/atom+xml")
    conn = RssConnector(RssConfig(feed_url=NWS_URL, keywords=("Parke",)), sleep=lambda s: None)
    first = conn.fetch(None)
    with store.transaction() as s:
        result = ingest_batch(s, first.mentions)
    assert result.new == 4
    again = conn.fetch(None)  # a fresh poll (no cursor): the same four items, same hashed ids
    with store.transaction() as s:
        repeat = ingest_batch(s, again.mentions)
    assert (repeat.new, _count(store)) == (0, 4)
    with store.read() as s:
        rows = s.execute(select(Mention.external_id, Mention.conversation_id, Mention.raw)).all()
    for external_id, conversation_id, raw in rows:
        assert len(external_id) <= 128 and conversation_id == external_id
        original = (raw if isinstance(raw, dict) else json.loads(raw))["_mentiondesk"]["original_ids"]["external_id"]
        assert len(original) > 128


@responses.activate
def test_retweeted_originals_are_stored_once_and_reingest_adds_nothing(store: Store) -> None:
    page = json.loads((FIXTURES / "x/real/twitwi_search_retweets.json").read_text(encoding="utf-8"))
    url = "https://api.twitter.com/2/tweets/search/recent"
    responses.add(responses.GET, url, json=page)
    responses.add(responses.GET, url, json=page)
    config = XConfig(brand_user_id="1", brand_handle="acme", bearer_token="t", source="search", query="covidiot")
    conn = XConnector(config, sleeper=lambda s: None)
    for expected_new in (4, 0):
        batch = conn.fetch(None)
        with store.transaction() as s:
            assert ingest_batch(s, batch.mentions).new == expected_new
    with store.read() as s:
        texts = s.scalars(select(Mention.text)).all()
    assert len(texts) == 4 and not any(t.startswith("RT @") for t in texts)


def test_a_sparse_delivery_keeps_what_a_fuller_one_said_about_the_author(store) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from connectors.base import Author
    from storage.ingest import ingest_batch
    from storage.models import Author as AuthorRow
    from tests.factories import make_mention

    full = Author("x", "u9", "maya_travels", "Maya T", followers=48_000, verified=True)
    sparse = Author("x", "u9", "unknown", None, followers=0, verified=True)
    with store.transaction() as session:
        ingest_batch(session, [make_mention(1, author=full)])
    with store.transaction() as session:
        ingest_batch(session, [make_mention(2, author=sparse)])
    with store.read() as session:
        row = session.scalar(select(AuthorRow).where(AuthorRow.external_id == "u9"))
        assert row is not None and (row.handle, row.display_name, row.followers) == ("maya_travels", "Maya T", 48_000)
