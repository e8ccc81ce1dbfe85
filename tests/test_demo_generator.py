"""The demo data generator and the live demo connector."""

from __future__ import annotations

import json
import re
import statistics
import zlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import islice

import pytest

from classifiers.rubric import matching_cues
from connectors.base import (
    PAYLOAD_VERSION,
    REASON_BRAND_POST,
    REASON_LISTEN_ONLY,
    REASON_NEWS,
    REASON_REPLYABLE,
    REASON_SEARCH_ONLY,
    Connector,
    FatalError,
    Mention,
    SkippableError,
)
from connectors.demo import (
    DEFAULT_WORLD,
    HORIZON_AIRWAYS,
    NIMBUS_MOBILE,
    PARCELO_EATS,
    SENTIMENTS,
    SKYLINE_AIR,
    URGENCIES,
    DemoConnector,
    GeneratedMention,
    LiveCursor,
    generate_mentions,
    replies,
    texts_en,
    texts_intl,
)
from connectors.demo.live import INCIDENT_DELAY, INCIDENT_LENGTH
from connectors.demo.timeline import default_spikes
from connectors.demo.vocabulary import SLOTS, compile_template
from console.config import load_config
from console.services.demo_seed import seed_demo, seeded_history
from console.services.store import open_store
from console.worker.factory import ConnectorFactory
from console.worker.leases import SourceLease

END = datetime(2025, 3, 31, 18, 0, tzinfo=UTC)
START = END - timedelta(days=30)
N = 5000


@pytest.fixture(scope="module")
def demo() -> list[GeneratedMention]:
    return list(generate_mentions(N, seed=42, start=START, end=END))


def _share(items: list[GeneratedMention], predicate) -> float:
    return sum(1 for g in items if predicate(g)) / len(items)


# --- determinism and shape -------------------------------------------------------------------------


def test_same_seed_gives_identical_records():
    first = list(islice(generate_mentions(N, seed=42, start=START, end=END), 500))
    again = list(islice(generate_mentions(N, seed=42, start=START, end=END), 500))
    assert first == again


def test_different_seed_gives_different_records():
    a = [g.mention.text for g in islice(generate_mentions(N, seed=1, start=START, end=END), 500)]
    b = [g.mention.text for g in islice(generate_mentions(N, seed=2, start=START, end=END), 500)]
    assert a != b


def test_streams_lazily_so_huge_runs_fit_in_memory():
    stream = generate_mentions(10**9, seed=3, start=START, end=END)
    first = next(iter(stream))
    assert first.mention.created_at >= START


def test_exact_count_in_time_order_inside_the_range(demo):
    assert len(demo) == N
    times = [g.mention.created_at for g in demo]
    assert times == sorted(times)
    assert times[0] >= START and times[-1] < END
    assert all(g.mention.created_at <= g.mention.fetched_at <= END for g in demo)


def test_ids_are_unique_and_platform_shaped(demo):
    ids = [(g.mention.platform, g.mention.external_id) for g in demo]
    assert len(set(ids)) == len(ids)
    for g in demo:
        m = g.mention
        pattern = {
            "x": r"\d{18,19}",
            "mastodon": r"\d{17,19}",
            "bluesky": r"at://did:plc:[a-z2-7]{24}/app\.bsky\.feed\.post/[a-z2-7]{13}",
            "reddit": r"t[13]_[0-9a-z]+",
            "rss": r"https://[a-z.-]+\.example/news/.+",
        }[m.platform]
        assert re.fullmatch(pattern, m.external_id), m.external_id
        assert m.url and m.url.startswith("https://")


def test_raw_payload_is_stamped(demo):
    for g in demo[:300]:
        meta = g.mention.raw["_meta"]
        assert meta["version"] == PAYLOAD_VERSION
        assert meta["retrieved_at"] == g.mention.fetched_at.isoformat()
        assert g.mention.raw["data"]


def test_labels_use_the_declared_vocabularies(demo):
    assert {g.sentiment for g in demo} == set(SENTIMENTS)
    assert {g.urgency for g in demo} == set(URGENCIES)


# --- proportions ----------------------------------------------------------------------------------


def test_language_mix(demo):
    languages = Counter(g.mention.language for g in demo)
    assert set(languages) == {"en", "es", "fr", "de", "pt", "ja"}
    assert 0.70 < languages["en"] / N < 0.92
    for lang in ("es", "fr", "de", "pt", "ja"):
        assert languages[lang] / N > 0.008, lang
    japanese = [g.mention.text for g in demo if g.mention.language == "ja"]
    assert all(re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", t) for t in japanese)


def test_spam_share_is_three_to_five_percent(demo):
    assert 0.03 <= _share(demo, lambda g: g.kind == "spam") <= 0.05


def test_platform_mix(demo):
    platforms = Counter(g.mention.platform for g in demo)
    assert set(platforms) == {"x", "mastodon", "bluesky", "reddit", "rss"}
    assert platforms["x"] == max(platforms.values())


def test_replyable_flags_and_reasons(demo):
    assert 0.55 < _share(demo, lambda g: g.mention.replyable) < 0.85
    for g in demo:
        m = g.mention
        if m.replyable:
            assert m.replyable_reason == REASON_REPLYABLE
            brand = DEFAULT_WORLD.brand(g.brand)
            assert brand.mention_tag(m.platform) in m.text
        elif m.platform == "rss":
            assert m.replyable_reason == REASON_NEWS
        elif m.is_brand_post:
            assert m.replyable_reason == REASON_BRAND_POST
        elif m.platform == "x":
            assert m.replyable_reason == REASON_SEARCH_ONLY
        else:
            assert m.replyable_reason == REASON_LISTEN_ONLY


def test_all_brands_and_the_competitor_are_present(demo):
    brands = Counter(g.brand for g in demo)
    assert set(brands) == {SKYLINE_AIR.name, NIMBUS_MOBILE.name, PARCELO_EATS.name, HORIZON_AIRWAYS.name}
    rivals = [g for g in demo if g.brand == HORIZON_AIRWAYS.name]
    assert rivals and not any(g.mention.replyable or g.outcome for g in rivals)


def test_critical_posts_and_news_exist(demo):
    critical_topics = {g.topic for g in demo if g.urgency == "critical"}
    assert {"food_poisoning", "safety", "fraud"} <= critical_topics
    assert _share(demo, lambda g: g.kind == "news") > 0.02


def test_restricting_brands_limits_the_output():
    only = list(generate_mentions(300, seed=5, start=START, end=END, brands=[PARCELO_EATS]))
    assert {g.brand for g in only} == {PARCELO_EATS.name}


# --- threads, authors, spikes ---------------------------------------------------------------------


def test_threads_point_to_earlier_posts(demo):
    seen: dict[tuple[str, str], GeneratedMention] = {}
    replies_in_threads = 0
    self_follow_ups = 0
    for g in demo:
        m = g.mention
        if m.in_reply_to_id is not None:
            parent = seen[(m.platform, m.in_reply_to_id)]
            assert parent.mention.created_at <= m.created_at
            assert m.conversation_id == parent.mention.conversation_id
            assert g.brand == parent.brand
            replies_in_threads += 1
            self_follow_ups += parent.mention.author == m.author
        seen[(m.platform, m.external_id)] = g
    assert replies_in_threads / N > 0.05
    assert self_follow_ups > 50
    depths = Counter(g.mention.conversation_id for g in demo if g.mention.in_reply_to_id)
    assert max(depths.values()) >= 3


def test_followers_are_heavy_tailed(demo):
    customers = [g.mention.author for g in demo if g.mention.platform != "rss"]
    followers = [a.followers for a in customers]
    assert statistics.median(followers) < 2000
    assert max(followers) > 100_000
    assert _share(demo, lambda g: g.mention.author.followers < 1000) > 0.6
    assert any(a.verified and a.followers > 100_000 for a in customers)


def test_regular_customers_come_back(demo):
    authors = Counter((g.mention.platform, g.mention.author.external_id) for g in demo if g.kind == "direct")
    assert authors.most_common(1)[0][1] >= 5


def _hourly(items: list[GeneratedMention], predicate=lambda g: True) -> Counter:
    return Counter(g.mention.created_at.replace(minute=0, second=0, microsecond=0) for g in items if predicate(g))


def test_spikes_show_as_jumps_in_hourly_volume(demo):
    spikes = default_spikes(START, END, [b.name for b in DEFAULT_WORLD.brands])
    assert {s.brand for s in spikes} == {NIMBUS_MOBILE.name, PARCELO_EATS.name, SKYLINE_AIR.name}
    for spike in spikes:
        per_hour = _hourly(demo, lambda g, s=spike: g.brand == s.brand)
        normal = statistics.median(per_hour.values())
        inside = [g for g in demo if spike.start <= g.mention.created_at < spike.end and g.brand == spike.brand]
        peak = max(count for hour, count in per_hour.items() if spike.start <= hour < spike.end)
        assert peak >= 4 * normal, spike
        negative_inside = sum(g.sentiment == "negative" for g in inside) / len(inside)
        negative_all = _share([g for g in demo if g.brand == spike.brand], lambda g: g.sentiment == "negative")
        assert negative_inside > negative_all + 0.1


def test_nights_are_quieter_than_evenings(demo):
    by_hour = Counter(g.mention.created_at.hour for g in demo)
    assert by_hour[19] + by_hour[20] > 3 * (by_hour[3] + by_hour[4])


# --- outcomes -------------------------------------------------------------------------------------


def test_replies_have_realistic_response_times(demo):
    answered = [g for g in demo if g.outcome and g.outcome.replied]
    assert 0.3 < len(answered) / N < 0.8
    minutes = [(g.outcome.acted_at - g.mention.created_at).total_seconds() / 60 for g in answered]
    assert min(minutes) > 0
    assert 10 < statistics.median(minutes) < 75
    assert max(minutes) > 6 * 60
    assert max(minutes) <= 26 * 60 + 1

    def median_for(urgency: str) -> float:
        return statistics.median(m for g, m in zip(answered, minutes, strict=True) if g.urgency == urgency)

    assert median_for("critical") < median_for("normal")


def test_outcomes_are_consistent(demo):
    statuses = Counter(g.outcome.status for g in demo if g.outcome)
    assert {"resolved", "pending", "ignored", "spam"} <= set(statuses)
    assert any(g.outcome is None for g in demo)
    for g in demo:
        o = g.outcome
        if o is None:
            continue
        brand = DEFAULT_WORLD.brand(g.brand)
        assert o.agent in brand.agents
        assert g.mention.created_at < o.acted_at <= END
        if o.replied:
            assert g.mention.replyable
            assert o.reply_text.endswith(brand.signoff(o.agent))
            assert o.reply_external_id
        if o.resolved_at is not None:
            assert o.acted_at <= o.resolved_at <= END
            assert o.status == "resolved"
        if o.status == "spam":
            assert g.kind == "spam"


def test_recent_mentions_are_still_open(demo):
    last_hour = [g for g in demo if g.mention.created_at > END - timedelta(hours=1)]
    assert sum(g.outcome is None for g in last_hour) > len(last_hour) / 2


def test_signoff_styles_follow_each_brand():
    assert SKYLINE_AIR.signoff("Jamie Kowalski") == "^JK"
    assert NIMBUS_MOBILE.signoff("Becky Hart") == "-Becky"
    assert PARCELO_EATS.signoff("Paula Brandt") == "/PB"


def test_every_template_slot_is_known():
    known = set(SLOTS) | {"brand", "sig"}
    texts = list(texts_en.SPAM + texts_en.FOLLOW_WAITING + texts_en.FOLLOW_THANKS + texts_en.FOLLOW_SAME)
    texts += texts_en.SPIKE_OUTAGE + texts_en.SPIKE_VIRAL + texts_en.SPIKE_STORM + texts_en.SPIKE_OUTAGE_NEWS
    texts += texts_en.SPIKE_OUTAGE_PRESS
    for table in (texts_en.AIRLINE, texts_en.TELECOM, texts_en.FOOD, texts_en.GENERIC, texts_en.COMPETITOR):
        texts += [t for *_, templates in table for t in templates]
    for by_sector in texts_intl.INBOUND.values():
        texts += [t for topics in by_sector.values() for *_, templates in topics for t in templates]
    for table in replies.BY_TOPIC.values():
        texts += list(table)
    texts += replies.CRITICAL + replies.NEGATIVE + replies.NEUTRAL + replies.POSITIVE
    for table in (
        texts_intl.FOLLOW_WAITING,
        texts_intl.FOLLOW_THANKS,
        texts_intl.REPLY_NEGATIVE,
        texts_intl.REPLY_NEUTRAL,
        texts_intl.REPLY_POSITIVE,
    ):
        texts += [t for options in table.values() for t in options]
    texts += [texts_en.SPIKE_OUTAGE_BRAND_POST, texts_en.SPIKE_STORM_BRAND_POST]
    for text in texts:
        assert set(compile_template(text)[1::2]) <= known, text  # a compiled template alternates text and slots


@pytest.mark.parametrize(
    ("n", "start", "end"),
    [(-1, START, END), (10, END, START), (10, START, START)],
)
def test_bad_arguments_are_refused(n, start, end):
    with pytest.raises(ValueError):
        generate_mentions(n, start=start, end=end)


def test_needs_a_brand_that_is_not_a_competitor():
    with pytest.raises(ValueError, match="not a competitor"):
        list(generate_mentions(5, start=START, end=END, brands=[HORIZON_AIRWAYS]))


def test_naive_datetimes_are_taken_as_utc():
    naive = list(generate_mentions(50, seed=9, start=START.replace(tzinfo=None), end=END.replace(tzinfo=None)))
    aware = list(generate_mentions(50, seed=9, start=START, end=END))
    assert naive == aware


# --- the live connector ---------------------------------------------------------------------------


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def test_live_connector_meets_the_contract():
    assert isinstance(DemoConnector(), Connector)
    assert DemoConnector.platform == "demo"


def _live(connector: DemoConnector, clock: Clock, hours: float, *, every: timedelta = timedelta(seconds=15)):
    """Poll ``connector`` every ``every`` for ``hours`` simulated hours; yield ``(clock time, batch)``."""
    cursor = None
    stop = clock.at + timedelta(hours=hours)
    while clock.at < stop:
        batch = connector.fetch(cursor)
        yield clock.at, batch
        cursor = batch.next_cursor
        clock.at += every


def test_live_resume_never_repeats_ids_across_restarts():
    clock = Clock(END)
    cursor = None
    seen: set[tuple[str, str]] = set()
    connector = DemoConnector(clock=clock)
    before = clock.at
    for round_ in range(720):  # three hours, polled every 15 s
        if round_ % 100 == 0:
            connector = DemoConnector(clock=clock)  # a restart: only the stored cursor survives
        batch = connector.fetch(cursor)
        assert not batch.has_more and batch.reads == len(batch.mentions)
        for m in batch.mentions:
            key = (m.platform, m.external_id)
            assert key not in seen
            seen.add(key)
            assert before < m.created_at <= clock.at  # what arrived since the last fetch
        cursor, before = batch.next_cursor, clock.at
        clock.at += timedelta(seconds=15)
    assert len(seen) > 20
    bulk = {(g.mention.platform, g.mention.external_id) for g in generate_mentions(2000, seed=7, start=START, end=END)}
    assert not seen & bulk


def _cursor_after(hours: float, **kw) -> tuple[str, datetime]:
    clock = Clock(END)
    *_, (at, batch) = _live(DemoConnector(clock=clock, **kw), clock, hours)
    return batch.next_cursor, at


def test_live_feed_is_deterministic_given_the_cursor():
    cursor, at = _cursor_after(1)
    later = at + timedelta(minutes=40)
    one = DemoConnector(clock=Clock(later)).fetch(cursor)
    two = DemoConnector(clock=Clock(later)).fetch(cursor)
    key = [(m.external_id, m.text, m.created_at) for m in one.mentions]
    assert key and key == [(m.external_id, m.text, m.created_at) for m in two.mentions]
    assert one.next_cursor == two.next_cursor
    sooner = DemoConnector(clock=Clock(later - timedelta(minutes=20))).fetch(cursor)  # a replay before more arrived
    assert [(m.external_id, m.text, m.created_at) for m in sooner.mentions] == key[: len(sooner.mentions)]


def test_live_fetch_respects_limit_and_pages_the_rest():
    cursor, at = _cursor_after(0.1)
    clock = Clock(at + timedelta(minutes=50))  # the incident ran meanwhile: dozens of mentions are due
    connector = DemoConnector(clock=clock)
    first = connector.fetch(cursor, limit=5)
    assert len(first.mentions) == 5 and first.has_more
    seen = {m.external_id for m in first.mentions}
    batch = first
    while batch.has_more:
        batch = connector.fetch(batch.next_cursor, limit=5)
        assert not seen & {m.external_id for m in batch.mentions}
        seen |= {m.external_id for m in batch.mentions}
    assert len(seen) > 20


def test_live_catches_up_at_most_an_hour_after_a_stop():
    cursor, at = _cursor_after(1, incident=False)
    batch = DemoConnector(clock=Clock(at + timedelta(days=2)), incident=False).fetch(cursor, limit=1000)
    assert batch.mentions and min(m.created_at for m in batch.mentions) > at + timedelta(days=2, hours=-1)


@pytest.mark.parametrize("cursor", ["not json", '{"seq": "x"}', '{"seq": -1, "seed": 1, "anchor_ms": 0}', "[1]"])
def test_live_bad_cursor_is_a_fatal_error(cursor):
    with pytest.raises(FatalError, match="cursor"):
        DemoConnector().fetch(cursor)


def test_live_reads_a_version_1_cursor():
    anchor = int(END.timestamp() * 1000)
    old = json.dumps({"v": 1, "seq": 40, "seed": 7, "anchor_ms": anchor})
    batch = DemoConnector(clock=Clock(END + timedelta(minutes=3))).fetch(old)
    assert batch.mentions == [] and LiveCursor.decode(batch.next_cursor).at_ms == anchor + 180_000


def _per_utc_hour(items, days: float) -> list[float]:
    counts = Counter(at.hour for at in items)
    return [counts[h] / days for h in range(24)]


def test_live_rate_follows_the_seeded_history():
    """Each demo source continues its brand's seeded volume, hour by hour of the day, without the incidents."""
    start = END - timedelta(days=30)
    seeded = [g for g in generate_mentions(5000, seed=42, start=start, end=END) if not g.mention.is_brand_post]
    spikes = default_spikes(start, END, [b.name for b in DEFAULT_WORLD.brands])
    for brand, interval in ((SKYLINE_AIR, 15), (NIMBUS_MOBILE, 15), (PARCELO_EATS, 20)):
        history = [
            g.mention.created_at
            for g in seeded
            if g.brand == brand.name and not any(s.start <= g.mention.created_at < s.end for s in spikes)
        ]
        clock = Clock(END)
        connector = DemoConnector(seed=zlib.crc32(brand.name.encode()), brands=[brand], clock=clock, incident=False)
        live = [
            m.created_at
            for _, b in _live(connector, clock, 24 * 14, every=timedelta(seconds=interval * 8))
            for m in b.mentions
        ]
        seeded_rate, live_rate = len(history) / (30 * 24), len(live) / (14 * 24)
        assert 0.8 < live_rate / seeded_rate < 1.25, (brand.name, live_rate, seeded_rate)
        shape = statistics.correlation(_per_utc_hour(history, 30), _per_utc_hour(live, 14))
        assert shape > 0.85, (brand.name, shape)


def test_live_rate_does_not_depend_on_how_often_it_is_polled():
    counts = []
    for every in (timedelta(seconds=15), timedelta(minutes=10)):
        clock = Clock(END)
        connector = DemoConnector(seed=3, clock=clock, incident=False)
        counts.append(sum(len(b.mentions) for _, b in _live(connector, clock, 24 * 7, every=every)))
    assert 0.85 < counts[0] / counts[1] < 1.15


def _incident_run(seed: int, every: timedelta, hours: float = 2) -> list[tuple[datetime, Mention]]:
    clock = Clock(END)
    connector = DemoConnector(seed=seed, brands=[NIMBUS_MOBILE], clock=clock)
    return [(at, m) for at, b in _live(connector, clock, hours, every=every) for m in b.mentions]


def test_live_incident_starts_minutes_after_the_first_fetch_and_bursts_once():
    arrived = _incident_run(5, timedelta(seconds=15), hours=24)
    status = [m for _, m in arrived if m.is_brand_post]
    assert len(status) == 1 and status[0].created_at == END + INCIDENT_DELAY and "aware of an issue" in status[0].text
    begins, ends = END + INCIDENT_DELAY, END + INCIDENT_DELAY + INCIDENT_LENGTH
    inside = [m for _, m in arrived if begins <= m.created_at < ends and not m.is_brand_post]
    per_minute_after = sum(1 for _, m in arrived if m.created_at >= ends) / (24 * 60 - 31)
    assert len(inside) / 25 > 10 * per_minute_after  # a burst, many times the usual rate
    assert 30 <= len(inside) <= 90
    press = [m for m in inside if re.search(r"journalist|going viral", m.text)]
    assert len(press) == 2 and all(m.author.verified and m.replyable for m in press)
    assert all(matching_cues(m.text)[0][0].name == "press_viral" for m in press)
    threaded = [m for m in inside if m.conversation_id == status[0].external_id and m.in_reply_to_id]
    assert threaded  # customers pile onto the status post


def test_live_incident_is_deterministic_given_the_cursor():
    often = _incident_run(5, timedelta(seconds=15))
    seldom = _incident_run(5, timedelta(minutes=4))

    def scripted(run):
        return [(m.external_id, m.created_at, m.text) for _, m in run if m.is_brand_post or "journalist" in m.text]

    assert len(scripted(often)) == 2 and scripted(often) == scripted(seldom)
    for at, m in often:  # delivered once, in the fetch after it happened
        assert at - timedelta(seconds=15) < m.created_at <= at


def test_live_incident_only_for_its_brand():
    clock = Clock(END)
    connector = DemoConnector(seed=5, brands=[SKYLINE_AIR], clock=clock)
    arrived = [m for _, b in _live(connector, clock, 1) for m in b.mentions]
    assert len(arrived) < 15 and not any(m.is_brand_post for m in arrived)


def _replyable_mention():
    clock = Clock(END)
    for _, batch in _live(DemoConnector(clock=clock, seed=11), clock, 3, every=timedelta(minutes=5)):
        for m in batch.mentions:
            if m.replyable:
                return m
    raise AssertionError("no replyable live mention in three hours")


def test_reply_is_idempotent_and_remembered():
    connector = DemoConnector(clock=Clock(END))
    to = _replyable_mention()
    first = connector.reply(to, "Sorry about that! DM us. ^JK", idempotency_key="reply-1")
    retry = connector.reply(to, "Sorry about that! DM us. ^JK", idempotency_key="reply-1")
    other = connector.reply(to, "Anything else? ^JK", idempotency_key="reply-2")
    assert retry == first and other.external_id != first.external_id
    assert first.posted_at == END
    assert connector.find_reply(to, "Sorry about that! DM us. ^JK") == first
    assert connector.find_reply(to, "never sent") is None
    assert DemoConnector().find_reply(to, "Sorry about that! DM us. ^JK") is None
    fresh = DemoConnector(clock=Clock(END)).reply(to, "Sorry about that! DM us. ^JK", idempotency_key="reply-1")
    assert fresh.external_id == first.external_id


def test_reply_refuses_what_the_platform_would():
    connector = DemoConnector(clock=Clock(END))
    to = _replyable_mention()
    with pytest.raises(SkippableError, match="empty"):
        connector.reply(to, "   ", idempotency_key="k1")
    with pytest.raises(SkippableError, match="allows"):
        connector.reply(to, "x" * 20_000, idempotency_key="k2")
    news = next(g.mention for g in generate_mentions(400, seed=3, start=START, end=END) if not g.mention.replyable)
    with pytest.raises(SkippableError, match="cannot reply"):
        connector.reply(news, "hello", idempotency_key="k3")


def _demo_lease() -> SourceLease:
    return SourceLease(
        id=1,
        name="demo-nimbus",
        platform="demo",
        kind="demo",
        brand_id=None,
        config={"brand": "Nimbus Mobile"},
        cursor=None,
        interval_s=30,
        reads_used=0,
        reads_month=None,
        consecutive_failures=0,
    )


def test_the_live_feed_continues_the_seeded_history_at_its_rate(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A demo seeded with 2,000 mentions over 2 days gets a live feed at that rate, not the default's."""
    store = open_store(f"sqlite:///{tmp_path / 'demo.db'}", upgrade=True)
    try:
        assert ConnectorFactory(store=store)(_demo_lease())._history == (5_000, 30)  # no demo seed: the default
        seed_demo(store, load_config(), mentions=2_000, days=2, seed=3)
        with store.read() as session:
            assert seeded_history(session) == (2_000, 2)
        feed = ConnectorFactory(store=store)(_demo_lease())
        assert feed._history == (2_000, 2)
        clock = datetime(2026, 11, 4, 12, tzinfo=UTC)
        busy = DemoConnector(seed=1, history_mentions=2_000, history_days=2, clock=lambda: clock, incident=False)
        quiet = DemoConnector(seed=1, clock=lambda: clock, incident=False)
        anchor = int(clock.timestamp() * 1000)
        assert busy._rates_for(anchor).per_weight_ms > 2 * quiet._rates_for(anchor).per_weight_ms
    finally:
        store.dispose()
