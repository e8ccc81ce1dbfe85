"""The worker: leases, health, crash safety, several workers on PostgreSQL, factory and classify step."""

from __future__ import annotations

import http.server
import multiprocessing
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest
from sqlalchemy import func, select

from classifiers.base import Scores, Signal
from connectors.base import AuthError, Batch, FatalError, Mention, PostedReply, RetriableError
from connectors.mastodon import MastodonConnector
from connectors.x import XConnector
from console.config import parse_config
from console.secrets import Secrets, env_name
from console.services.catalog import sync_config
from console.services.store import Store, open_store
from console.worker.classify_step import classify_new
from console.worker.factory import ConnectorFactory, query_terms
from console.worker.fetch_step import run_source
from console.worker.leases import acquire_due
from console.worker.loop import run_forever, run_once
from storage.enums import SourceHealth
from storage.ingest import ingest_batch
from storage.models import Classification, Source
from storage.models import Mention as MentionRow
from tests.factories import make_batch, make_mention

FEED = (Path(__file__).parent / "fixtures/rss/news.xml").read_bytes()


class PagedConnector:
    """A test double of the Connector protocol: one canned page per cursor, every call recorded."""

    platform: ClassVar[str] = "x"

    def __init__(self, pages: dict[str | None, Batch], *, delay: float = 0.0) -> None:
        self.pages = pages
        self.delay = delay
        self.calls: list[str | None] = []

    def fetch(self, cursor: str | None, *, limit: int = 100) -> Batch:
        self.calls.append(cursor)
        time.sleep(self.delay)
        return self.pages.get(cursor, Batch([], cursor, False))

    def reply(self, to: Mention, text: str, *, idempotency_key: str) -> PostedReply:
        raise FatalError("this double never replies")


class FailingConnector(PagedConnector):
    """Raises ``error`` on every fetch."""

    def __init__(self, error: Exception) -> None:
        super().__init__({})
        self.error = error

    def fetch(self, cursor: str | None, *, limit: int = 100) -> Batch:
        raise self.error


TWO_PAGES = {
    None: Batch(make_batch(3, 0), "c1", True, reads=3),
    "c1": Batch(make_batch(3, 3), "c2", False, reads=3),
}


def add_source(store: Store, name: str, platform: str = "x", kind: str = "mentions", **values: object) -> int:
    with store.transaction() as session:
        source = Source(name=name, platform=platform, kind=kind, interval_s=60, **values)
        session.add(source)
        session.flush()
        return source.id


def source(store: Store, name: str) -> Source:
    with store.read() as session:
        row = session.scalar(select(Source).where(Source.name == name))
        assert row is not None
        return row


def mention_ids(store: Store) -> list[str]:
    with store.read() as session:
        return sorted(session.scalars(select(MentionRow.external_id)))


# --- health and isolation ---------------------------------------------------------------------


def test_a_401_source_is_unhealthy_with_its_reason_while_another_keeps_ingesting(store: Store) -> None:
    add_source(store, "broken")
    add_source(store, "fine")
    refused = AuthError("X rejected the credentials (401 Unauthorized): check the bearer token", status=401)
    doubles = {"broken": FailingConnector(refused), "fine": PagedConnector(TWO_PAGES)}
    outcomes = run_once(store, lambda lease: doubles[lease.name], owner="w1")
    assert {o.source: o.ok for o in outcomes} == {"broken": False, "fine": True}
    broken, fine = source(store, "broken"), source(store, "fine")
    assert broken.health is SourceHealth.UNHEALTHY and broken.consecutive_failures == 1
    assert (
        broken.last_error
        == "credentials refused: X rejected the credentials (401 Unauthorized): check the bearer token"
    )
    assert broken.lease_owner is None and broken.next_run_at is not None and broken.cursor is None
    assert fine.health is SourceHealth.HEALTHY and fine.cursor == "c2" and fine.last_error is None
    assert fine.mentions_ingested == 6 and mention_ids(store) == sorted(f"x-{i}" for i in range(6))


def test_a_factory_error_is_recorded_and_the_other_sources_still_run(store: Store) -> None:
    add_source(store, "no-builder", platform="myspace")
    add_source(store, "fine")
    factory = ConnectorFactory(secrets=Secrets(env={}), builders={"x": lambda lease, ctx: PagedConnector(TWO_PAGES)})
    run_once(store, factory, owner="w1")
    assert source(store, "no-builder").last_error == "stopped: no connector for platform 'myspace'"
    assert source(store, "fine").health is SourceHealth.HEALTHY


def test_retriable_errors_degrade_then_mark_unhealthy_and_wait_for_the_reset(store: Store) -> None:
    add_source(store, "flaky")
    limited = FailingConnector(RetriableError("X rate limit reached (429)", retry_after=120, status=429))
    start = datetime.now(UTC)
    for failures in (1, 2, 3):
        with store.transaction() as session:
            session.execute(Source.__table__.update().values(next_run_at=None))
        run_once(store, lambda lease: limited, owner="w1")
        row = source(store, "flaky")
        assert row.consecutive_failures == failures
        assert row.health is (SourceHealth.DEGRADED if failures < 3 else SourceHealth.UNHEALTHY)
    assert row.last_error == "temporary problem, will retry: X rate limit reached (429)"
    assert row.next_run_at is not None and row.next_run_at >= start + timedelta(seconds=119)


def test_each_source_runs_at_its_own_interval_with_jitter(sqlite_store: Store) -> None:
    add_source(sqlite_store, "fast")
    with sqlite_store.transaction() as session:
        session.add(Source(name="slow", platform="x", kind="search", interval_s=600))
    at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with sqlite_store.transaction() as session:
        leases = acquire_due(session, "w1", at)
    for lease in leases:
        run_source(sqlite_store, lease, PagedConnector({}), owner="w1", now=lambda: at, rng=random.Random(1))
    fast, slow = source(sqlite_store, "fast"), source(sqlite_store, "slow")
    assert fast.next_run_at is not None and slow.next_run_at is not None
    assert timedelta(seconds=54) <= fast.next_run_at - at <= timedelta(seconds=66)
    assert timedelta(seconds=540) <= slow.next_run_at - at <= timedelta(seconds=660)
    with sqlite_store.transaction() as session:
        assert acquire_due(session, "w1", at + timedelta(seconds=30)) == []
        assert [lease.name for lease in acquire_due(session, "w1", at + timedelta(seconds=70))] == ["fast"]


def test_a_failing_step_never_stops_the_loop(sqlite_store: Store) -> None:
    add_source(sqlite_store, "fine")
    stop, ran = threading.Event(), Counter()

    def broken_step(store: Store) -> None:
        ran["broken"] += 1
        raise RuntimeError("classifier exploded")

    def counting_step(store: Store) -> None:
        ran["counting"] += 1
        if ran["counting"] == 3:
            stop.set()

    run_forever(
        sqlite_store,
        lambda lease: PagedConnector(TWO_PAGES),
        steps=[broken_step, counting_step],
        poll_s=0.01,
        stop=stop,
        owner="w1",
    )
    assert ran == {"broken": 3, "counting": 3}
    assert len(mention_ids(sqlite_store)) == 6


# --- crash safety ----------------------------------------------------------------------------


def test_an_ingest_crash_keeps_the_committed_pages_and_the_cursor_of_the_last_one(store: Store, monkeypatch) -> None:
    add_source(store, "s")
    import console.worker.fetch_step as fetch_step

    pages_seen = Counter()

    def ingest_then_fail_on_page_two(session, mentions, **kw):  # type: ignore[no-untyped-def]
        pages_seen["n"] += 1
        result = ingest_batch(session, mentions, **kw)
        if pages_seen["n"] == 2:
            raise OSError("disk full")
        return result

    monkeypatch.setattr(fetch_step, "ingest_batch", ingest_then_fail_on_page_two)
    outcome = run_once(store, lambda lease: PagedConnector(TWO_PAGES), owner="w1")[0]
    assert not outcome.ok and "disk full" in (outcome.error or "")
    assert source(store, "s").cursor == "c1" and mention_ids(store) == sorted(f"x-{i}" for i in range(3))
    monkeypatch.undo()
    restarted = PagedConnector(TWO_PAGES)
    with store.transaction() as session:
        session.execute(Source.__table__.update().values(next_run_at=None))
    run_once(store, lambda lease: restarted, owner="w2")
    assert restarted.calls == ["c1"]  # resumed after the last committed page, nothing re-read
    assert source(store, "s").cursor == "c2" and source(store, "s").mentions_ingested == 6
    assert mention_ids(store) == sorted(f"x-{i}" for i in range(6))


def _killed_worker(url: str, kill_on_page: int) -> None:
    """Run in a forked child: ingest the page, then die before the transaction commits."""
    import console.worker.fetch_step as fetch_step

    store, pages = open_store(url), Counter()

    def ingest_then_die(session, mentions, **kw):  # type: ignore[no-untyped-def]
        pages["n"] += 1
        result = ingest_batch(session, mentions, **kw)
        session.flush()  # the rows are in the database's transaction, not yet committed
        if pages["n"] == kill_on_page:
            os._exit(137)
        return result

    fetch_step.ingest_batch = ingest_then_die  # type: ignore[assignment]
    run_once(store, lambda lease: PagedConnector(TWO_PAGES), owner="doomed")


@pytest.mark.parametrize("kill_on_page", [1, 2])
def test_a_worker_killed_between_fetch_and_commit_loses_and_duplicates_nothing(store: Store, kill_on_page: int) -> None:
    add_source(store, "s")
    child = multiprocessing.get_context("fork").Process(target=_killed_worker, args=(store.url, kill_on_page))
    child.start()
    child.join(30)
    assert child.exitcode == 137
    committed = 3 * (kill_on_page - 1)
    assert mention_ids(store) == sorted(f"x-{i}" for i in range(committed))
    assert source(store, "s").cursor == (None if kill_on_page == 1 else "c1")
    assert source(store, "s").lease_owner == "doomed"  # its lease holds the source until it expires
    assert run_once(store, lambda lease: PagedConnector(TWO_PAGES), owner="w2") == []
    restarted = PagedConnector(TWO_PAGES)
    later = datetime.now(UTC) + timedelta(minutes=6)
    run_once(store, lambda lease: restarted, owner="w2", now=later)
    assert restarted.calls == ([None, "c1"] if kill_on_page == 1 else ["c1"])
    assert mention_ids(store) == sorted(f"x-{i}" for i in range(6))
    row = source(store, "s")
    assert (row.cursor, row.mentions_ingested, row.reads_used, row.health) == ("c2", 6, 6, SourceHealth.HEALTHY)


def test_a_worker_whose_lease_was_taken_over_stores_nothing(sqlite_store: Store) -> None:
    add_source(sqlite_store, "s")
    now = datetime.now(UTC)
    with sqlite_store.transaction() as session:
        (lease,) = acquire_due(session, "slow-worker", now)
    with sqlite_store.transaction() as session:  # it stalled past its lease; another worker took over
        assert len(acquire_due(session, "w2", now + timedelta(minutes=6))) == 1
    outcome = run_source(sqlite_store, lease, PagedConnector(TWO_PAGES), owner="slow-worker")
    assert not outcome.ok and "lost" in (outcome.error or "")
    assert mention_ids(sqlite_store) == [] and source(sqlite_store, "s").lease_owner == "w2"


# --- several workers on PostgreSQL -----------------------------------------------------------


def test_two_workers_on_postgresql_fetch_each_source_exactly_once(pg_store: Store) -> None:
    names = [f"src-{i:02d}" for i in range(20)]
    for name in names:
        add_source(pg_store, name)
    fetched: list[tuple[str, str]] = []
    lock, barrier = threading.Lock(), threading.Barrier(2)

    class Recording(PagedConnector):
        def __init__(self, name: str, owner: str) -> None:
            super().__init__({None: Batch([make_mention(names.index(name))], "done", False)}, delay=0.02)
            self.name, self.owner = name, owner

        def fetch(self, cursor: str | None, *, limit: int = 100) -> Batch:
            with lock:
                fetched.append((self.name, self.owner))
            return super().fetch(cursor, limit=limit)

    def work(owner: str) -> None:
        barrier.wait()
        while run_once(pg_store, lambda lease: Recording(lease.name, owner), owner=owner):
            pass

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(name for name, _ in fetched) == names  # every source once, none twice
    assert {owner for _, owner in fetched} == {"w1", "w2"}  # and both workers took part
    assert len(mention_ids(pg_store)) == 20


# --- read budget -----------------------------------------------------------------------------


def test_the_read_counter_restarts_when_the_month_changes(store: Store) -> None:
    add_source(store, "x-m", reads_month="2026-10", reads_used=9_500)
    with store.transaction() as session:
        (lease,) = acquire_due(session, "w1", datetime.now(UTC))
    november = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    run_source(store, lease, PagedConnector(TWO_PAGES), owner="w1", now=lambda: november)
    row = source(store, "x-m")
    assert (row.reads_month, row.reads_used) == ("2026-11", 6)


# --- factory: real connectors from config and secrets ---------------------------------------

CONFIG = {
    "brands": [{"name": "Skyline Air", "handles": {"x": "skyline", "mastodon": "skyline"}, "keywords": ["acmeair"]}],
    "queries": [
        {
            "name": "kw",
            "brand": "Skyline Air",
            "terms": ["skyline air", "skyline"],
            "exclude": ["jobs"],
            "languages": ["en"],
        }
    ],
    "sources": [
        {
            "name": "x-mentions",
            "platform": "x",
            "kind": "mentions",
            "brand": "Skyline Air",
            "options": {"user_id": "2244994945"},
        },
        {
            "name": "x-search",
            "platform": "x",
            "kind": "search",
            "brand": "Skyline Air",
            "query": "kw",
            "options": {"user_id": "2244994945"},
        },
        {
            "name": "masto",
            "platform": "mastodon",
            "kind": "notifications",
            "brand": "Skyline Air",
            "options": {"instance": "https://social.example", "account_id": "1"},
        },
        {
            "name": "bsky",
            "platform": "bluesky",
            "kind": "notifications",
            "brand": "Skyline Air",
            "options": {"handle": "skyline.bsky.social", "did": "did:plc:abc"},
        },
        {"name": "reddit", "platform": "reddit", "kind": "inbox", "brand": "Skyline Air"},
    ],
    "x": {"monthly_read_cap": 1000, "price_per_read": 0.01},
}
X_SECRETS = {
    env_name("x-mentions", key): "secret-" + key
    for key in ("bearer_token", "consumer_key", "consumer_secret", "access_token", "access_token_secret")
}


@pytest.fixture
def catalog_store(sqlite_store: Store) -> Iterator[Store]:
    with sqlite_store.transaction() as session:
        sync_config(session, parse_config(CONFIG))
    yield sqlite_store


def lease_for(store: Store, name: str):  # type: ignore[no-untyped-def]
    from console.worker.leases import lease_of

    with store.read() as session:
        return lease_of(session, source(store, name).id)


def test_x_builder_reads_config_secrets_and_the_budget_shared_by_every_x_source(catalog_store: Store) -> None:
    with catalog_store.transaction() as session:
        month = datetime.now(UTC).strftime("%Y-%m")
        session.execute(
            Source.__table__.update().where(Source.platform == "x").values(reads_used=300, reads_month=month)
        )
    secrets = Secrets(env={**X_SECRETS, env_name("x-search", "bearer_token"): "t"})
    factory = ConnectorFactory(secrets=secrets, config=parse_config(CONFIG), store=catalog_store)
    mentions = factory(lease_for(catalog_store, "x-mentions"))
    search = factory(lease_for(catalog_store, "x-search"))
    assert isinstance(mentions, XConnector) and isinstance(search, XConnector)
    assert mentions.config.brand_handle == "skyline" and mentions.config.can_reply
    assert search.config.search_query() == '(("skyline air" OR skyline) -jobs) -is:retweet lang:en'
    assert search.budget is not None and search.budget.monthly_cap == 1000
    assert search._reads_used is not None and search._reads_used() == 600  # both X sources count
    assert "secret-" not in repr(mentions.config)


def test_missing_credentials_name_the_variable_and_leave_the_source_unhealthy(catalog_store: Store) -> None:
    factory = ConnectorFactory(secrets=Secrets(env={}), config=parse_config(CONFIG), store=catalog_store)
    with catalog_store.transaction() as session:
        session.execute(Source.__table__.update().where(Source.name != "x-mentions").values(enabled=False))
    run_once(catalog_store, factory, owner="w1")
    row = source(catalog_store, "x-mentions")
    assert row.health is SourceHealth.UNHEALTHY
    assert row.last_error is not None and "MENTIONDESK_X_MENTIONS_BEARER_TOKEN" in row.last_error
    assert "[sources.x-mentions]" in row.last_error


def test_other_builders_use_their_real_clients_with_secrets_from_the_file(catalog_store: Store, tmp_path) -> None:
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text(
        '[sources.masto]\naccess_token = "m-token"\n[sources.bsky]\napp_password = "app-pw"\n'
        '[sources.reddit]\nclient_id = "id"\nclient_secret = "cs"\nusername = "skyline"\npassword = "pw"\n'
    )
    factory = ConnectorFactory(secrets=Secrets.load(secrets_file, env={}), config=parse_config(CONFIG))
    masto = factory(lease_for(catalog_store, "masto"))
    assert isinstance(masto, MastodonConnector)
    assert (masto.config.instance_url, masto.config.access_token, masto.config.source) == (
        "https://social.example",
        "m-token",
        "mentions",
    )
    bsky, reddit = factory(lease_for(catalog_store, "bsky")), factory(lease_for(catalog_store, "reddit"))
    assert bsky.config.account_did == "did:plc:abc" and bsky.config.app_password == "app-pw"  # type: ignore[attr-defined]
    assert reddit.config.username == "skyline" and reddit.config.source == "mentions"  # type: ignore[attr-defined]


def test_environment_wins_over_the_secrets_file(tmp_path) -> None:
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text('[sources."x-mentions"]\nbearer_token = "from-file"\nconsumer_key = ""\n')
    secrets = Secrets.load(secrets_file, env={"MENTIONDESK_X_MENTIONS_BEARER_TOKEN": "from-env"})
    assert secrets.get("x-mentions", "bearer_token") == "from-env"
    assert Secrets.load(secrets_file, env={}).get("x-mentions", "bearer_token") == "from-file"
    assert Secrets.load(secrets_file, env={}).get("x-mentions", "consumer_key") is None
    assert "from-file" not in repr(Secrets.load(secrets_file, env={}))
    with pytest.raises(FatalError, match="MENTIONDESK_X_MENTIONS_CONSUMER_KEY"):
        secrets.require("x-mentions", "bearer_token", "consumer_key")


def test_query_terms_quote_phrases_and_negate_exclusions() -> None:
    query = parse_config(CONFIG).queries[0]
    assert query_terms(query) == '("skyline air" OR skyline) -jobs'


# --- end to end through a real connector -----------------------------------------------------


class _FeedHandler(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.hits.append(self.headers.get("If-None-Match"))
        if self.headers.get("If-None-Match") == '"v1"':
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("ETag", '"v1"')
        self.end_headers()
        self.wfile.write(FEED)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def feed_url() -> Iterator[str]:
    _FeedHandler.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FeedHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/travel.rss"
    server.shutdown()
    server.server_close()


def test_the_worker_ingests_a_real_rss_feed_end_to_end(store: Store, feed_url: str) -> None:
    cfg = parse_config(
        {
            "brands": [{"name": "Acme", "keywords": ["acmeair"]}],
            "sources": [
                {"name": "news", "platform": "rss", "kind": "feed", "brand": "Acme", "options": {"url": feed_url}}
            ],
        }
    )
    with store.transaction() as session:
        sync_config(session, cfg)
    factory = ConnectorFactory(secrets=Secrets(env={}), config=cfg, store=store)
    (outcome,) = run_once(store, factory, owner="w1")
    assert outcome.ok and outcome.result.new == 2
    assert mention_ids(store) == ["https://travelwire.example/2026/03/acmeair-cancels", "tw-88121"]
    with store.read() as session:
        rows = list(session.scalars(select(MentionRow)))
    assert all(not m.replyable and m.platform == "rss" and m.raw["_meta"]["url"] == feed_url for m in rows)
    assert source(store, "news").health is SourceHealth.HEALTHY and source(store, "news").reads_used == 4
    (again,) = run_once(store, factory, owner="w1", now=datetime.now(UTC) + timedelta(hours=1))
    assert again.ok and again.result.new == 0 and _FeedHandler.hits == [None, '"v1"']  # a conditional GET
    assert len(mention_ids(store)) == 2


# --- classification step ---------------------------------------------------------------------


class KeywordClassifier:
    """A deterministic stand-in for the model: complaints are negative and urgent."""

    name = "test-keywords"
    version = "1"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def classify(self, texts: Sequence[str]) -> list[Scores]:
        self.calls.append(list(texts))
        return [self._one(text) for text in texts]

    @staticmethod
    def _one(text: str) -> Scores:
        if "delayed" in text:
            why = [Signal("complaint", 0.6, "reports a delay")]
            return Scores("negative", 0.8, 0.15, 0.05, "high", 0.9, ["delays"], "en", why)
        return Scores("positive", 0.05, 0.15, 0.8, "low", 0.05, [], "de")


def test_classify_new_scores_waiting_mentions_in_batches_and_only_once(store: Store) -> None:
    with store.transaction() as session:
        ingest_batch(session, make_batch(5))
        ingest_batch(session, [make_mention(5, text="danke, super Service", language=None)])
        ingest_batch(session, [make_mention(6, is_brand_post=True, text="we are on it")])
    model = KeywordClassifier()
    assert classify_new(store, model, batch_size=4) == 6
    assert [len(call) for call in model.calls] == [4, 2]  # the brand's own post is not scored
    with store.read() as session:
        rows = {m.external_id: m for m in session.scalars(select(MentionRow))}
        current = session.scalar(select(func.count()).select_from(Classification).where(Classification.is_current))
        first = session.scalar(select(Classification).where(Classification.mention_id == rows["x-0"].id))
    assert current == 6 and first is not None
    assert (first.model_name, first.model_version, first.sentiment, first.urgency) == (
        "test-keywords",
        "1",
        "negative",
        "high",
    )
    assert first.topics == ["delays"] and first.priority >= 49 and first.explanation[0]["name"] == "text_urgency"
    assert (rows["x-0"].sentiment, rows["x-0"].urgency, rows["x-0"].priority) == ("negative", "high", first.priority)
    assert (rows["x-5"].sentiment, rows["x-5"].urgency, rows["x-5"].language) == ("positive", "low", "de")
    assert rows["x-6"].sentiment is None
    assert classify_new(store, model, batch_size=4) == 0 and len(model.calls) == 2
    with store.transaction() as session:
        ingest_batch(session, [make_mention(7)])
    assert classify_new(store, model) == 1 and model.calls[-1] == [make_mention(7).text]


def test_a_classifier_returning_the_wrong_number_of_scores_writes_nothing(sqlite_store: Store) -> None:
    class Short(KeywordClassifier):
        def classify(self, texts: Sequence[str]) -> list[Scores]:
            return super().classify(texts)[:-1]

    with sqlite_store.transaction() as session:
        ingest_batch(session, make_batch(3))
    with pytest.raises(ValueError, match="2 scores for 3 texts"):
        classify_new(sqlite_store, Short())
    with sqlite_store.read() as session:
        assert session.scalar(select(func.count()).select_from(Classification)) == 0
