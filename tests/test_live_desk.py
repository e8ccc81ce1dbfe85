"""End to end on the real ``mentiondesk demo``: live mentions are timed, answered once, measured and escalated.

The demo runs with the built-in configuration but SLA targets of a few minutes (a copy of the config with
shorter ``[sla]`` targets: "high" in business hours, the rest 24/7), so clocks go at risk while the test
watches.  Every assertion reads the store the demo writes; the reply goes through the console in chromium.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from console.config import load_config
from console.domain.business_hours import ALWAYS_OPEN
from console.domain.sla import RoundKind
from console.services.dashboard.reads import DashboardFilters, dashboard_bundle
from console.services.permissions import Actor
from console.services.store import Store, open_store
from storage.enums import Role
from storage.models import Brand, Escalation, Mention, Reply
from tests.test_browser import ARGS, CHROMIUM, _free_port, _sign_in, _wait_for, _wait_for_cookie

ROOT = Path(__file__).resolve().parents[1]
SHORT_SLA = """[sla]
at_risk_after = 0.75
policies = [
  { urgency = "critical", first_response = "1m", business_hours = false },
  { urgency = "high", first_response = "90s", next_response = "60s" },
  { urgency = "normal", first_response = "2m", next_response = "90s", business_hours = false },
  { urgency = "low", first_response = "3m", business_hours = false },
]
"""
pytestmark = pytest.mark.slow


@dataclass
class LiveDemo:
    url: str
    store: Store
    started: datetime
    config: Path


def _short_config(tmp: Path) -> Path:
    text = (ROOT / "console" / "default_config.toml").read_text(encoding="utf-8")
    start, end = text.index("[sla]"), text.index("# Escalation queues")
    path = tmp / "mentiondesk.toml"
    path.write_text(text[:start] + SHORT_SLA + "\n" + text[end:], encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDemo]:
    tmp = tmp_path_factory.mktemp("live_desk")
    config, db, port = _short_config(tmp), tmp / "demo.db", _free_port()
    env = {**os.environ, "CI": "1", "HF_HUB_OFFLINE": "1", "MENTIONDESK_CONFIG": str(config)}
    log = open(tmp / "demo.log", "wb")  # noqa: SIM115 - closed below
    started = datetime.now(UTC)
    cmd = [
        sys.executable,
        "-m",
        "console.cli",
        "demo",
        "--port",
        str(port),
        "--database-url",
        f"sqlite:///{db}",
        "--mentions",
        "6000",
        "--days",
        "1",
    ]
    proc = subprocess.Popen(cmd, cwd=tmp, stdout=log, stderr=subprocess.STDOUT, env=env)  # noqa: S603
    store = open_store(f"sqlite:///{db}")
    try:
        _wait_for(port, proc)
        yield LiveDemo(f"http://127.0.0.1:{port}", store, started, config)
    finally:
        store.dispose()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _live_inbound(store: Store, since: datetime) -> list[Mention]:
    """Inbound replyable mentions fetched by the running worker (seeded history was fetched before ``since``)."""
    with store.read() as session:
        rows = list(
            session.scalars(
                select(Mention).where(
                    Mention.fetched_at >= since,
                    Mention.is_brand_post.is_(False),
                    Mention.replyable.is_(True),
                    Mention.urgency.is_not(None),
                )
            )
        )
        session.expunge_all()
        return rows


def _poll(check, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_every_live_replyable_mention_is_due_in_its_brands_calendar_and_policy(live: LiveDemo) -> None:
    mentions = _poll(lambda: [m for m in _live_inbound(live.store, live.started)] or None, 150, "live mentions")
    cfg = load_config(live.config)
    with live.store.read() as session:
        names = dict(session.execute(select(Brand.id, Brand.name)).tuples().all())
    for m in mentions:
        assert m.sla_due_at is not None, f"live mention {m.id} has no due time"
        brand = cfg.brand(names[m.brand_id])
        targets = cfg.sla.targets(m.urgency)
        assert targets is not None
        target = targets.target(RoundKind(m.sla_kind))
        calendar = brand.calendar.to_calendar() if brand.calendar and targets.business_hours else ALWAYS_OPEN
        assert m.sla_due_at == calendar.add_business_time(m.created_at, target), (m.id, brand.name, m.urgency)


def test_a_reply_from_the_browser_stops_the_clock_and_the_dashboard_counts_it(live: LiveDemo) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"no chromium at {CHROMIUM}")
    from playwright.sync_api import expect, sync_playwright

    def waiting() -> list[Mention]:
        return [
            m
            for m in _live_inbound(live.store, live.started)
            if m.sla_responded_at is None and m.assignee_id is None and m.status.value == "new"
        ]

    target = _poll(waiting, 150, "an unanswered live mention")[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
            _sign_in(page, live.url, "jamie")
            _wait_for_cookie(page)
            page.goto(f"{live.url}/conversation?mention={target.id}")
            expect(page.get_by_text("You are handling this mention")).to_be_visible(timeout=60_000)
            box = page.get_by_role("textbox", name="Reply", exact=True)
            box.fill(_reply_for(live.store, target))
            box.press("Control+Enter")
            page.wait_for_timeout(1500)
            confirm = page.get_by_text("I have read the warnings; send anyway")
            if confirm.count():
                confirm.click()
            page.get_by_role("button", name="Send reply").click()
            expect(page.get_by_text("✅ sent").first).to_be_visible(timeout=90_000)
        finally:
            browser.close()
    answered = _poll(
        lambda: [
            m for m in _live_inbound(live.store, live.started) if m.id == target.id and m.sla_responded_at is not None
        ],
        60,
        "the stopped clock",
    )[0]
    assert answered.first_response_at == answered.sla_responded_at
    with live.store.read() as session:
        sent = session.scalar(select(Reply.sent_at).where(Reply.mention_id == target.id, Reply.state == "sent"))
    assert sent == answered.first_response_at
    now = datetime.now(UTC)  # the dashboard reads days changed since the worker's last rollup pass raw
    with live.store.read() as session:
        day = DashboardFilters(now - timedelta(hours=2), now + timedelta(minutes=1), [target.brand_id], [])
        sla = dashboard_bundle(session, Actor(1, "maya", Role.MANAGER), day).sla
    overall = sla[sla["dimension"] == "all"].iloc[0]
    assert overall["answered"] >= 1 and overall["judged"] >= 1


def _reply_for(store: Store, m: Mention) -> str:
    """A reply that passes the brand's voice rules for jamie (Skyline ^JK, Nimbus -Jamie, Parcelo /JK)."""
    with store.read() as session:
        brand = session.scalar(select(Brand.name).where(Brand.id == m.brand_id))
    sign = {"Skyline Air": "^JK", "Nimbus Mobile": "-Jamie", "Parcelo Eats": "/JK"}.get(brand or "", "^JK")
    return f"Hi, we're sorry about this and we're looking into it now. {sign}"


def test_an_unanswered_mention_at_risk_is_escalated_to_the_supervisor_once(live: LiveDemo) -> None:
    def escalated() -> list[tuple[int, int]]:
        with live.store.read() as session:
            rows = session.execute(
                select(Escalation.mention_id, func.count())
                .join(Mention, Mention.id == Escalation.mention_id)
                .where(Escalation.trigger == "sla_at_risk", Mention.fetched_at >= live.started)
                .group_by(Escalation.mention_id)
            ).tuples()
            return list(rows)

    def desk_passes_since(moment: datetime) -> int:
        """Desk passes that escalated a mention after ``moment``: a pass stamps its escalations with its own time."""
        with live.store.read() as session:
            stamps = select(func.count(func.distinct(Escalation.created_at))).where(
                Escalation.trigger == "sla_at_risk", Escalation.created_at > moment
            )
            return session.scalar(stamps) or 0

    first = _poll(escalated, 240, "an at-risk escalation of a live mention")
    assert all(n == 1 for _, n in first)
    with live.store.read() as session:
        latest = session.scalar(select(func.max(Escalation.created_at)).where(Escalation.trigger == "sla_at_risk"))
    assert latest is not None
    _poll(lambda: desk_passes_since(latest) >= 2, 240, "two more desk passes, each escalating a newer live mention")
    again = dict(escalated())
    assert all(again[m] == 1 for m, _ in first)
    with live.store.read() as session:
        for mention_id, _ in first:
            m = session.get(Mention, mention_id)
            assert m is not None and m.sla_at_risk_at is not None
            assert m.escalation_queue in ("supervisor", None)  # answered or resolved since: the queue let go
            esc = session.scalar(
                select(Escalation).where(Escalation.mention_id == mention_id, Escalation.trigger == "sla_at_risk")
            )
            assert esc is not None and esc.queue == "supervisor" and esc.created_at >= m.sla_at_risk_at
            assert re.search(r"SLA (at risk|breached)", esc.reason)
