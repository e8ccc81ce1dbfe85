"""The worker's spike-alert step: throttled, and run by one worker at a time on PostgreSQL."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

from sqlalchemy import text

from console.config import AppConfig
from console.secrets import Secrets
from console.services.alerts import AlertChannels, check_spikes, summary_line
from console.services.store import Store

log = logging.getLogger(__name__)
ADVISORY_LOCK_KEY = 0x6D64_616C  # "mdal": only one worker scores spikes at a time

_SECRET_KEYS = {
    "MENTIONDESK_ALERT_WEBHOOK_URL": "webhook_url",
    "MENTIONDESK_SMTP_HOST": "smtp_host",
    "MENTIONDESK_SMTP_PORT": "smtp_port",
    "MENTIONDESK_SMTP_USER": "smtp_user",
    "MENTIONDESK_SMTP_PASSWORD": "smtp_password",
}


def channels_for(cfg: AppConfig, secrets: Secrets | None = None) -> AlertChannels:
    """Recipients from config; webhook and SMTP credentials from the environment or ``[alerts]`` in secrets.toml."""
    env = dict(os.environ)
    section = secrets.file.get("alerts", {}) if secrets is not None else {}
    for name, key in _SECRET_KEYS.items():
        if not env.get(name) and section.get(key):
            env[name] = str(section[key])
    if cfg.alerts.email_to and not env.get("MENTIONDESK_ALERT_EMAIL_TO"):
        env["MENTIONDESK_ALERT_EMAIL_TO"] = ",".join(cfg.alerts.email_to)
    if cfg.alerts.console_url and not env.get("MENTIONDESK_CONSOLE_URL"):
        env["MENTIONDESK_CONSOLE_URL"] = cfg.alerts.console_url
    return AlertChannels.from_env(env)


def _run_locked(store: Store, work: Callable[[], None]) -> bool:
    """Run ``work`` under a session-level advisory lock on PostgreSQL; SQLite has one writer anyway."""
    if store.engine.dialect.name != "postgresql":
        work()
        return True
    with store.engine.connect() as conn:
        if not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY}).scalar():
            return False
        try:
            work()
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
            conn.commit()
    return True


def alerts_step(
    cfg: AppConfig, channels: AlertChannels, *, clock: Callable[[], float] = time.monotonic
) -> Callable[[Store], None]:
    """A step that scores spikes at most every ``alerts.check_every`` and delivers each episode once."""
    every = cfg.alerts.check_every.total_seconds()
    last = [float("-inf")]

    def step(store: Store) -> None:
        if clock() - last[0] < every:
            return
        last[0] = clock()

        def work() -> None:
            run = check_spikes(store, channels, cfg.alerts.spikes, timezone=cfg.team.timezone)
            for alert in run.opened:
                log.warning("spike alert: %s", summary_line(alert))
            for alert, reason in run.failed:
                log.error("alert %s not delivered yet: %s", alert.id, reason)

        _run_locked(store, work)

    step.__name__ = "alerts_step"
    return step
