"""Spike and crisis detection: hourly volume and negative share against a seasonal baseline.

Each hour is compared with the same local hour of the week (and its neighbours) over the
previous weeks, using a robust z-score (median and MAD), so that Monday-morning traffic
is not a spike and one earlier spike does not poison the baseline.  Counts and shares
are first put on a variance-stabilised scale (Anscombe square root, arcsine), and the
spread has a floor from the counting noise itself: sparse brands otherwise have a MAD of
zero and every extra mention would look infinite.

The hour still running is scored too, once ``partial_min_minutes`` of it have passed: its count so far
against the baseline hours scaled to the same share of an hour, at the stricter ``partial_z_threshold``
and only once the count itself reaches ``min_volume``.  So a burst shows within minutes, not after its
hour ends, while a quiet start of an hour is not mistaken for one.

An :class:`EpisodeTracker` turns hourly verdicts into episodes, so an alert is sent once
when an episode opens, not every hour (or minute) it lasts.  :func:`top_terms` explains a
spike with the words that set its posts apart from the baseline posts.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

HOUR = timedelta(hours=1)
MAD_TO_SIGMA = 1.4826
"""Scales a MAD to a standard deviation for normal data."""


class SpikeMetric(StrEnum):
    """What is compared with the baseline."""

    VOLUME = "volume"
    NEGATIVE_SHARE = "negative_share"


class SpikeConfig(BaseModel):
    """Detector settings (``[alerts.spikes]`` in ``mentiondesk.toml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    z_threshold: float = Field(default=4.0, gt=0, le=100, description="z at which an episode opens")
    continue_z: float = Field(default=2.0, gt=0, le=100, description="z that keeps an open episode going")
    min_volume: int = Field(default=10, ge=1, le=10**7, description="mentions an hour needs before it can be a spike")
    min_negative: int = Field(default=5, ge=1, le=10**7, description="negative mentions for a negative-share spike")
    baseline_weeks: int = Field(default=4, ge=1, le=26)
    neighbour_hours: int = Field(default=1, ge=0, le=3, description="hours either side pooled into the baseline")
    min_baseline_points: int = Field(default=4, ge=2, le=1_000, description="fewer baseline hours give no verdict")
    share_sigma_floor: float = Field(default=0.02, gt=0, lt=1)
    partial_min_minutes: int = Field(
        default=10, ge=1, le=59, description="minutes of the running hour before it is scored"
    )
    partial_z_threshold: float = Field(
        default=5.0, gt=0, le=100, description="z at which the running hour opens an episode"
    )


@dataclass(frozen=True)
class HourlySeries:
    """Hourly counts for one brand; ``start`` is the UTC hour of the first bucket.

    ``last_fraction`` is how much of the last bucket has passed: 1.0 when it is a completed hour,
    less when it is the hour still running (its counts are those so far).
    """

    start: datetime
    volume: Sequence[int]
    negative: Sequence[int]
    last_fraction: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.last_fraction <= 1:
            raise ValueError(f"last_fraction must be in (0, 1], got {self.last_fraction}")
        if self.start.tzinfo is None or self.start.astimezone(UTC).minute or self.start.second:
            raise ValueError(f"start must be an aware datetime on the hour, got {self.start.isoformat()}")
        if len(self.volume) != len(self.negative):
            raise ValueError(f"volume has {len(self.volume)} hours but negative has {len(self.negative)}")
        for i, (total, neg) in enumerate(zip(self.volume, self.negative, strict=True)):
            if total < 0 or not 0 <= neg <= total:
                raise ValueError(f"hour {i}: need 0 <= negative ({neg}) <= volume ({total})")

    def hour_at(self, index: int) -> datetime:
        """The UTC start of bucket ``index``."""
        return self.start.astimezone(UTC) + index * HOUR

    def index_of(self, hour: datetime) -> int:
        """The bucket holding ``hour`` (may be out of range)."""
        return int((hour.astimezone(UTC) - self.start.astimezone(UTC)) // HOUR)

    def fraction_of(self, index: int) -> float:
        """How much of bucket ``index`` has passed (below 1 only for a running last hour)."""
        return self.last_fraction if index == len(self.volume) - 1 else 1.0


@dataclass(frozen=True)
class HourScore:
    """How unusual one hour is on one metric.

    ``value`` and ``baseline`` are in natural units (mentions an hour, or a share from 0 to 1;
    a running hour's volume is its count so far pro-rated to the hour); ``z`` is measured on
    the variance-stabilised scale.  ``elevated`` is the weaker level that keeps an open
    episode going; ``fraction`` is how much of the hour had passed (1.0 for a completed one).
    """

    hour: datetime
    metric: SpikeMetric
    value: float
    baseline: float
    z: float
    count: int
    flagged: bool
    elevated: bool
    fraction: float = 1.0


def robust_z(value: float, samples: Sequence[float], sigma_floor: float) -> float:
    """``(value - median) / max(1.4826 * MAD, sigma_floor)``."""
    center = statistics.median(samples)
    mad = statistics.median(abs(x - center) for x in samples)
    return (value - center) / max(MAD_TO_SIGMA * mad, sigma_floor)


def anscombe(count: float) -> float:
    """Poisson counts on a scale where their noise has unit variance whatever the level.

    Raw counts are skewed: a quiet hour jumping from 7 to 17 is far likelier than a
    normal-tailed 4-sigma event.  On this scale one threshold means the same rarity for
    a brand with 3 mentions an hour and for one with 3,000.
    """
    return 2.0 * math.sqrt(count + 0.375)


def arcsine(successes: float, trials: float) -> float:
    """A binomial share on a scale where its noise has variance ``1 / trials`` (Anscombe)."""
    return 2.0 * math.asin(math.sqrt((successes + 0.375) / (trials + 0.75)))


def baseline_weeks(series: HourlySeries, index: int, config: SpikeConfig, tz: tzinfo) -> list[list[int]]:
    """For each earlier week, the buckets at the same local hour of week and its neighbours.

    Weeks are stepped in local wall-clock time, so after a DST change 09:00 is still
    compared with 09:00 and not with 08:00.  Weeks before the series starts are left out.
    """
    local = series.hour_at(index).astimezone(tz)
    weeks = []
    for week in range(1, config.baseline_weeks + 1):
        centre = series.index_of((local - timedelta(weeks=week)).astimezone(UTC))
        span = range(centre - config.neighbour_hours, centre + config.neighbour_hours + 1)
        hours = [i for i in span if 0 <= i < index]
        if hours:
            weeks.append(hours)
    return weeks


def score_hour(series: HourlySeries, index: int, config: SpikeConfig, tz: tzinfo = UTC) -> list[HourScore]:
    """Score one hour on volume and on negative share; empty without enough history or too early in the hour."""
    fraction = series.fraction_of(index)
    if fraction < 1 and fraction * 60 < config.partial_min_minutes:
        return []
    weeks = baseline_weeks(series, index, config, tz)
    if sum(len(hours) for hours in weeks) < config.min_baseline_points:
        return []
    threshold = config.z_threshold if fraction >= 1 else max(config.partial_z_threshold, config.z_threshold)
    scores = [_volume_score(series, index, weeks, config, threshold)]
    share = _share_score(series, index, weeks, config, threshold)
    return scores + ([share] if share else [])


def _volume_score(
    series: HourlySeries, index: int, weeks: list[list[int]], config: SpikeConfig, threshold: float
) -> HourScore:
    """The count against the baseline hours' counts, both for the part of the hour that has passed."""
    fraction = series.fraction_of(index)
    counts = [series.volume[i] for hours in weeks for i in hours]
    value = series.volume[index]
    z = robust_z(anscombe(value), [anscombe(c * fraction) for c in counts], 1.0)  # 1.0: the Poisson noise itself
    flagged = value >= config.min_volume and z >= threshold
    return HourScore(
        series.hour_at(index),
        SpikeMetric.VOLUME,
        value / fraction,
        statistics.median(counts),
        z,
        value,
        flagged,
        z >= config.continue_z,
        fraction,
    )


def _share_score(
    series: HourlySeries, index: int, weeks: list[list[int]], config: SpikeConfig, threshold: float
) -> HourScore | None:
    """Negative share against the median of each earlier week's pooled share at this hour.

    Shares of single quiet hours are mostly 0 or 1, so each week's hours are pooled
    first.  The spread's floor is the binomial noise at this hour's volume, widened by
    ``share_sigma_floor`` for real hour-to-hour variation beyond it.
    """
    total, negative = series.volume[index], series.negative[index]
    pooled = [(sum(series.negative[i] for i in h), sum(series.volume[i] for i in h)) for h in weeks]
    pooled = [(neg, vol) for neg, vol in pooled if vol]
    if total == 0 or len(pooled) < 2:
        return None
    p = statistics.median(neg / vol for neg, vol in pooled)
    slope = 1.0 / math.sqrt(max(p * (1 - p), 0.01))  # d(arcsine)/d(share) at the baseline share
    floor = math.sqrt(1.0 / total + (config.share_sigma_floor * slope) ** 2)
    z = robust_z(arcsine(negative, total), [arcsine(neg, vol) for neg, vol in pooled], floor)
    flagged = total >= config.min_volume and negative >= config.min_negative and z >= threshold
    return HourScore(
        series.hour_at(index),
        SpikeMetric.NEGATIVE_SHARE,
        negative / total,
        p,
        z,
        negative,
        flagged,
        z >= config.continue_z,
        series.fraction_of(index),
    )


def scan(series: HourlySeries, config: SpikeConfig, *, last_hours: int = 1, tz: tzinfo = UTC) -> list[HourScore]:
    """Score the latest ``last_hours`` hours, oldest first, for feeding an :class:`EpisodeTracker`."""
    first = max(len(series.volume) - last_hours, 0)
    return [score for i in range(first, len(series.volume)) for score in score_hour(series, i, config, tz)]


@dataclass(frozen=True)
class Episode:
    """One spike, from the first flagged hour until it has been quiet for a while."""

    key: str
    metric: SpikeMetric
    start: datetime
    peak_at: datetime
    peak_z: float
    peak_value: float
    last_elevated: datetime
    end: datetime | None = None


@dataclass(frozen=True)
class TrackerUpdate:
    """What one hourly score did to the episode state; an alert goes out when an episode is ``opened``."""

    action: Literal["opened", "continued", "closed", "quiet"]
    episode: Episode | None


class EpisodeTracker:
    """Opens, continues and closes episodes per (key, metric) so each alerts once.

    An episode opens on a flagged hour, stays open while hours are at least
    ``continue_z`` (hysteresis against flapping around the threshold), and closes after
    ``quiet_hours`` hours below it.  Scores for an hour already seen (the worker checks
    every minute) update the peak but never re-notify.  A running hour can open or extend
    an episode but never closes one: a quiet first quarter of an hour is no evidence that
    the spike is over (its completed score decides).  Pass the open episodes back in
    after a restart so a running spike is not announced twice.
    """

    def __init__(self, quiet_hours: int = 2, open_episodes: Iterable[Episode] = ()) -> None:
        if quiet_hours < 1:
            raise ValueError("quiet_hours must be at least 1")
        self.quiet_hours = quiet_hours
        self._open = {(e.key, e.metric): e for e in open_episodes}

    @property
    def open_episodes(self) -> list[Episode]:
        """Episodes still running, to persist between worker runs."""
        return list(self._open.values())

    def update(self, key: str, score: HourScore) -> TrackerUpdate:
        """Feed one hourly score for ``key`` (e.g. a brand)."""
        episode = self._open.get((key, score.metric))
        if episode is None:
            if not score.flagged:
                return TrackerUpdate("quiet", None)
            episode = Episode(key, score.metric, score.hour, score.hour, score.z, score.value, score.hour)
            self._open[(key, score.metric)] = episode
            return TrackerUpdate("opened", episode)
        if score.elevated or score.flagged:
            episode = _with_score(episode, score)
            self._open[(key, score.metric)] = episode
            return TrackerUpdate("continued", episode)
        if score.fraction >= 1 and score.hour - episode.last_elevated >= self.quiet_hours * HOUR:
            del self._open[(key, score.metric)]
            return TrackerUpdate("closed", replace(episode, end=episode.last_elevated + HOUR))
        return TrackerUpdate("continued", episode)


def _with_score(episode: Episode, score: HourScore) -> Episode:
    last = max(episode.last_elevated, score.hour)
    if score.z > episode.peak_z:
        return replace(episode, peak_at=score.hour, peak_z=score.z, peak_value=score.value, last_elevated=last)
    return replace(episode, last_elevated=last)


# --- what drove it ---------------------------------------------------------------------------------------

_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_HANDLE = re.compile(r"(?<![\w#])@[\w.]+(?:@[\w.-]+)?")  # @user and Mastodon's @user@instance
_TOKEN = re.compile(r"#?[^\W\d_][\w'’-]*")
_STOP_WORDS_TEXT = """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me more most
    my myself no nor not now of off on once only or other our ours ourselves out over own same she should so
    some such than that the their theirs them themselves then there these they this those through to too
    under until up very was we were what when where which while who whom why will with would you your
    yours yourself yourselves im ive dont cant wont didnt doesnt isnt thats youre rt amp via get got just
    like one also still really"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())


def tokenize(text: str) -> set[str]:
    """Distinct lower-case words and #hashtags of a post, without URLs, @handles or stop words."""
    text = _HANDLE.sub(" ", _URL.sub(" ", text.lower()))
    words = (w.strip("'’-").replace("’", "'") for w in _TOKEN.findall(text))
    return {w for w in words if len(w) > 2 and w.replace("'", "") not in STOP_WORDS}


@dataclass(frozen=True)
class TermScore:
    """A term that sets spike posts apart, with its log-odds z-score."""

    term: str
    z: float


def top_terms(
    spike_texts: Iterable[str],
    baseline_texts: Iterable[str],
    k: int = 10,
    *,
    min_count: int = 2,
    prior_weight: float | None = None,
) -> list[TermScore]:
    """The ``k`` terms most over-represented in spike posts, by log-odds with a Dirichlet prior.

    This is Monroe, Colaresi & Quinn's "Fightin' Words" z-score with an informative prior
    from both corpora: unlike a raw ratio it does not crown a word seen once in the spike
    and never before.  The prior weighs as much as the data unless ``prior_weight`` says
    otherwise; a much weaker prior lets common words outrank rare, telling ones.  Each
    post counts a term once, so one post repeating a word (or a copy-paste flood of a
    single text) weighs like one voice per post.
    """
    spike = Counter(t for text in spike_texts for t in tokenize(text))
    base = Counter(t for text in baseline_texts for t in tokenize(text))
    n_s, n_b = sum(spike.values()), sum(base.values())
    if not n_s:
        return []
    total = n_s + n_b
    prior = float(total) if prior_weight is None else prior_weight
    scores = []
    for term, y in spike.items():
        if y < min_count:
            continue
        b = base.get(term, 0)
        a = prior * (y + b) / total
        delta = _log_odds(y, n_s, a, prior) - _log_odds(b, n_b, a, prior)
        z = delta / math.sqrt(1 / (y + a) + 1 / (b + a))
        if z > 0:
            scores.append(TermScore(term, z))
    scores.sort(key=lambda s: (-s.z, s.term))
    return scores[:k]


def _log_odds(count: int, n: int, alpha: float, alpha0: float) -> float:
    # The rest can be empty when a corpus holds a single term; a tiny floor keeps the log finite.
    return math.log((count + alpha) / max(n + alpha0 - count - alpha, 1e-9))


def pick_examples(texts: Sequence[str], terms: Sequence[str], n: int = 3) -> list[str]:
    """The ``n`` posts that contain the most of the top terms, in their original order on ties."""
    wanted = set(terms)
    ranked = sorted(range(len(texts)), key=lambda i: (-len(tokenize(texts[i]) & wanted), i))
    return [texts[i] for i in ranked[:n] if tokenize(texts[i]) & wanted]
