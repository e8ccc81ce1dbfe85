"""Dashboard aggregates on a hand-built store, on real SQLite and real PostgreSQL."""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from console.services.dashboard import reads as dashboard
from console.services.dashboard.reads import DashboardFilters, dashboard_bundle, frames_of
from console.services.permissions import Actor
from storage.enums import Role
from storage.models import Mention
from tests import dashboard_data as D

ANALYST = Actor(1, "alex", Role.ANALYST)


@pytest.fixture
def data(store):
    brands = D.build(store)
    with store.read() as session:
        bundle = dashboard_bundle(session, ANALYST, DashboardFilters(D.START, D.END, timezone=D.ZONE, now=D.NOW))
    return bundle, brands, store


def _row(frame: pd.DataFrame, **match: object) -> dict:
    hit = frame
    for key, value in match.items():
        hit = hit[hit[key] == value]
    assert len(hit) == 1, f"{match} matched {len(hit)} rows"
    return hit.iloc[0].to_dict()


def test_headline_counts_inbound_mentions_only_and_compares_periods(data):
    bundle, _, _ = data
    assert bundle.headline == {
        "current_mentions": 6,
        "current_net_sentiment": -16.7,  # (2 positive - 3 negative) / 6
        "current_negative_share": 50.0,
        "current_within_sla_pct": 60.0,  # as the SLA table's overall row
        "current_median_first_response_s": 2700.0,
        "previous_mentions": 2,
        "previous_net_sentiment": 0.0,
        "previous_negative_share": 50.0,
        # the store starts 30 Oct, inside the earlier period (from 26 Oct): no SLA change to show
        "previous_within_sla_pct": None,
        "previous_median_first_response_s": None,
    }
    assert not bundle.comparison.comparable


def test_volume_is_bucketed_by_local_day_in_the_team_zone(data):
    bundle, _, _ = data
    nov2 = pd.Timestamp("2026-11-02", tz=D.ZONE)
    # m3 was posted 02:00 UTC on 3 Nov, which is still 2 Nov in New York
    assert _row(bundle.volume, period=nov2, sentiment="negative")["mentions"] == 2
    assert _row(bundle.volume, period=nov2, sentiment="positive")["mentions"] == 1
    assert int(bundle.volume["mentions"].sum()) == 6
    assert _row(bundle.net_sentiment, period=nov2)["net_sentiment"] == pytest.approx(-33.3)
    assert bundle.filters.granularity == "day"


def test_urgency_mix_and_topics_change_against_previous_period(data):
    bundle, _, _ = data
    normal = _row(bundle.urgency_mix, urgency="normal")
    assert (normal["mentions"], normal["previous"], normal["change_pct"]) == (3, 1, 200.0)
    assert list(bundle.urgency_mix["urgency"]) == ["critical", "high", "normal", "low"]
    delay = _row(bundle.top_topics, topic="delay")
    assert (delay["mentions"], delay["previous"]) == (3, 1)
    assert "stale" not in set(bundle.top_topics["topic"])  # only the current classification counts
    assert set(bundle.top_topics["topic"]) == {"delay", "refund", "outage", "billing"}


def test_share_of_voice_includes_configured_competitors_of_the_chosen_brand(data):
    bundle, brands, store = data
    assert _row(bundle.share_of_voice, brand="Skyline")["share"] == pytest.approx(66.7)
    with store.read() as session:
        chosen = dashboard_bundle(
            session,
            ANALYST,
            DashboardFilters(D.START, D.END, brand_ids=[brands["Skyline"]], timezone=D.ZONE, now=D.NOW),
        )
    sov = chosen.share_of_voice
    assert set(sov["brand"]) == {"Skyline", "Horizon"}
    assert _row(sov, brand="Skyline")["share"] == 80.0
    assert bool(_row(sov, brand="Horizon")["is_competitor"]) is True
    assert chosen.headline["current_mentions"] == 4  # the other figures keep to the chosen brand


def test_top_authors_are_ranked_by_reach(data):
    bundle, _, _ = data
    assert list(bundle.top_authors["handle"]) == ["famous", "frequent", "small"]
    assert _row(bundle.top_authors, handle="frequent")["mentions"] == 3
    assert _row(bundle.top_authors, handle="small")["negative"] == 2


def test_sla_medians_p90_and_compliance_overall_and_by_agent(data):
    bundle, _, _ = data
    overall = _row(bundle.sla, dimension="all")
    # answered after 600, 1800, 3600, 7200 s; judged: m1 hit, m2 late, m3 overdue, m4 hit, m6 hit
    assert overall["answered"] == 4
    assert overall["median_first_response_s"] == pytest.approx(float(np.percentile([600, 1800, 3600, 7200], 50)))
    assert overall["p90_first_response_s"] == pytest.approx(6120.0)
    assert (overall["judged"], overall["within_sla_pct"]) == (5, 60.0)
    alice = _row(bundle.sla, dimension="agent", group="alice")
    assert (alice["median_first_response_s"], alice["within_sla_pct"]) == (pytest.approx(3900.0), 50.0)
    unassigned = _row(bundle.sla, dimension="agent", group="(unassigned)")
    assert (unassigned["answered"], unassigned["judged"], unassigned["within_sla_pct"]) == (0, 1, 0.0)
    assert _row(bundle.sla, dimension="platform", group="mastodon")["within_sla_pct"] == 0.0
    assert _row(bundle.sla, dimension="urgency", group="normal")["median_first_response_s"] == pytest.approx(2100.0)


def test_time_summary_and_histogram(data):
    bundle, _, _ = data
    times = bundle.times.set_index("metric")
    assert times.loc["resolution", "median_s"] == pytest.approx(5400.0)
    assert times.loc["ingestion_lag", "median_s"] == pytest.approx(30.0)
    hist = bundle.response_histogram.groupby("bucket")["answered"].sum().to_dict()
    assert hist == {"< 15 min": 1, "15-60 min": 1, "1-4 h": 2}  # exactly 1 h falls in 1-4 h on both backends


def test_sla_trend_by_local_day(data):
    bundle, _, _ = data
    nov2 = _row(bundle.sla_trend, period=pd.Timestamp("2026-11-02", tz=D.ZONE))
    assert (nov2["hit"], nov2["judged"]) == (1, 3)


def test_backlog_by_age_and_agent_workload(data):
    bundle, _, _ = data
    ages = bundle.backlog.groupby("age")["open"].sum().to_dict()
    assert ages == {"1-3 d": 1, "3-7 d": 3}
    alice = _row(bundle.agents, agent="alice")
    assert (alice["handled"], alice["resolved"], alice["open_now"], alice["replies_sent"]) == (2, 1, 1, 2)
    assert alice["within_sla_pct"] == 50.0


def test_every_table_has_rows_and_no_mention_level_detail(data):
    bundle, _, _ = data
    for name, frame in frames_of(bundle).items():
        assert not frame.empty, name
        assert "text" not in frame.columns


def test_empty_range_gives_empty_tables_not_errors(store):
    D.build(store)
    start = datetime(2030, 1, 1, tzinfo=UTC)
    with store.read() as session:
        bundle = dashboard_bundle(session, ANALYST, DashboardFilters(start, start + timedelta(days=1), now=D.NOW))
    assert bundle.headline["current_mentions"] == 0
    assert bundle.headline["current_net_sentiment"] is None
    assert bundle.volume.empty and bundle.share_of_voice.empty and bundle.top_topics.empty
    assert bundle.filters.granularity == "hour"


BESIDE = (
    "headline",
    "volume",
    "net_sentiment",
    "urgency_mix",
    "share_of_voice",
    "top_topics",
    "top_authors",
    "sla_trend",
    "backlog",
)
"""The bundle's parts computed from the second connection's reads."""


def test_reads_beside_match_reads_in_order_and_on_postgres_see_the_bundles_snapshot(store, monkeypatch):
    D.build(store)
    filters = DashboardFilters(D.START, D.END, timezone=D.ZONE, now=D.NOW)
    with monkeypatch.context() as m:
        m.setattr(dashboard, "_second_session", lambda session: contextlib.nullcontext(None))
        with store.read() as session:
            in_order = dashboard_bundle(session, ANALYST, filters)
    postgres = store.engine.dialect.name == "postgresql"
    threads: list[str] = []
    real = dashboard._beside_reads

    def commit_first(*args):  # on PostgreSQL a mention lands after the bundle began, before the second reads
        threads.append(threading.current_thread().name)
        if postgres and len(threads) == 1:
            with store.transaction() as s:
                when = D.START + timedelta(hours=30)
                s.add(
                    Mention(
                        platform="x",
                        external_id="after-start",
                        text="t",
                        created_at=when,
                        fetched_at=when,
                        status="open",
                    )
                )
        return real(*args)

    monkeypatch.setattr(dashboard, "_beside_reads", commit_first)
    with store.read() as session:
        beside = dashboard_bundle(session, ANALYST, filters)
    assert threads == ["dashboard_0"]  # the reads ran on the second connection's thread
    for name in BESIDE:
        assert_equal = pd.testing.assert_frame_equal if name != "headline" else _dicts_equal
        assert_equal(getattr(beside, name), getattr(in_order, name))
    if postgres:
        with store.read() as session:  # the late mention is there for the next bundle
            after = dashboard_bundle(session, ANALYST, filters)
        assert after.headline["current_mentions"] == in_order.headline["current_mentions"] + 1


def _dicts_equal(a: dict, b: dict) -> None:
    assert a == b


def test_filters_reject_naive_or_backwards_ranges():
    with pytest.raises(ValueError, match="timezone-aware"):
        DashboardFilters(datetime(2026, 1, 2), datetime(2026, 1, 3))
    with pytest.raises(ValueError, match="must be after"):
        DashboardFilters(D.END, D.START)


# --- pages ------------------------------------------------------------------------------------------------

PAGES = Path(__file__).resolve().parents[1] / "console" / "app_pages"


@pytest.fixture(scope="module")
def seeded_url(tmp_path_factory):
    """A SQLite store filled by the demo seeder, as `mentiondesk generate` fills one."""
    from console.config import load_config
    from console.services.demo_seed import seed_demo
    from console.services.store import open_store

    url = f"sqlite:///{tmp_path_factory.mktemp('pages') / 'seeded.db'}"
    store = open_store(url, upgrade=True)
    seed_demo(store, load_config(), mentions=1_500)
    store.dispose()
    return url


@pytest.fixture
def app(seeded_url, monkeypatch):
    from console.services.auth import authenticate
    from console.services.demo_seed import demo_password
    from console.services.store import open_store
    from console.ui.resources import get_config, get_store

    monkeypatch.setenv("MENTIONDESK_DATABASE_URL", seeded_url)
    monkeypatch.delenv("MENTIONDESK_CONFIG", raising=False)
    get_store.clear()  # another test's page may have cached a store for another URL
    get_config.clear()
    store = open_store(seeded_url)
    token = authenticate(store, "maya", demo_password("maya")).token  # a manager: dashboards and export
    store.dispose()

    def signed_in(name: str) -> AppTest:
        at = AppTest.from_file(str(PAGES / name), default_timeout=60)
        at.session_state["auth_token"] = token
        return at

    yield signed_in
    get_store.clear()


def test_dashboard_page_renders_and_follows_the_date_range(app):
    at = app("dashboard.py").run()
    assert not at.exception, [e.value for e in at.exception]
    titles = [s.value for s in at.subheader]
    for expected in (
        "Volume by sentiment",
        "Net sentiment score",
        "Share of voice",
        "Top topics",
        "Most influential authors",
        "SLA compliance",
        "Backlog by age",
        "Agents",
    ):
        assert expected in titles
    assert [m.label for m in at.metric][:2] == ["Mentions", "Net sentiment"]
    month = int(at.metric[0].value.replace(",", ""))
    assert month > 0
    today = at.date_input(key="d_range").value[1]
    at.date_input(key="d_range").set_value((today - timedelta(days=1), today)).run()
    assert not at.exception, [e.value for e in at.exception]
    assert int(at.metric[0].value.replace(",", "")) < month
    csv_buttons = [b for b in at.get("download_button")]
    assert len(csv_buttons) >= 10  # every chart offers its data as CSV


def test_explore_page_renders_pages_and_exports(app):
    at = app("explore.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) == 50
    at.button(key="x_next").click().run()
    assert not at.exception
    assert "Page 2" in " ".join(c.value for c in at.caption)
    at.text_input(key="x_search").input("zzzz-nothing-matches").run()
    assert "No mentions match these filters." in [i.value for i in at.info]
    at.text_input(key="x_search").input("").run()
    at.button(key="x_prepare").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(b for b in at.get("download_button"))
