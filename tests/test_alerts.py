"""Alerts: a spike in the store fires once per episode to a local HTTP sink and a local SMTP sink."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import select

from console.services.alerts import AlertChannels, check_spikes, hourly_series, slack_escape
from storage.models import Alert, Brand, Mention

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
        webhook_url=hook.url, smtp_host="127.0.0.1", smtp_port=smtp.server_address[1],
        email_from="alerts@example.com", email_to=("care-leads@example.com",), timeout_s=5,
    )  # fmt: skip
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
    return Mention(platform="x", external_id=f"s{n}", brand_id=brand_id, text=text, created_at=at, fetched_at=at,
                   sentiment=sentiment)  # fmt: skip


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
        {"MENTIONDESK_ALERT_WEBHOOK_URL": "http://127.0.0.1:9/x", "MENTIONDESK_ALERT_EMAIL_TO": "a@x, b@x",
         "MENTIONDESK_SMTP_HOST": "127.0.0.1", "MENTIONDESK_SMTP_PASSWORD": "hunter2"}
    )  # fmt: skip
    assert channels.any and channels.email_to == ("a@x", "b@x")
    assert "hunter2" not in repr(channels)
    assert not AlertChannels.from_env({}).any
    assert slack_escape("<@U1> & <http://evil|click>") == "&lt;@U1&gt; &amp; &lt;http://evil|click&gt;"
