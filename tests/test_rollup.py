"""Dashboard rollups: the figures are the same with and without them, and stay right as mentions change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from sqlalchemy import delete, func, select, update

from console.services.dashboard import rollup
from console.services.dashboard.reads import DashboardFilters, dashboard_bundle, frames_of
from console.services.permissions import Actor
from console.services.store import Store
from storage.enums import Role
from storage.models import Mention, MentionRollupDaily, MentionRollupHourly, RollupState, TopicRollupDaily
from tests import dashboard_data as D

ANALYST = Actor(1, "alex", Role.ANALYST)
FILTERS = DashboardFilters(D.START, D.END, timezone=D.ZONE, now=D.NOW)


def later() -> datetime:
    """A moment just after the test data was written (taken when called: a long suite runs for minutes)."""
    return datetime.now(UTC) + timedelta(minutes=10)


def _last_days(days: int, zone: str) -> DashboardFilters:
    """The ``days`` local days up to and including D.NOW's, cut at local midnights as the dashboard page does."""
    today = D.NOW.astimezone(ZoneInfo(zone)).date()
    end = datetime(today.year, today.month, today.day, tzinfo=ZoneInfo(zone)) + timedelta(days=1)
    return DashboardFilters((end - timedelta(days=days)).astimezone(UTC), end.astimezone(UTC), timezone=zone, now=D.NOW)


def _frames(store: Store, filters: DashboardFilters = FILTERS, *, raw: bool = False) -> dict[str, object]:
    with store.read() as session:
        if raw:  # forget the rollups for this read only: the read session never commits
            session.execute(delete(RollupState))
        bundle = dashboard_bundle(session, ANALYST, filters)
    return {"headline": bundle.headline, **frames_of(bundle)}


def _assert_same(got: dict[str, object], want: dict[str, object]) -> None:
    assert got["headline"] == want["headline"]
    for name, frame in want.items():
        if isinstance(frame, pd.DataFrame):
            pd.testing.assert_frame_equal(got[name], frame, check_dtype=False, obj=name)


def _refresh(store: Store, now: datetime | None = None) -> int:
    with store.transaction() as session:
        return rollup.refresh(session, now=now or later())


def test_first_refresh_builds_every_day_and_the_figures_do_not_change(store):
    D.build(store)
    want = _frames(store)
    assert _refresh(store) >= 8  # 30 Oct .. 20 Nov, only days with mentions or replies
    with store.read() as session:
        the_plan = rollup.plan(session, D.NOW)
        assert the_plan.built and not the_plan.raw_days
        assert session.scalar(select(func.sum(MentionRollupDaily.mentions))) == len(D.ROWS)  # brand post left out
        assert session.scalar(select(func.sum(MentionRollupHourly.mentions))) == len(D.ROWS)
        assert session.scalar(select(func.count()).select_from(TopicRollupDaily)) > 0
    _assert_same(_frames(store), want)


def test_the_dashboard_reads_settled_days_from_the_rollup(store):
    D.build(store)
    _refresh(store)
    nov4 = datetime(2026, 11, 4, tzinfo=UTC)
    with store.transaction() as session:  # tamper with one settled day: the dashboard must show it
        session.execute(
            update(MentionRollupDaily)
            .where(MentionRollupDaily.day == nov4)
            .values(mentions=MentionRollupDaily.mentions + 5)
        )
    assert _frames(store)["headline"]["current_mentions"] == 6 + 5
    assert _frames(store, raw=True)["headline"]["current_mentions"] == 6


def test_changed_mentions_are_read_raw_until_the_next_refresh(store):
    D.build(store)
    _refresh(store)
    changed_at = later() + timedelta(minutes=1)
    with store.transaction() as session:
        session.execute(
            update(Mention)
            .where(Mention.external_id == "m4")
            .values(sentiment="negative", status="open", resolved_at=None, updated_at=changed_at)
        )
    fresh = _frames(store)
    _assert_same(fresh, _frames(store, raw=True))
    assert fresh["headline"]["current_net_sentiment"] == pytest.approx(-33.3)  # (2 - 4) / 6
    with store.read() as session:
        assert rollup.plan(session, D.NOW).raw_days == {datetime(2026, 11, 4, tzinfo=UTC)}
    assert _refresh(store, changed_at + timedelta(minutes=10)) == 1
    with store.read() as session:
        assert not rollup.plan(session, D.NOW).raw_days
        nov4 = datetime(2026, 11, 4, tzinfo=UTC)
        negative = select(func.sum(MentionRollupDaily.mentions)).where(
            MentionRollupDaily.day == nov4, MentionRollupDaily.sentiment == "negative"
        )
        assert session.scalar(negative) == 1
    _assert_same(_frames(store), fresh)


def test_a_target_still_running_at_now_keeps_its_day_raw(store):
    D.build(store)
    _refresh(store)
    early = datetime(2026, 11, 3, 2, 5, tzinfo=UTC)  # m3 (created 02:00, due 02:15) still has 10 minutes
    filters = DashboardFilters(D.START, D.END, timezone=D.ZONE, now=early)
    with store.read() as session:
        assert datetime(2026, 11, 3, tzinfo=UTC) in rollup.plan(session, early).raw_days
    _assert_same(_frames(store, filters), _frames(store, filters, raw=True))


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/New_York"])
def test_ranges_cut_anywhere_match_the_raw_figures(store, zone):
    D.build(store)
    _refresh(store)
    for days in (1, 2, 7, 30):
        filters = _last_days(days, zone)
        _assert_same(_frames(store, filters), _frames(store, filters, raw=True))


def test_rebuild_replaces_everything(store):
    D.build(store)
    _refresh(store)
    with store.transaction() as session:
        session.execute(update(MentionRollupDaily).values(mentions=99))
        rollup.rebuild(session, now=later())
    with store.read() as session:
        assert session.scalar(select(func.sum(MentionRollupDaily.mentions))) == len(D.ROWS)


def test_split_keeps_edges_and_changed_days_raw():
    nov4, nov6, nov9 = (datetime(2026, 11, d, tzinfo=UTC) for d in (4, 6, 9))
    the_plan = rollup.Plan(built=True, raw_days=frozenset({datetime(2026, 11, 3, tzinfo=UTC), nov6}))
    rolled, raw = rollup.split(D.START, D.END, "day", the_plan)
    assert rolled == [(nov4, nov6), (nov6 + timedelta(days=1), nov9)]
    assert raw == [(D.START, nov4), (nov6, nov6 + timedelta(days=1)), (nov9, D.END)]  # 2 Nov from 05:00, 3 Nov whole
    hours, _ = rollup.split(D.START, D.END, "hour", the_plan)
    assert hours[:2] == [(D.START, datetime(2026, 11, 3, tzinfo=UTC)), (nov4, nov6)]  # whole hours suffice
    assert rollup.split(D.START, D.END, "day", rollup.Plan(built=False)) == ([], [(D.START, D.END)])


def test_durations_pack_to_float64_bytes():
    packed = rollup.pack("600.0,1800.5,-3")
    assert packed is not None and len(packed) == 24
    assert rollup.unpack(packed).tolist() == [600.0, 1800.5, -3.0]
    assert rollup.unpack("1,2").tolist() == [1.0, 2.0]
    assert rollup.pack("") is None and len(rollup.unpack(None)) == 0


def test_worker_step_refreshes_at_most_once_per_interval(sqlite_store):
    D.build(sqlite_store)
    step = rollup.refresh_step(every=timedelta(hours=1))
    assert step(sqlite_store) > 0  # first pass builds everything
    assert step(sqlite_store) == 0  # throttled: nothing done within the hour
    with sqlite_store.read() as session:
        assert session.get(RollupState, rollup.STATE_NAME) is not None
