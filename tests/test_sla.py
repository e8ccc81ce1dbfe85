from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from pydantic import ValidationError

from console.services.business_hours import ALWAYS_OPEN, CalendarConfig
from console.services.sla import (
    DEFAULT_POLICY,
    EventKind,
    Measurement,
    MentionTimeline,
    Metric,
    SlaPolicy,
    SlaState,
    Targets,
    ThreadEvent,
    Urgency,
    due_at,
    evaluate,
    measure,
    measure_all,
)
from console.services.sla_reports import compare_periods, percentile, summarize, summarize_by

OFFICE = CalendarConfig(
    timezone="Europe/London",
    hours={d: "09:00-17:00" for d in ("mon", "tue", "wed", "thu", "fri")},
).to_calendar()
FRIDAY_1645 = datetime(2026, 3, 6, 16, 45, tzinfo=UTC)  # London is on GMT (= UTC) in early March
T0 = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


def at(minutes: float, base: datetime = T0) -> datetime:
    return base + timedelta(minutes=minutes)


def reply(t: datetime, agent: str = "alice") -> ThreadEvent:
    return ThreadEvent(EventKind.REPLY, t, agent)


def follow_up(t: datetime) -> ThreadEvent:
    return ThreadEvent(EventKind.FOLLOW_UP, t)


def resolved(t: datetime, agent: str = "alice") -> ThreadEvent:
    return ThreadEvent(EventKind.RESOLVED, t, agent)


def timeline(*events: ThreadEvent, created=T0, fetched=None, urgency=Urgency.NORMAL, **kw) -> MentionTimeline:
    return MentionTimeline("m1", created, fetched or created, urgency, tuple(events), **kw)


def by_metric(measurements: list[Measurement], metric: Metric) -> list[Measurement]:
    return [m for m in measurements if m.metric is metric]


def only(measurements: list[Measurement], metric: Metric) -> Measurement:
    (m,) = by_metric(measurements, metric)
    return m


# --- the Friday 16:45 -> Monday example ----------------------------------------------------------------


def test_friday_1645_is_due_monday_0945_and_a_monday_1000_reply_misses():
    monday_1000 = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
    assert due_at(FRIDAY_1645, Urgency.HIGH, OFFICE) == datetime(2026, 3, 9, 9, 45, tzinfo=UTC)
    mention = timeline(reply(monday_1000), created=FRIDAY_1645, urgency=Urgency.HIGH)
    first = only(measure(mention, OFFICE, now=monday_1000), Metric.FIRST_RESPONSE)
    assert first.met is False
    assert first.business_seconds == 75 * 60
    assert first.wall_seconds == (monday_1000 - FRIDAY_1645).total_seconds()
    assert evaluate(mention, OFFICE, now=monday_1000).state is SlaState.ACTIVE_WITH_MISSES
    closed = replace(mention, events=(*mention.events, resolved(monday_1000 + timedelta(hours=1))))
    assert evaluate(closed, OFFICE, now=monday_1000 + timedelta(hours=2)).state is SlaState.MISSED


def test_friday_1645_reply_monday_0930_is_a_hit_in_business_hours():
    monday_0930 = datetime(2026, 3, 9, 9, 30, tzinfo=UTC)
    mention = timeline(reply(monday_0930), resolved(monday_0930), created=FRIDAY_1645, urgency=Urgency.HIGH)
    assert only(measure(mention, OFFICE, now=monday_0930), Metric.FIRST_RESPONSE).met is True
    assert evaluate(mention, OFFICE, now=monday_0930).state is SlaState.HIT


def test_without_a_calendar_the_clock_runs_round_the_clock():
    assert due_at(FRIDAY_1645, Urgency.HIGH) == datetime(2026, 3, 6, 17, 45, tzinfo=UTC)
    monday = timeline(reply(datetime(2026, 3, 9, 9, 30, tzinfo=UTC)), created=FRIDAY_1645, urgency=Urgency.HIGH)
    first = only(measure(monday, now=T0), Metric.FIRST_RESPONSE)
    assert first.met is False
    assert first.business_seconds == first.wall_seconds
    same_evening = replace(monday, events=(reply(datetime(2026, 3, 6, 17, 30, tzinfo=UTC)),))
    assert only(measure(same_evening, now=T0), Metric.FIRST_RESPONSE).met is True


# --- definitions ----------------------------------------------------------------------------------------


def test_reply_before_fetch_is_measured_from_created_and_lag_is_apart():
    mention = timeline(reply(at(5)), fetched=at(30))
    measurements = measure(mention, now=at(60))
    assert only(measurements, Metric.FIRST_RESPONSE).wall_seconds == 300
    assert only(measurements, Metric.FIRST_RESPONSE).met is True
    lag = only(measurements, Metric.INGESTION_LAG)
    assert (lag.wall_seconds, lag.end, lag.due_at) == (1800, at(30), None)


def test_reply_stamped_before_created_counts_zero_not_negative():
    mention = timeline(reply(at(-0.5)), created=T0, fetched=at(-1))
    measurements = measure(mention, OFFICE, now=at(60))
    first = only(measurements, Metric.FIRST_RESPONSE)
    assert (first.wall_seconds, first.business_seconds) == (0, 0)
    assert only(measurements, Metric.INGESTION_LAG).wall_seconds == 0


def test_thread_with_several_follow_ups_gives_one_next_response_per_round():
    mention = timeline(
        follow_up(at(2)),  # before the first reply: covered by the first response
        reply(at(10), "alice"),
        follow_up(at(20)),
        follow_up(at(25)),  # does not restart the running round
        reply(at(40), "bob"),
        follow_up(at(60)),
        reply(at(65), "alice"),
        follow_up(at(90)),  # still waiting
    )
    measurements = measure(mention, now=at(100))
    first = only(measurements, Metric.FIRST_RESPONSE)
    assert (first.wall_seconds, first.agent) == (600, "alice")
    rounds = by_metric(measurements, Metric.NEXT_RESPONSE)
    assert [(m.start, m.wall_seconds, m.agent) for m in rounds] == [
        (at(20), 1200, "bob"),
        (at(60), 300, "alice"),
        (at(90), None, None),
    ]
    assert rounds[2].due_at == at(90 + 240)  # next response defaults to the first-response target
    assert rounds[2].met is None


def test_reopened_mention_counts_to_its_final_resolution():
    events = (reply(at(5)), resolved(at(60)), ThreadEvent(EventKind.REOPENED, at(120)), follow_up(at(121)))
    reopened = timeline(*events)
    assert only(measure(reopened, now=at(130)), Metric.RESOLUTION).end is None
    assert evaluate(reopened, now=at(130)).state is SlaState.ACTIVE
    final = replace(reopened, events=(*events, reply(at(150)), resolved(at(240), "bob")))
    resolution = only(measure(final, now=at(300)), Metric.RESOLUTION)
    assert (resolution.wall_seconds, resolution.agent) == (4 * 3600, "bob")
    assert evaluate(final, now=at(300)).state is SlaState.HIT


def test_follow_up_after_resolution_reopens_it():
    mention = timeline(reply(at(5)), resolved(at(10)), follow_up(at(30)))
    measurements = measure(mention, now=at(40))
    assert only(measurements, Metric.RESOLUTION).end is None
    assert by_metric(measurements, Metric.NEXT_RESPONSE)[0].start == at(30)
    assert evaluate(mention, now=at(40)).state is SlaState.ACTIVE
    again = replace(mention, events=(*mention.events, reply(at(45)), resolved(at(50))))
    assert only(measure(again, now=at(60)), Metric.RESOLUTION).wall_seconds == 50 * 60


def test_resolution_in_business_hours_skips_the_night():
    mention = timeline(reply(at(10)), resolved(datetime(2026, 3, 11, 10, tzinfo=UTC)))
    resolution = only(measure(mention, OFFICE, now=at(3000)), Metric.RESOLUTION)
    assert resolution.wall_seconds == 24 * 3600
    assert resolution.business_seconds == 8 * 3600


# --- states, due times, risk ------------------------------------------------------------------------------


def test_unanswered_past_due_is_active_with_misses():
    mention = timeline(urgency=Urgency.CRITICAL)
    status = evaluate(mention, now=at(20))
    assert status.state is SlaState.ACTIVE_WITH_MISSES
    assert status.next_due_at == at(240)  # the resolution target is still running


def test_due_time_is_recomputed_from_creation_when_urgency_changes():
    normal = timeline()
    assert evaluate(normal, now=at(5)).next_due_at == at(240)
    critical = replace(normal, urgency=Urgency.CRITICAL)
    status = evaluate(critical, now=at(5))
    assert status.next_due_at == at(15)
    assert status.seconds_left == 600


@pytest.mark.parametrize(("minutes", "at_risk"), [(5, False), (11, False), (12, True), (14.5, True)])
def test_at_risk_when_less_than_a_quarter_is_left(minutes, at_risk):
    status = evaluate(timeline(urgency=Urgency.CRITICAL), now=at(minutes))
    assert status.state is SlaState.ACTIVE
    assert status.at_risk is at_risk


def test_at_risk_counts_business_time_left():
    friday_1640 = FRIDAY_1645 - timedelta(minutes=5)
    status = evaluate(timeline(created=FRIDAY_1645, urgency=Urgency.HIGH), OFFICE, now=friday_1640 + timedelta(days=3))
    # Monday 16:40 UTC is long past 09:45: missed.  On Saturday the full 45 min are still left.
    assert status.state is SlaState.ACTIVE_WITH_MISSES
    saturday = evaluate(
        timeline(created=FRIDAY_1645, urgency=Urgency.HIGH),
        OFFICE,
        now=at(0, FRIDAY_1645) + timedelta(days=1),
    )
    assert saturday.seconds_left == 45 * 60
    assert saturday.at_risk is False


def test_resolving_stops_the_clocks_of_unanswered_follow_ups():
    in_time = timeline(reply(at(10)), follow_up(at(20)), resolved(at(30)))
    assert evaluate(in_time, now=at(10_000)).state is SlaState.HIT
    late = timeline(reply(at(10)), follow_up(at(20)), resolved(at(20 + 241)))
    assert evaluate(late, now=at(10_000)).state is SlaState.MISSED


def test_clock_can_start_at_fetch():
    policy = SlaPolicy(clock_starts="fetched")
    mention = timeline(reply(at(40)), fetched=at(30), urgency=Urgency.CRITICAL)
    assert only(measure(mention, policy=policy, now=at(60)), Metric.FIRST_RESPONSE).met is True
    assert only(measure(mention, now=at(60)), Metric.FIRST_RESPONSE).met is False
    assert only(measure(mention, policy=policy, now=at(60)), Metric.FIRST_RESPONSE).wall_seconds == 2400


def test_round_the_clock_targets_for_one_level():
    targets = dict(DEFAULT_POLICY.targets)
    targets[Urgency.CRITICAL] = Targets(first_response="15m", resolution="4h", business_hours=False)
    policy = SlaPolicy(targets=targets)
    assert due_at(FRIDAY_1645, Urgency.CRITICAL, OFFICE, policy) == FRIDAY_1645 + timedelta(minutes=15)
    assert due_at(FRIDAY_1645, Urgency.HIGH, OFFICE, policy) == datetime(2026, 3, 9, 9, 45, tzinfo=UTC)


def test_default_targets():
    fr = {u: DEFAULT_POLICY.targets[u].first_response for u in Urgency}
    res = {u: DEFAULT_POLICY.targets[u].resolution for u in Urgency}
    assert [v.total_seconds() / 60 for v in fr.values()] == [15, 60, 240, 1440]
    assert [v.total_seconds() / 3600 for v in res.values()] == [4, 8, 24, 72]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"targets": {"critical": {"first_response": "15m"}}},
            "missing targets for urgency high, normal, low",
        ),
        ({"at_risk_share": 1.5}, "between 0 and 1"),
        ({"clock_starts": "replied"}, "clock_starts"),
    ],
)
def test_bad_policy_says_what_is_wrong(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        SlaPolicy(**kwargs)


def test_targets_parse_short_durations_and_refuse_nonsense():
    assert Targets(first_response="90s", resolution="3d").resolution == timedelta(days=3)
    assert Targets(first_response=900).first_response == timedelta(minutes=15)
    with pytest.raises(ValidationError, match="positive duration"):
        Targets(first_response="0m")
    with pytest.raises(ValidationError, match="first_response"):
        Targets(first_response="soon")


# --- reports ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("q", [0, 10, 50, 90, 99, 100])
def test_percentile_matches_numpy_linear(q):
    values = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]
    assert percentile(values, q) == pytest.approx(np.percentile(values, q))


def test_percentile_refuses_empty():
    with pytest.raises(ValueError, match="empty"):
        percentile([], 50)


def sample_measurements() -> list[Measurement]:
    mentions = []
    for i, (minutes, agent, brand, urgency) in enumerate(
        [(5, "alice", "acme", Urgency.HIGH), (30, "alice", "acme", Urgency.NORMAL),
         (90, "bob", "acme", Urgency.HIGH), (10, "bob", "globex", Urgency.HIGH),
         (None, None, "globex", Urgency.HIGH)]
    ):  # fmt: skip
        created = at(i * 60 * 24)  # one a day
        events = (reply(at(minutes, created), agent),) if minutes else ()
        mentions.append(MentionTimeline(f"m{i}", created, created, urgency, events, brand, "x"))
    return measure_all(mentions, now=at(10_000))


def test_summary_median_p90_and_share_within_sla():
    first = by_metric(sample_measurements(), Metric.FIRST_RESPONSE)
    summary = summarize(first)
    assert (summary.count, summary.running) == (4, 1)
    assert summary.median_seconds == 20 * 60
    assert summary.p90_seconds == pytest.approx(np.percentile([300, 600, 1800, 5400], 90))
    # 90 min on a high mention missed; the unanswered high mention is overdue: 3 of 5 within SLA.
    assert (summary.judged, summary.within_sla) == (5, 0.6)


def test_summaries_by_agent_brand_urgency_and_day():
    ms = sample_measurements()
    by_agent = summarize_by(ms, "agent", metric=Metric.FIRST_RESPONSE)
    assert list(by_agent) == ["(unassigned)", "alice", "bob"]
    assert by_agent["alice"].median_seconds == 17.5 * 60
    assert by_agent["bob"].within_sla == 0.5
    by_brand = summarize_by(ms, "brand", metric=Metric.FIRST_RESPONSE)
    assert (by_brand["acme"].count, by_brand["globex"].count, by_brand["globex"].running) == (3, 1, 1)
    assert set(summarize_by(ms, "urgency", metric=Metric.FIRST_RESPONSE)) == {"high", "normal"}
    days = summarize_by(ms, "day", metric=Metric.FIRST_RESPONSE)
    assert list(days) == ["2026-03-10", "2026-03-11", "2026-03-12", "2026-03-13", "2026-03-14"]
    assert list(summarize_by(ms, "week", metric=Metric.FIRST_RESPONSE)) == ["2026-W11"]  # Tue to Sat
    assert set(summarize_by(ms, "metric")) == {"first_response", "resolution", "ingestion_lag"}


def test_day_and_week_follow_the_team_time_zone():
    late_sunday = datetime(2026, 3, 15, 23, 30, tzinfo=UTC)  # Monday 08:30 in Tokyo, a new ISO week
    ms = measure(timeline(reply(at(1, late_sunday)), created=late_sunday), now=at(60, late_sunday))
    tokyo = ZoneInfo("Asia/Tokyo")
    assert list(summarize_by(ms, "day", metric=Metric.FIRST_RESPONSE, tz=tokyo)) == ["2026-03-16"]
    assert list(summarize_by(ms, "week", metric=Metric.FIRST_RESPONSE)) == ["2026-W11"]
    assert list(summarize_by(ms, "week", metric=Metric.FIRST_RESPONSE, tz=tokyo)) == ["2026-W12"]


def test_business_seconds_summary_differs_from_wall_clock():
    friday = timeline(reply(datetime(2026, 3, 9, 10, tzinfo=UTC)), created=FRIDAY_1645, urgency=Urgency.HIGH)
    ms = by_metric(measure(friday, OFFICE, now=T0), Metric.FIRST_RESPONSE)
    assert summarize(ms, business=True).median_seconds == 75 * 60
    assert summarize(ms).median_seconds > 2 * 86400


def test_compare_with_previous_period():
    ms = sample_measurements()  # days 0..4 from 10 March
    comparison = compare_periods(ms, at(2 * 1440), at(4 * 1440), metric=Metric.FIRST_RESPONSE)
    # current: days 2 and 3 (90 min miss, 10 min hit); previous: days 0 and 1 (5 and 30 min, both hits)
    assert comparison.current.median_seconds == 50 * 60
    assert comparison.previous.median_seconds == 17.5 * 60
    assert comparison.median_delta == 32.5 * 60
    assert comparison.within_sla_delta == -0.5
    assert comparison.count_delta == 0


def test_compare_refuses_an_empty_period_and_reports_missing_deltas():
    with pytest.raises(ValueError, match="must be after"):
        compare_periods([], T0, T0)
    empty = compare_periods(sample_measurements(), at(-2 * 1440), at(-1440))
    assert empty.median_delta is None and empty.current.count == 0


def test_naive_times_are_refused_with_the_field_named():
    with pytest.raises(ValueError, match=r"mention m1: events\[0\].at must be timezone-aware"):
        timeline(reply(datetime(2026, 3, 10, 10, 5)))


def test_unknown_group_key():
    with pytest.raises(ValueError, match="unknown group key 'team'"):
        summarize_by([], "team")  # type: ignore[arg-type]


def test_calendar_per_brand():
    mention = timeline(reply(datetime(2026, 3, 9, 10, tzinfo=UTC)), created=FRIDAY_1645, brand="acme")
    other = replace(mention, brand="globex", mention_id="m2")
    ms = measure_all([mention, other], {"acme": OFFICE}, now=T0)
    first = {m.brand: m for m in by_metric(ms, Metric.FIRST_RESPONSE)}
    assert first["acme"].business_seconds == 75 * 60
    assert first["globex"].business_seconds == first["globex"].wall_seconds
    assert ALWAYS_OPEN.always_open
