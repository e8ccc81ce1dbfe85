"""The dashboard reads right: meaningful colours, words not field names, like-with-like changes, live SLA."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy import select
from streamlit.proto.Metric_pb2 import Metric as MetricProto
from streamlit.testing.v1 import AppTest

from console.services.dashboard import rollup
from console.services.dashboard.filters import AXIS_DAY, AXIS_HOUR
from console.services.dashboard.reads import DashboardFilters, alert_words, dashboard_bundle, headline_metrics
from console.services.permissions import Actor
from console.services.sla_clocks import stop_clocks
from console.ui.palette import (
    SENTIMENT_COLOURS,
    SENTIMENT_ORDER,
    SENTIMENT_SCALE,
    URGENCY_COLOURS,
    URGENCY_ORDER,
    URGENCY_SCALE,
    label,
)
from storage.enums import Role
from storage.models import Alert, Brand, Mention
from tests import dashboard_data as D

ANALYST = Actor(1, "alex", Role.ANALYST)
PAGE = Path(__file__).resolve().parents[1] / "console" / "app_pages" / "dashboard.py"

# --- colours ------------------------------------------------------------------------------------------------


def _luminance(hex_colour: str) -> float:
    """WCAG relative luminance: 0 for black, 1 for white."""
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _redness(hex_colour: str) -> int:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return r - max(g, b)


def test_urgency_colours_run_from_darkest_red_to_grey():
    assert URGENCY_ORDER[:4] == ("critical", "high", "normal", "low")
    shades = [_luminance(URGENCY_COLOURS[u]) for u in URGENCY_ORDER]
    assert shades == sorted(shades) and len(set(shades)) == len(shades)  # each lighter than the one more urgent
    assert _redness(URGENCY_COLOURS["critical"]) > 100 and _redness(URGENCY_COLOURS["high"]) > 100
    low = URGENCY_COLOURS["low"]
    assert abs(_redness(low)) < 10  # grey
    assert URGENCY_SCALE.to_dict() == {
        "domain": [label(u) for u in URGENCY_ORDER],
        "range": [URGENCY_COLOURS[u] for u in URGENCY_ORDER],
    }


def test_each_sentiment_has_its_own_fixed_colour():
    assert len({SENTIMENT_COLOURS[s] for s in SENTIMENT_ORDER}) == len(SENTIMENT_ORDER)
    negative, positive = SENTIMENT_COLOURS["negative"], SENTIMENT_COLOURS["positive"]
    assert _redness(negative) > 100
    assert int(positive[3:5], 16) > int(positive[1:3], 16)  # green
    assert SENTIMENT_SCALE.to_dict()["domain"][:3] == ["Negative", "Neutral", "Positive"]


# --- changes against the earlier period ------------------------------------------------------------------

WEEK_START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
MIDWEEK = WEEK_START + timedelta(days=3, hours=12)  # Thursday noon: the week is half done


def _mention(s: Any, name: str, at: datetime, brand: int, sentiment: str, urgency: str = "normal", **kw: Any) -> None:
    s.add(
        Mention(
            platform="x",
            external_id=name,
            brand_id=brand,
            text=f"{name} text",
            created_at=at,
            fetched_at=at,
            sentiment=sentiment,
            urgency=urgency,
            status="open",
            **kw,
        )
    )


def _weeks(store) -> int:
    """Mentions over three weeks: the store covers the earlier week whole, the current one up to ``MIDWEEK``."""
    with store.transaction() as s:
        brand = Brand(name="Skyline")
        s.add(brand)
        s.flush()
        _mention(s, "old", WEEK_START - timedelta(days=10), brand.id, "neutral")  # the store starts before
        for i, hours in enumerate((5, 30, 80)):  # earlier week, before its Thursday noon
            _mention(
                s,
                f"early{i}",
                WEEK_START - timedelta(days=7) + timedelta(hours=hours),
                brand.id,
                "negative",
                first_response_due_at=WEEK_START - timedelta(days=7, hours=-hours - 1),
                first_response_at=WEEK_START - timedelta(days=7, hours=-hours - 2),
            )
        for i in range(4):  # earlier week, after its Thursday noon: not compared with a week half done
            _mention(
                s, f"late{i}", WEEK_START - timedelta(days=2) + timedelta(hours=i), brand.id, "positive", urgency="low"
            )
        for i, hours in enumerate((2, 20, 50, 70, 83)):
            _mention(
                s,
                f"now{i}",
                WEEK_START + timedelta(hours=hours),
                brand.id,
                "negative" if i < 4 else "positive",
                first_response_due_at=WEEK_START + timedelta(hours=hours + 1),
                first_response_at=WEEK_START + timedelta(hours=hours, minutes=30),
            )
        return brand.id


def test_a_week_half_done_is_compared_with_the_same_half_of_the_week_before(store):
    _weeks(store)
    filters = DashboardFilters(WEEK_START, WEEK_START + timedelta(days=7), now=MIDWEEK)
    assert (filters.previous_start, filters.previous_end) == (WEEK_START - timedelta(days=7), MIDWEEK - timedelta(7))
    with store.read() as session:
        bundle = dashboard_bundle(session, ANALYST, filters)
    assert bundle.comparison.comparable
    h = bundle.headline
    assert (h["current_mentions"], h["previous_mentions"]) == (5, 3)  # not 7: the late four are the other half
    assert (h["current_negative_share"], h["previous_negative_share"]) == (80.0, 100.0)
    assert (h["current_within_sla_pct"], h["previous_within_sla_pct"]) == (100.0, 0.0)
    urgency = bundle.urgency_mix.set_index("urgency")
    assert int(urgency.loc["normal", "previous"]) == 3 and "low" not in urgency.index  # the late ones are "low"
    figures = {f.label: f for f in headline_metrics(bundle)}
    assert figures["Mentions"].delta == "+2"
    assert figures["Negative share"].delta == "-20.0 pts"
    assert figures["Within SLA"].delta == "+100.0 pts"
    assert "the same span just before this range, up to the same point" in figures["Mentions"].help


def test_no_change_is_shown_against_a_period_the_store_only_partly_covers(store):
    _weeks(store)
    filters = DashboardFilters(WEEK_START - timedelta(days=7), WEEK_START + timedelta(days=7), now=MIDWEEK)
    with store.read() as session:
        bundle = dashboard_bundle(session, ANALYST, filters)
    assert not bundle.comparison.comparable  # the earlier fortnight starts 12 Oct, the store's data on 23 Oct
    figures = headline_metrics(bundle)
    assert [f.delta for f in figures] == [None] * len(figures)
    assert "No change shown: no full earlier period to compare" in figures[0].help
    assert bundle.headline["previous_within_sla_pct"] is None


def test_changes_are_coloured_by_what_they_mean(store):
    _weeks(store)
    with store.read() as session:
        bundle = dashboard_bundle(
            session, ANALYST, DashboardFilters(WEEK_START, WEEK_START + timedelta(days=7), now=MIDWEEK)
        )
    colours = {f.label: f.delta_color for f in headline_metrics(bundle)}
    assert colours == {
        "Mentions": "off",
        "Net sentiment": "normal",
        "Negative share": "inverse",
        "Within SLA": "normal",
        "Median first response": "inverse",
        "Open now": "off",
    }


def test_spike_banners_read_as_sentences_in_the_team_zone():
    london, started = ZoneInfo("Europe/London"), datetime(2026, 12, 4, 4, tzinfo=UTC)
    running = Alert(
        metric="volume",
        started_at=started,
        ended_at=None,
        details={"brand": "Nimbus Mobile", "value": 81.9, "baseline": 0.0, "count": 15},
    )
    assert alert_words(running, london) == (
        "Mention volume spike for Nimbus Mobile: 82 mentions an hour against fewer than 1 usually, "
        "since Fri 4 Dec 04:00 (ongoing)"
    )
    ended = Alert(
        metric="negative_share",
        started_at=started - timedelta(days=5),
        ended_at=started - timedelta(days=4),
        details={"brand": "Skyline Air", "value": 0.64, "baseline": 0.2},
    )
    assert alert_words(ended, london) == (
        "Negative share spike for Skyline Air: 64% negative against 20% usually, since Sun 29 Nov 04:00 "
        "(ended Mon 30 Nov 04:00)"
    )


# --- the SLA section reads the live desk's clocks ------------------------------------------------------------


def test_sla_counts_a_live_reply_on_a_day_the_rollups_already_hold(store):
    D.build(store)
    with store.transaction() as session:
        rollup.rebuild(session)
    filters = DashboardFilters(D.START, D.END, timezone=D.ZONE, now=D.NOW)
    with store.read() as session:
        before = dashboard_bundle(session, ANALYST, filters).sla
    created = datetime(2026, 11, 6, 15, tzinfo=UTC)
    with store.transaction() as session:  # a mention the live desk clocked, then a reply stopped its clock
        brand = session.scalar(select(Brand.id).where(Brand.name == "Skyline"))
        due = created + timedelta(hours=1)
        _mention(
            session,
            "live",
            created,
            brand,
            "negative",
            urgency="high",
            sla_started_at=created,
            first_response_due_at=due,
            sla_due_at=due,
        )
        session.flush()
        live = session.scalar(select(Mention.id).where(Mention.external_id == "live"))
        assert stop_clocks(session, live, created + timedelta(minutes=20)) == 1
    with store.read() as session:
        after = dashboard_bundle(session, ANALYST, filters)
    old, new = (frame[frame["dimension"] == "all"].iloc[0] for frame in (before, after.sla))
    assert (new["answered"], new["judged"]) == (old["answered"] + 1, old["judged"] + 1)
    assert new["within_sla_pct"] == pytest.approx(100 * 4 / 6, abs=0.1)  # 3 of 5 before, the live one on time
    assert after.headline["current_within_sla_pct"] == new["within_sla_pct"]


# --- the page: words, units and the palette in every chart ---------------------------------------------------

_SNAKE = re.compile(r"\b[a-z0-9]+_[a-z0-9_]+\b")
_BOOL = re.compile(r"^(true|false)$", re.IGNORECASE)
PEOPLES_NAMES = {"Handle", "Name"}
"""Columns of names as the networks spell them (``jen_eats_city``): data, not field names."""
LEGENDS = ("color", "size", "shape", "opacity")
NEEDS_TITLE = ("x", "y", "x2", "y2", "color", "size", "shape", "opacity", "theta", "row", "column", "facet")


def _assert_words(text: Any, where: str) -> None:
    assert isinstance(text, str), (where, text)
    assert not _SNAKE.search(text) and not _BOOL.match(text.strip()), f"{where}: {text!r} is not in words"


def _encodings(spec: dict) -> Iterator[dict]:
    if "encoding" in spec:
        yield spec["encoding"]
    for key in ("layer", "hconcat", "vconcat", "concat"):
        for part in spec.get(key, []):
            yield from _encodings(part)
    if isinstance(spec.get("spec"), dict):
        yield from _encodings(spec["spec"])


def _datasets(chart: Any) -> dict[str, pd.DataFrame]:
    return {d.name: pa.ipc.open_stream(io.BytesIO(d.data.data)).read_all().to_pandas() for d in chart.proto.datasets}


def _check_chart(chart: Any) -> tuple[list[dict], list[str]]:
    """Every title in the chart is in words; returns its colour encodings and the temporal formats it uses."""
    spec = json.loads(chart.proto.spec)
    data = next(iter(_datasets(chart).values()), pd.DataFrame())
    colours, formats = [], []
    for encoding in _encodings(spec):
        for channel, enc in encoding.items():
            if channel == "tooltip":
                for tip in enc if isinstance(enc, list) else [enc]:
                    _assert_words(tip.get("title"), f"tooltip on {tip.get('field')}")
                    formats += [tip["format"]] if tip.get("type") == "temporal" else []
                continue
            if channel not in NEEDS_TITLE or not isinstance(enc, dict) or "field" not in enc:
                continue
            guide = enc.get("legend", {}) if channel in LEGENDS else enc.get("axis", {})
            if guide is not None and enc.get("title", "") is not None and enc.get("title") != " ":
                _assert_words(enc.get("title"), f"{channel} title over {enc['field']}")
            if enc.get("type") == "temporal":
                formats.append((guide or {}).get("format"))
            if channel == "color":
                colours.append(enc)
                for value in data[enc["field"]].dropna().unique() if enc["field"] in data else []:
                    _assert_words(value, f"legend value of {enc['field']}")
    return colours, formats


def _check_page(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    charts = at.get("vega_lite_chart")
    assert len(charts) >= 10
    formats: set[str] = set()
    for chart in charts:
        colours, used = _check_chart(chart)
        formats |= set(used)
        for enc in colours:
            if enc["field"] == "urgency_label":
                assert enc["scale"] == URGENCY_SCALE.to_dict()
            if enc["field"] == "sentiment_label":
                assert enc["scale"] == SENTIMENT_SCALE.to_dict()
    assert formats and formats <= {AXIS_DAY, AXIS_HOUR}  # one date format for days, the same with the time
    for table in at.dataframe:
        frame = table.value
        for column in frame.columns:
            _assert_words(column, "table header")
        for column in frame.columns:
            assert frame[column].dtype != bool, f"table column {column!r} shows True/False"
            if column in PEOPLES_NAMES:
                continue
            for value in frame[column].dropna().unique():
                if isinstance(value, str):
                    _assert_words(value, f"table cell in {column!r}")
    for element in [*at.subheader, *at.caption, *at.metric, *at.markdown, *at.warning]:  # markdown: no stray docstring
        text = element.label if hasattr(element, "label") and element.type == "metric" else element.value
        _assert_words(text, element.type)


@pytest.fixture(scope="module")
def seeded_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Thirty days of demo history ending now, as ``mentiondesk demo`` seeds it."""
    from console.config import load_config
    from console.services.demo_seed import seed_demo
    from console.services.store import open_store

    url = f"sqlite:///{tmp_path_factory.mktemp('readable') / 'seeded.db'}"
    store = open_store(url, upgrade=True)
    seed_demo(store, load_config(), mentions=1_500)
    store.dispose()
    return url


@pytest.fixture
def page(seeded_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    from console.services.auth import authenticate
    from console.services.demo_seed import demo_password
    from console.services.store import open_store
    from console.ui.resources import get_config, get_store

    monkeypatch.setenv("MENTIONDESK_DATABASE_URL", seeded_url)
    monkeypatch.delenv("MENTIONDESK_CONFIG", raising=False)
    get_store.clear()
    get_config.clear()
    store = open_store(seeded_url)
    token = authenticate(store, "alex", demo_password("alex")).token  # an analyst: the dashboard is theirs too
    store.dispose()
    at = AppTest.from_file(str(PAGE), default_timeout=60)
    at.session_state["auth_token"] = token
    yield at
    get_store.clear()


def test_every_chart_title_axis_legend_tooltip_and_table_header_is_in_words(page):
    at = page.run()
    _check_page(at)
    today = at.date_input(key="d_range").value[1]
    at.date_input(key="d_range").set_value((today - timedelta(days=1), today)).run()  # charted by hour
    _check_page(at)
    for dimension in ("brand", "platform", "agent"):
        at.segmented_control(key="d_sla_dim").set_value(dimension).run()
        _check_page(at)


def test_a_week_shows_changes_coloured_by_meaning(page):
    at = page.run()
    at.button(key="d_last_7").click().run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m for m in at.metric}
    assert "Change against" in " ".join(c.value for c in at.caption)  # 30 days seeded: the week before is covered
    negative = metrics["Negative share"].proto
    assert negative.delta, "a comparable week shows the change"
    worse = not negative.delta.startswith("-")
    assert negative.color == (MetricProto.MetricColor.RED if worse else MetricProto.MetricColor.GREEN)
    assert metrics["Mentions"].proto.color == MetricProto.MetricColor.GRAY


def test_a_range_with_no_mentions_draws_every_section_empty_without_an_error(page):
    at = page.run()
    at.date_input(key="d_range").set_value((date(2020, 1, 1), date(2020, 1, 7))).run()  # before the demo
    assert not at.exception, [e.value for e in at.exception]
    assert {m.label: m.value for m in at.metric}["Mentions"] == "0"
