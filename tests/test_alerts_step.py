"""The worker's alert step: throttled, one worker at a time, channels from config and secrets."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from console.config import parse_config
from console.secrets import Secrets
from console.services.store import Store
from console.worker import alerts_step as module
from console.worker.alerts_step import ADVISORY_LOCK_KEY, alerts_step, channels_for


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _count_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    runs: list[int] = []
    real = module.check_spikes

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        runs.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "check_spikes", counting)
    return runs


def test_step_runs_at_most_every_check_interval(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = _count_runs(monkeypatch)
    cfg = parse_config({"alerts": {"check_every": "5m"}})
    clock = Clock()
    step = alerts_step(cfg, channels_for(cfg), clock=clock)
    step(store)
    clock.now = 120
    step(store)
    clock.now = 301
    step(store)
    assert len(runs) == 2


@pytest.mark.pg
def test_only_one_worker_scores_spikes_at_a_time(pg_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = _count_runs(monkeypatch)
    cfg = parse_config({})
    with pg_store.engine.connect() as other:
        other.execute(text("SELECT pg_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
        alerts_step(cfg, channels_for(cfg))(pg_store)
        assert runs == []
        other.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
    alerts_step(cfg, channels_for(cfg))(pg_store)
    assert runs == [1]


def test_channels_take_recipients_from_config_and_credentials_from_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MENTIONDESK_ALERT_WEBHOOK_URL", "MENTIONDESK_SMTP_PASSWORD", "MENTIONDESK_ALERT_EMAIL_TO"):
        monkeypatch.delenv(name, raising=False)
    cfg = parse_config({"alerts": {"email_to": ["care-leads@example.com"], "console_url": "https://desk.example"}})
    secrets = Secrets(env={}, file={"alerts": {"webhook_url": "http://127.0.0.1:9/hook", "smtp_password": "pw"}})
    channels = channels_for(cfg, secrets)
    assert channels.webhook_url == "http://127.0.0.1:9/hook"
    assert channels.email_to == ("care-leads@example.com",)
    assert channels.smtp_password == "pw" and "pw" not in repr(channels)


def test_bad_alert_settings_are_reported_with_their_path() -> None:
    from console.config import ConfigError

    with pytest.raises(ConfigError) as info:
        parse_config({"alerts": {"spikes": {"z_threshold": -1}}})
    assert info.value.problems[0].startswith("alerts.spikes.z_threshold:")
