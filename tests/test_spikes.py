from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from pydantic import ValidationError

from console.domain.spikes import (
    Episode,
    EpisodeTracker,
    HourlySeries,
    HourScore,
    SpikeConfig,
    SpikeMetric,
    pick_examples,
    scan,
    score_hour,
    tokenize,
    top_terms,
)

START = datetime(2026, 1, 5, 0, tzinfo=UTC)  # a Monday
WEEK = 168
CONFIG = SpikeConfig()


def seasonal_traffic(seed: int, weeks: int = 5, base: float = 20.0, negative_rate: float = 0.12):
    """Diurnal and weekly pattern with Poisson volume and binomial negatives."""
    rng = np.random.default_rng(seed)
    hours = np.arange(weeks * WEEK)
    hour_of_day, weekday = hours % 24, (hours // 24) % 7
    diurnal = 1 + 0.8 * np.sin((hour_of_day - 9) / 24 * 2 * np.pi)  # peak mid-afternoon, trough at night
    weekly = np.where(weekday >= 5, 0.6, 1.0)
    volume = rng.poisson(base * diurnal * weekly)
    negative = rng.binomial(volume, negative_rate)
    return volume, negative


def series_of(volume, negative) -> HourlySeries:
    return HourlySeries(START, [int(v) for v in volume], [int(n) for n in negative])


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_quiet_on_a_normal_week_of_seasonal_traffic(seed):
    volume, negative = seasonal_traffic(seed)
    scores = scan(series_of(volume, negative), CONFIG, last_hours=WEEK)
    assert sum(s.metric is SpikeMetric.VOLUME for s in scores) == WEEK  # every hour has a verdict
    assert sum(s.metric is SpikeMetric.NEGATIVE_SHARE for s in scores) > WEEK - 10  # not empty night hours
    flagged = [(s.hour, s.metric, round(s.z, 1)) for s in scores if s.flagged]
    assert flagged == []


def injected_spike(seed: int = 7):
    volume, negative = seasonal_traffic(seed)
    at = 4 * WEEK + 24 + 14  # Tuesday 14:00 of the fifth week
    for offset, extra in enumerate([70, 110, 60]):
        volume[at + offset] += extra
        negative[at + offset] += int(extra * 0.8)
    return series_of(volume, negative), at


def test_flags_an_injected_spike_on_volume_and_negative_share():
    series, at = injected_spike()
    scores = score_hour(series, at + 1, CONFIG)
    by_metric = {s.metric: s for s in scores}
    assert by_metric[SpikeMetric.VOLUME].flagged
    assert by_metric[SpikeMetric.VOLUME].z > 10
    assert by_metric[SpikeMetric.NEGATIVE_SHARE].flagged
    assert by_metric[SpikeMetric.NEGATIVE_SHARE].baseline == pytest.approx(0.12, abs=0.05)
    before = {s.metric: s.flagged for s in score_hour(series, at - 1, CONFIG)}
    assert before == {SpikeMetric.VOLUME: False, SpikeMetric.NEGATIVE_SHARE: False}


def test_negative_share_spike_without_extra_volume():
    volume, negative = seasonal_traffic(11)
    at = 4 * WEEK + 2 * 24 + 15  # Wednesday 15:00, a busy hour
    negative[at] = int(volume[at] * 0.7)
    scores = {s.metric: s for s in score_hour(series_of(volume, negative), at, CONFIG)}
    assert not scores[SpikeMetric.VOLUME].flagged
    assert scores[SpikeMetric.NEGATIVE_SHARE].flagged


def test_an_episode_notifies_once_and_closes_after_quiet_hours():
    series, at = injected_spike()
    tracker = EpisodeTracker(quiet_hours=2)
    updates = []
    for index in range(at - 5, at + 10):
        for _minute in range(3):  # the worker re-checks the running hour several times
            updates += [tracker.update("acme", s) for s in score_hour(series, index, CONFIG)]
    volume = [u for u in updates if u.episode and u.episode.metric is SpikeMetric.VOLUME]
    notified = [u.episode for u in volume if u.action == "opened"]
    assert len(notified) == 1
    assert notified[0].start == series.hour_at(at)
    closed = [u.episode for u in volume if u.action == "closed"]
    assert len(closed) == 1
    assert closed[0].peak_at == series.hour_at(at + 1)
    assert closed[0].end == series.hour_at(at + 3)
    assert sum(u.action == "opened" for u in updates) == 2  # once for volume, once for negative share
    assert tracker.open_episodes == []


def score(hour: int, z: float, *, flagged: bool | None = None) -> HourScore:
    t = START + timedelta(hours=hour)
    is_flagged = z >= 4 if flagged is None else flagged
    return HourScore(t, SpikeMetric.VOLUME, 10 * z, 10, z, int(10 * z), is_flagged, z >= 2)


def test_tracker_hysteresis_keeps_a_dipping_spike_as_one_episode():
    tracker = EpisodeTracker(quiet_hours=2)
    actions = [tracker.update("acme", score(h, z)).action for h, z in enumerate([5, 3, 1, 4.5, 1, 1, 1, 6])]
    assert actions == [
        "opened",
        "continued",
        "continued",
        "continued",
        "continued",
        "closed",
        "quiet",
        "opened",
    ]


def test_tracker_keys_are_independent_and_survive_a_restart():
    tracker = EpisodeTracker()
    assert tracker.update("acme", score(0, 6)).action == "opened"
    assert tracker.update("globex", score(0, 6)).action == "opened"
    restarted = EpisodeTracker(open_episodes=tracker.open_episodes)
    again = restarted.update("acme", score(1, 7))
    assert (again.action, again.episode.peak_z) == ("continued", 7)


def test_tracker_refuses_zero_quiet_hours():
    with pytest.raises(ValueError, match="quiet_hours"):
        EpisodeTracker(quiet_hours=0)


def test_sparse_series_uses_the_noise_floor_and_minimum_volume():
    volume = [0] * (5 * WEEK)
    for i in range(0, 5 * WEEK, 7):
        volume[i] = 1
    negative = [0] * len(volume)
    last = len(volume) - 1
    volume[last] = 4
    assert not any(s.flagged for s in score_hour(series_of(volume, negative), last, CONFIG))
    volume[last], negative[last] = 15, 0
    scores = {s.metric: s for s in score_hour(series_of(volume, negative), last, CONFIG)}
    assert scores[SpikeMetric.VOLUME].flagged
    assert scores[SpikeMetric.VOLUME].baseline == 0


def test_no_verdict_without_enough_history():
    volume, negative = seasonal_traffic(5, weeks=1)
    assert scan(series_of(volume, negative), CONFIG, last_hours=24) == []


def test_baseline_follows_local_hours_across_dst():
    # Every day 50 mentions at 09:00 London time, nothing else; clocks go forward on 29 March 2026.
    london = ZoneInfo("Europe/London")
    start = datetime(2026, 3, 2, tzinfo=UTC)
    hours = [start + timedelta(hours=i) for i in range(5 * WEEK)]
    volume = [50 if h.astimezone(london).hour == 9 else 0 for h in hours]
    series = HourlySeries(start, volume, [0] * len(volume))
    config = SpikeConfig(neighbour_hours=0)
    after_change = series.index_of(datetime(2026, 3, 31, 8, tzinfo=UTC))  # 09:00 BST
    local = {s.metric: s for s in score_hour(series, after_change, config, tz=london)}
    assert local[SpikeMetric.VOLUME].z == 0
    naive = {s.metric: s for s in score_hour(series, after_change, config)}
    assert naive[SpikeMetric.VOLUME].flagged  # compared with 08:00 GMT, when nobody posts


def test_series_validation():
    with pytest.raises(ValueError, match="on the hour"):
        HourlySeries(START + timedelta(minutes=5), [1], [0])
    with pytest.raises(ValueError, match="volume has 2 hours but negative has 1"):
        HourlySeries(START, [1, 2], [0])
    with pytest.raises(ValueError, match=r"hour 1: need 0 <= negative \(3\) <= volume \(2\)"):
        HourlySeries(START, [1, 2], [0, 3])


def test_config_validation():
    with pytest.raises(ValidationError, match="z_threshold"):
        SpikeConfig(z_threshold=0)
    with pytest.raises(ValidationError, match="baseline_weeks"):
        SpikeConfig(baseline_weeks=0)


# --- top terms --------------------------------------------------------------------------------------------

NORMAL_POSTS = [
    "Loving the new espresso blend from @acme, great morning",
    "Anyone tried the acme oat latte? https://example.com/latte",
    "acme store on main street has friendly staff",
    "my acme order arrived quickly, thanks",
    "the app makes ordering coffee easy",
    "acme cold brew is the best in summer",
    "great service at the airport acme today",
    "@acme_help how do I change my delivery address?",
]


def spike_and_baseline(seed: int = 3):
    rng = np.random.default_rng(seed)
    baseline = [NORMAL_POSTS[i] for i in rng.integers(0, len(NORMAL_POSTS), 400)]
    outage = [
        "@acme app outage again, payment failed twice https://status.acme.example/incident",
        "is the acme app down? payment failed and my order vanished",
        "ACME app outage: can't pay, payment failed #acmedown",
        "payment failed at checkout, acme app outage is ridiculous @acme",
    ]
    spike = [outage[i] for i in rng.integers(0, len(outage), 60)]
    spike += [NORMAL_POSTS[i] for i in rng.integers(0, len(NORMAL_POSTS), 40)]
    return spike, baseline


def test_top_terms_pick_the_injected_words():
    spike, baseline = spike_and_baseline()
    terms = [t.term for t in top_terms(spike, baseline, k=5)]
    assert set(terms[:3]) == {"outage", "payment", "failed"}
    assert "acme" not in terms  # present everywhere: not distinctive
    assert all(not t.startswith(("http", "@")) for t in terms)


def test_top_terms_ignore_handles_urls_and_stop_words():
    spike = ["@bigaccount @acme the the the https://spam.example/x www.spam.example"] * 20
    assert top_terms(spike, NORMAL_POSTS) == []


def test_one_post_repeating_a_word_is_one_voice():
    spike = ["refund refund refund refund"] + ["the queue at acme was long"] * 5
    baseline = NORMAL_POSTS
    terms = {t.term: t.z for t in top_terms(spike, baseline, min_count=1)}
    once = {t.term: t.z for t in top_terms(["refund"] + spike[1:], baseline, min_count=1)}
    assert terms["refund"] == once["refund"]  # four times in one post weighs like once
    assert terms["queue"] > terms["refund"]


def test_top_terms_edge_cases():
    assert top_terms([], NORMAL_POSTS) == []
    only = top_terms(["outage outage"] * 3, [])
    assert [t.term for t in only] == ["outage"]


def test_tokenize_keeps_hashtags_and_drops_handles_and_urls():
    text = "RT @user@mastodon.social: #AcmeDown the app's down! see https://x.co/1 and www.acme.com 2026"
    assert tokenize(text) == {"#acmedown", "app's", "down", "see"}


def test_pick_examples_prefers_posts_with_more_top_terms():
    spike, _ = spike_and_baseline()
    examples = pick_examples(spike, ["outage", "payment", "failed"], n=2)
    assert len(examples) == 2
    assert all("outage" in e.lower() and "payment failed" in e.lower() for e in examples)
    assert pick_examples(["nothing relevant"], ["outage"]) == []


def test_episode_is_a_plain_record():
    hour = START
    episode = Episode("acme", SpikeMetric.VOLUME, hour, hour, 5.0, 50.0, hour)
    assert episode.end is None


# --- the hour still running ------------------------------------------------------------------------


def running_hour(volume, negative, at: int, minutes: int, seed: int = 0, extra: int = 0) -> HourlySeries:
    """The series up to hour ``at`` seen ``minutes`` into it: each of its mentions so far with chance minutes/60."""
    rng = np.random.default_rng(seed)
    fraction = minutes / 60
    so_far = int(rng.binomial(volume[at], fraction)) + extra
    negatives = min(int(rng.binomial(negative[at], fraction)) + extra, so_far)
    counts = [int(v) for v in volume[:at]] + [so_far]
    return HourlySeries(START, counts, [int(n) for n in negative[:at]] + [negatives], last_fraction=fraction)


@pytest.mark.parametrize("minutes", [10, 15, 30, 45])
def test_a_running_hour_at_the_usual_pace_is_quiet(minutes):
    volume, negative = seasonal_traffic(5)
    flagged = []
    for at in range(4 * WEEK, 5 * WEEK):
        series = running_hour(volume, negative, at, minutes, seed=at)
        flagged += [(at, s.metric, round(s.z, 1)) for s in score_hour(series, at, CONFIG) if s.flagged]
    assert flagged == []


def test_a_running_hour_is_not_scored_too_early():
    volume, negative = seasonal_traffic(5)
    at = 4 * WEEK + 24 + 14
    assert score_hour(running_hour(volume, negative, at, 9, extra=80), at, CONFIG) == []
    assert score_hour(running_hour(volume, negative, at, 10, extra=80), at, CONFIG)


def test_a_burst_in_the_running_hour_is_flagged_and_pro_rated():
    volume, negative = seasonal_traffic(5)
    at = 4 * WEEK + 24 + 14  # Tuesday 14:00, ~35 an hour
    series = running_hour(volume, negative, at, 15, extra=40)
    score = next(s for s in score_hour(series, at, CONFIG) if s.metric is SpikeMetric.VOLUME)
    assert score.flagged and score.fraction == 0.25
    assert score.value == score.count / 0.25  # mentions an hour, like a completed hour's
    assert score.hour == series.hour_at(at)


def test_a_running_hour_needs_the_stricter_threshold():
    volume, negative = seasonal_traffic(5)
    at = 4 * WEEK + 24 + 14
    seen = []
    for extra in range(0, 40):
        for s in score_hour(running_hour(volume, negative, at, 20, extra=extra), at, CONFIG):
            if s.metric is SpikeMetric.VOLUME:
                assert s.flagged == (s.z >= CONFIG.partial_z_threshold and s.count >= CONFIG.min_volume)
                seen.append((s.z, s.flagged))
    assert any(CONFIG.z_threshold <= z < CONFIG.partial_z_threshold and not f for z, f in seen)
    assert any(f for _, f in seen)


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5])
def test_last_fraction_must_be_part_of_an_hour(fraction):
    with pytest.raises(ValueError, match="last_fraction"):
        HourlySeries(START, [1], [0], last_fraction=fraction)


def test_a_quiet_start_of_an_hour_neither_flags_a_drop_nor_ends_a_spike():
    volume, negative = seasonal_traffic(5)
    at = 4 * WEEK + 24 + 14  # Tuesday 14:00, ~35 an hour
    empty = HourlySeries(
        START, [int(v) for v in volume[:at]] + [0], [int(n) for n in negative[:at]] + [0], last_fraction=0.25
    )
    scores = score_hour(empty, at, CONFIG)
    assert scores and not any(s.flagged for s in scores)
    tracker = EpisodeTracker(quiet_hours=2)
    assert tracker.update("acme", score(0, 6)).action == "opened"
    assert tracker.update("acme", score(1, 1)).action == "continued"
    quiet_start = replace(score(2, 0.5), fraction=0.25)  # two hours on, but only a quarter of the hour seen
    assert tracker.update("acme", quiet_start).action == "continued" and tracker.open_episodes
    closed = tracker.update("acme", score(2, 0.5))  # the same hour, completed and still quiet
    assert closed.action == "closed" and closed.episode.end == START + timedelta(hours=1)
