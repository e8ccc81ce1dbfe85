"""Alerts: a spike in the store fires once per episode to a local HTTP sink and a local SMTP sink."""

from __future__ import annotations

import json
import shutil
import socketserver
import threading
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connectors.demo import DEFAULT_WORLD, DemoConnector
from connectors.demo.live import INCIDENT_BRAND, INCIDENT_DELAY, INCIDENT_LENGTH
from console.config import load_config
from console.services.alerts import AlertChannels, check_spikes, hourly_series, slack_escape
from console.services.demo_seed import seed_demo
from console.services.escalations import rubric_escalations
from console.services.store import Store, open_store
from storage.ingest import ingest_batch
from storage.models import Alert, Brand, Escalation, Mention, Source

SPIKE = datetime(2026, 11, 30, 14, tzinfo=UTC)  # a Monday afternoon


class WebhookSink:
    """A Slack-like receiver on 127.0.0.1 that records JSON bodies; ``fail`` makes it answer 500."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.fail = False
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if sink.fail:
                    self.send_response(500)
                    self.end_headers()
                    return
                sink.bodies.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/T000/B000"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class SmtpSink(socketserver.ThreadingTCPServer):
    """Just enough SMTP (RFC 5321) to accept messages and keep them."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        super().__init__(("127.0.0.1", 0), _SmtpHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


class _SmtpHandler(socketserver.StreamRequestHandler):
    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 sink ESMTP")
        while line := self.rfile.readline():
            verb = line.decode().strip().split(" ")[0].upper()
            if verb == "DATA":
                self.reply("354 go ahead")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                self.server.messages.append(data)
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


@pytest.fixture
def sinks() -> Iterator[tuple[WebhookSink, SmtpSink, AlertChannels]]:
    hook, smtp = WebhookSink(), SmtpSink()
    channels = AlertChannels(
        webhook_url=hook.url,
        smtp_host="127.0.0.1",
        smtp_port=smtp.server_address[1],
        email_from="alerts@example.com",
        email_to=("care-leads@example.com",),
        timeout_s=5,
    )
    yield hook, smtp, channels
    hook.server.shutdown()
    smtp.shutdown()
    smtp.server_close()


def _seed(store, spike_at: datetime, spike_size: int = 60) -> int:
    """Five quiet mentions an hour around this hour of the week for four weeks, then a spike."""
    with store.transaction() as s:
        brand = Brand(name="Skyline")
        s.add_all([brand, Brand(name="Horizon", is_competitor=True)])
        s.flush()
        n = 0
        for week in range(1, 5):
            for offset in (-1, 0, 1):
                hour = spike_at - timedelta(weeks=week) + timedelta(hours=offset)
                for i in range(5):
                    n += 1
                    s.add(_mention(brand.id, n, hour + timedelta(minutes=i * 10), "bags arrived fine, thanks"))
        for i in range(spike_size):
            n += 1
            text = "<!channel> app outage again, cannot check in" if i == 0 else f"app outage, cannot check in #{i}"
            s.add(_mention(brand.id, n, spike_at + timedelta(seconds=i * 30), text, "negative" if i < 3 else "neutral"))
        return brand.id


def _mention(brand_id: int, n: int, at: datetime, text: str, sentiment: str = "neutral") -> Mention:
    return Mention(
        platform="x",
        external_id=f"s{n}",
        brand_id=brand_id,
        text=text,
        created_at=at,
        fetched_at=at,
        sentiment=sentiment,
    )


def test_hourly_series_is_zero_filled_per_utc_hour(store):
    brand_id = _seed(store, SPIKE)
    with store.read() as s:
        series = hourly_series(s, brand_id, SPIKE - timedelta(hours=2), SPIKE + timedelta(hours=2))
    assert list(series.volume) == [0, 0, 60, 0]
    assert list(series.negative) == [0, 0, 3, 0]


def test_spike_fires_once_per_episode_to_webhook_and_email(store, sinks):
    hook, smtp, channels = sinks
    _seed(store, SPIKE)
    first = check_spikes(store, channels, now=SPIKE + timedelta(hours=1, minutes=5))
    assert [a.metric for a in first.opened] == ["volume"]
    assert len(hook.bodies) == 1 and len(smtp.messages) == 1

    body = hook.bodies[0]
    assert "Mention volume spike for Skyline" in body["text"]
    section = body["blocks"][0]["text"]["text"]
    assert "outage" in section and "&lt;!channel&gt;" in section and "<!channel>" not in section
    email = message_from_bytes(smtp.messages[0])
    assert email["To"] == "care-leads@example.com"
    assert "Top terms: " in email.get_payload(decode=True).decode()

    for minutes in (6, 30, 59):  # the worker checks again and again during the same hour
        again = check_spikes(store, channels, now=SPIKE + timedelta(hours=1, minutes=minutes))
        assert again.opened == [] and again.delivered == []
    assert len(hook.bodies) == 1 and len(smtp.messages) == 1

    closed = check_spikes(store, channels, now=SPIKE + timedelta(hours=4))
    assert [a.metric for a in closed.closed] == ["volume"]
    rescanned = check_spikes(store, channels, now=SPIKE + timedelta(hours=4), lookback_hours=8)
    assert rescanned.opened == []  # the spike hour belongs to the closed episode
    with store.read() as s:
        alerts = list(s.scalars(select(Alert)))
    assert len(alerts) == 1 and alerts[0].ended_at == SPIKE + timedelta(hours=1)
    assert alerts[0].notified_at is not None and "outage" in alerts[0].details["top_terms"]


def test_a_second_episode_fires_again(store, sinks):
    hook, smtp, channels = sinks
    brand_id = _seed(store, SPIKE)
    check_spikes(store, channels, now=SPIKE + timedelta(hours=1, minutes=1))
    check_spikes(store, channels, now=SPIKE + timedelta(hours=5))
    later = SPIKE + timedelta(days=1)
    with store.transaction() as s:
        for i in range(40):
            s.add(_mention(brand_id, 10_000 + i, later + timedelta(seconds=i * 60), "refund refused again"))
    second = check_spikes(store, channels, now=later + timedelta(hours=1, minutes=2))
    assert len(second.opened) == 1
    assert len(hook.bodies) == 2 and len(smtp.messages) == 2


def test_failed_delivery_is_retried_then_sent_once(store, sinks):
    hook, smtp, channels = sinks
    _seed(store, SPIKE)
    hook.fail = True
    first = check_spikes(store, channels, now=SPIKE + timedelta(hours=1, minutes=1))
    assert len(first.opened) == 1 and len(first.failed) == 1 and "500" in first.failed[0][1]
    hook.fail = False
    second = check_spikes(store, channels, now=SPIKE + timedelta(hours=1, minutes=2))
    assert second.opened == [] and len(second.delivered) == 1
    third = check_spikes(store, channels, now=SPIKE + timedelta(hours=1, minutes=3))
    assert third.delivered == []
    assert len(hook.bodies) == 1


def test_quiet_traffic_raises_nothing(store, sinks):
    hook, smtp, channels = sinks
    _seed(store, SPIKE, spike_size=5)
    run = check_spikes(store, channels, now=SPIKE + timedelta(hours=1, minutes=1))
    assert run.opened == [] and hook.bodies == [] and smtp.messages == []


def test_channels_from_env_and_escaping():
    channels = AlertChannels.from_env(
        {
            "MENTIONDESK_ALERT_WEBHOOK_URL": "http://127.0.0.1:9/x",
            "MENTIONDESK_ALERT_EMAIL_TO": "a@x, b@x",
            "MENTIONDESK_SMTP_HOST": "127.0.0.1",
            "MENTIONDESK_SMTP_PASSWORD": "hunter2",
        }
    )
    assert channels.any and channels.email_to == ("a@x", "b@x")
    assert "hunter2" not in repr(channels)
    assert not AlertChannels.from_env({}).any
    assert slack_escape("<@U1> & <http://evil|click>") == "&lt;@U1&gt; &amp; &lt;http://evil|click&gt;"


# --- the live demo against the seeded demo store ------------------------------------------------------

DEMO_SOURCES = (
    ("demo-skyline", "Skyline Air", 15),
    ("demo-nimbus", "Nimbus Mobile", 15),
    ("demo-parcelo", "Parcelo Eats", 20),
)
"""The built-in demo's live sources: name, brand, poll interval in seconds."""
LIVE_START = datetime(2026, 11, 24, 9, 52, tzinfo=UTC)  # a Tuesday morning, the seeded history ends here


@pytest.fixture(scope="module")
def seeded_demo(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo store as ``mentiondesk demo`` seeds it (5,000 mentions over 30 days), once for the module."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    shutil.copy(sqlite_template, path)
    store = open_store(f"sqlite:///{path}")
    seed_demo(store, load_config(), mentions=5_000, now=LIVE_START)
    store.dispose()
    return path


@pytest.fixture
def demo_store(seeded_demo: Path, tmp_path: Path) -> Iterator[Store]:
    path = tmp_path / "demo.db"
    shutil.copy(seeded_demo, path)
    store = open_store(f"sqlite:///{path}")
    yield store
    store.dispose()


class _Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def _run_live(store: Store, start: datetime, duration: timedelta, *, incident: bool) -> list[tuple[datetime, Alert]]:
    """The worker's loop with a simulated clock: every demo source polled, spikes checked every 5 minutes.

    Sources are polled once a minute (the feed's output depends on elapsed time, not on how often it is
    asked) and the worker's rubric escalations run on what arrived.  Returns each opened alert with when.
    """
    cfg = load_config()
    clock = _Clock(start)
    with store.read() as s:
        ids = {name: (sid, bid) for name, sid, bid in s.execute(select(Source.name, Source.id, Source.brand_id))}
        brands = {i: n for i, n in s.execute(select(Brand.id, Brand.name))}
    feeds = [
        (
            DemoConnector(
                seed=zlib.crc32(name.encode()), brands=[DEFAULT_WORLD.brand(brand)], clock=clock, incident=incident
            ),
            *ids[name],
        )
        for name, brand, _ in DEMO_SOURCES
    ]
    cursors: dict[int, str | None] = {}
    opened: list[tuple[datetime, Alert]] = []
    step = 0
    while clock.at < start + duration:
        clock.at += timedelta(minutes=1)
        step += 1
        for connector, source_id, brand_id in feeds:
            batch = connector.fetch(cursors.get(source_id))
            cursors[source_id] = batch.next_cursor
            if batch.mentions:
                with store.transaction() as s:
                    ingest_batch(s, batch.mentions, brand_id=brand_id, source_id=source_id)
                    new = s.scalars(select(Mention.id).where(Mention.created_at > clock.at - timedelta(minutes=2)))
                    rubric_escalations(s, list(new), cfg.escalation, now=clock.at)
        if step % 5 == 0:
            run = check_spikes(store, config=cfg.alerts.spikes, now=clock.at, timezone=cfg.team.timezone)
            opened += [(clock.at, a) for a in run.opened]
    assert {brands[a.brand_id] for _, a in opened} <= set(brands.values())
    return opened


def test_steady_live_demo_traffic_raises_no_spike_alert(demo_store):
    """48 hours of the live feed continue the seeded history's daily shape: the detector stays quiet."""
    opened = _run_live(demo_store, LIVE_START, timedelta(hours=48), incident=False)
    assert opened == []
    with demo_store.read() as s:
        live = s.scalar(select(func.count()).where(Mention.created_at >= LIVE_START, Mention.is_brand_post.is_(False)))
    assert 150 <= live <= 450  # ~6.5 mentions an hour across the three brands, as in the seeded history


@pytest.mark.parametrize("minute", [2, 35, 52])
def test_the_injected_incident_raises_one_volume_alert_while_it_runs(demo_store, minute):
    """Whatever minute of the hour the demo starts, the outage shows within 20 minutes, once, and goes to PR."""
    start = LIVE_START.replace(minute=0) + timedelta(minutes=minute)
    incident_at = start + timedelta(minutes=1) + INCIDENT_DELAY  # the first fetch anchors the feed
    opened = _run_live(demo_store, start, timedelta(hours=4), incident=True)
    assert [(a.metric, a.details["brand"]) for _, a in opened] == [("volume", INCIDENT_BRAND)]
    when, alert = opened[0]
    assert incident_at < when <= incident_at + timedelta(minutes=20) < incident_at + INCIDENT_LENGTH
    with demo_store.read() as s:
        queues = list(s.scalars(select(Escalation.queue).where(Escalation.created_at >= start)))
        burst = s.scalar(
            select(func.count()).where(
                Mention.brand_id == alert.brand_id,
                Mention.is_brand_post.is_(False),
                Mention.created_at >= incident_at,
                Mention.created_at < incident_at + INCIDENT_LENGTH,
            )
        )
    assert queues.count("pr_crisis") >= 2  # the reporters asking for comment
    assert 30 <= burst <= 90


def test_a_burst_shows_while_its_hour_is_still_running(store):
    _seed(store, SPIKE)  # 60 mentions from 14:00 to 14:30
    assert check_spikes(store, now=SPIKE + timedelta(minutes=8)).opened == []  # too early in the hour
    run = check_spikes(store, now=SPIKE + timedelta(minutes=35))
    assert [a.metric for a in run.opened] == ["volume"]
    alert = run.opened[0]
    assert alert.started_at == SPIKE and alert.details["count"] == 60
    assert alert.details["value"] == pytest.approx(60 / (35 / 60))  # pro-rated to mentions an hour
    assert check_spikes(store, now=SPIKE + timedelta(minutes=50)).opened == []
    assert check_spikes(store, now=SPIKE + timedelta(hours=1, minutes=5)).opened == []  # the hour completed: same one
