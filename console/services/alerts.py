"""Spike and crisis alerts: detect from hourly counts in SQL, record each episode once, deliver it.

The worker calls :func:`check_spikes` every few minutes.  It scores the last completed
hours of each brand, and the hour still running once enough of it has passed, with
:mod:`console.domain.spikes`, keeps episodes in the ``alerts``
table (open ones are fed back into an :class:`~console.domain.spikes.EpisodeTracker`,
so a restart does not announce a running spike again), and sends each new episode to a
Slack-compatible webhook and/or by email.  Delivery is retried on later runs until it
succeeds and is then marked ``notified_at``: one message per episode, not one per minute.
"""

from __future__ import annotations

import logging
import os
import smtplib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import requests
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from console.domain.spikes import (
    HOUR,
    Episode,
    EpisodeTracker,
    HourlySeries,
    HourScore,
    SpikeConfig,
    SpikeMetric,
    pick_examples,
    scan,
    top_terms,
)
from console.services.permissions import Actor, Permission, require
from console.services.sql_time import parse_hour, utc_hour
from console.services.store import Store
from storage.models import Alert, Brand, Mention

log = logging.getLogger(__name__)
SAMPLE_POSTS = 300
"""Posts read per side (spike hours, baseline hours) to find the top terms."""


class AlertChannels(BaseModel):
    """Where alerts go; URLs and passwords are secrets, so they come from the environment.

    ``MENTIONDESK_ALERT_WEBHOOK_URL`` (Slack-compatible incoming webhook),
    ``MENTIONDESK_SMTP_HOST``/``_PORT``/``_USER``/``_PASSWORD``/``_STARTTLS``,
    ``MENTIONDESK_ALERT_EMAIL_FROM`` and ``MENTIONDESK_ALERT_EMAIL_TO`` (comma-separated).
    """

    model_config = ConfigDict(frozen=True)

    webhook_url: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = Field(default=None, repr=False)
    smtp_starttls: bool = False
    email_from: str = "mentiondesk@localhost"
    email_to: tuple[str, ...] = ()
    console_url: str | None = None
    timeout_s: float = 10.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> AlertChannels:
        """Read the channels from the environment (or a given mapping)."""
        e = os.environ if env is None else env
        return cls(
            webhook_url=e.get("MENTIONDESK_ALERT_WEBHOOK_URL") or None,
            smtp_host=e.get("MENTIONDESK_SMTP_HOST") or None,
            smtp_port=int(e.get("MENTIONDESK_SMTP_PORT", "25")),
            smtp_user=e.get("MENTIONDESK_SMTP_USER") or None,
            smtp_password=e.get("MENTIONDESK_SMTP_PASSWORD") or None,
            smtp_starttls=e.get("MENTIONDESK_SMTP_STARTTLS", "").lower() in ("1", "true", "yes"),
            email_from=e.get("MENTIONDESK_ALERT_EMAIL_FROM", "mentiondesk@localhost"),
            email_to=tuple(a.strip() for a in e.get("MENTIONDESK_ALERT_EMAIL_TO", "").split(",") if a.strip()),
            console_url=e.get("MENTIONDESK_CONSOLE_URL") or None,
        )

    @property
    def any(self) -> bool:
        """Whether any channel is configured."""
        return bool(self.webhook_url or (self.smtp_host and self.email_to))


# --- detection -------------------------------------------------------------------------------------------


def hourly_series(
    session: Session, brand_id: int, start: datetime, end: datetime, *, last_fraction: float = 1.0
) -> HourlySeries:
    """Inbound volume and negatives per UTC hour in ``[start, end)`` for one brand, zero-filled.

    ``last_fraction`` below 1 marks the last hour as still running (its counts are those so far).
    """
    hour = utc_hour(session, Mention.created_at)
    negative = func.sum(case((Mention.sentiment == "negative", 1), else_=0))
    query = (
        select(hour, func.count(), negative)
        .where(Mention.brand_id == brand_id, Mention.is_brand_post.is_(False))
        .where(Mention.created_at >= start, Mention.created_at < end)
        .group_by(hour)
    )
    hours = int((end - start) // HOUR)
    volume, negatives = [0] * hours, [0] * hours
    for bucket, n, neg in session.execute(query):
        i = int((parse_hour(bucket) - start) // HOUR)
        if 0 <= i < hours:
            volume[i], negatives[i] = int(n), int(neg or 0)
    return HourlySeries(start, volume, negatives, last_fraction)


@dataclass
class SpikeRun:
    """What one check did."""

    opened: list[Alert] = field(default_factory=list)
    closed: list[Alert] = field(default_factory=list)
    delivered: list[Alert] = field(default_factory=list)
    failed: list[tuple[Alert, str]] = field(default_factory=list)


def check_spikes(
    store: Store,
    channels: AlertChannels | None = None,
    config: SpikeConfig | None = None,
    *,
    now: datetime | None = None,
    lookback_hours: int = 3,
    quiet_hours: int = 2,
    timezone: str = "UTC",
) -> SpikeRun:
    """Score the last completed hours and the running one of every own brand, record episodes, deliver new ones."""
    from zoneinfo import ZoneInfo

    config, channels = config or SpikeConfig(), channels or AlertChannels()
    at = (now or datetime.now(UTC)).astimezone(UTC)
    hour = at.replace(minute=0, second=0, microsecond=0)
    fraction = (at - hour) / HOUR  # of the running hour; scored once partial_min_minutes have passed
    end = hour + HOUR if fraction > 0 else hour
    start = hour - timedelta(weeks=config.baseline_weeks) - config.neighbour_hours * HOUR
    run = SpikeRun()
    with store.transaction() as session:
        brands = session.execute(select(Brand.id, Brand.name).where(Brand.is_competitor.is_(False))).all()
        for brand_id, name in brands:
            series = hourly_series(session, brand_id, start, end, last_fraction=fraction or 1.0)
            scores = scan(series, config, last_hours=lookback_hours + (end > hour), tz=ZoneInfo(timezone))
            _track(session, brand_id, name, scores, quiet_hours, run)
    run.delivered, run.failed = deliver_pending(store, channels)
    return run


def _track(session: Session, brand_id: int, name: str, scores: list[HourScore], quiet: int, run: SpikeRun) -> None:
    open_rows = {
        a.metric: a for a in session.scalars(select(Alert).where(Alert.brand_id == brand_id, Alert.ended_at.is_(None)))
    }
    tracker = EpisodeTracker(quiet, [_episode(a) for a in open_rows.values()])
    for score in scores:
        if score.metric.value not in open_rows and _already_covered(session, brand_id, score):
            continue
        update = tracker.update(str(brand_id), score)
        if update.episode is None:
            continue
        row = open_rows.get(score.metric.value)
        if update.action == "opened":
            row = _open_alert(session, brand_id, name, update.episode, score)
            open_rows[score.metric.value] = row
            run.opened.append(row)
        elif row is not None:
            _refresh(row, update.episode)
            if update.action == "closed":
                row.ended_at = update.episode.end
                del open_rows[score.metric.value]
                run.closed.append(row)


def _already_covered(session: Session, brand_id: int, score: HourScore) -> bool:
    """An episode already recorded for this hour (a re-scan after it closed must not reopen it)."""
    query = select(Alert.id).where(
        Alert.brand_id == brand_id,
        Alert.metric == score.metric.value,
        Alert.started_at <= score.hour,
        or_(Alert.ended_at.is_(None), Alert.ended_at > score.hour),
    )
    return session.scalar(query.limit(1)) is not None


def _episode(alert: Alert) -> Episode:
    d = alert.details
    return Episode(
        key=str(alert.brand_id),
        metric=SpikeMetric(alert.metric),
        start=alert.started_at,
        peak_at=datetime.fromisoformat(d["peak_at"]),
        peak_z=alert.peak_z,
        peak_value=float(d["peak_value"]),
        last_elevated=datetime.fromisoformat(d["last_elevated"]),
    )


def _refresh(alert: Alert, episode: Episode) -> None:
    alert.peak_z = episode.peak_z
    alert.details = {
        **alert.details,
        "peak_at": episode.peak_at.isoformat(),
        "peak_value": episode.peak_value,
        "last_elevated": episode.last_elevated.isoformat(),
    }


def _open_alert(session: Session, brand_id: int, name: str, episode: Episode, score: HourScore) -> Alert:
    spike_texts, baseline_texts = _sample_texts(session, brand_id, score)
    terms = top_terms(spike_texts, baseline_texts, k=8)
    alert = Alert(
        brand_id=brand_id,
        metric=episode.metric.value,
        started_at=episode.start,
        peak_z=episode.peak_z,
        details={
            "brand": name,
            "value": score.value,
            "baseline": score.baseline,
            "count": score.count,
            "top_terms": [t.term for t in terms],
            "examples": pick_examples(spike_texts, [t.term for t in terms], n=3),
        },
    )
    _refresh(alert, episode)
    session.add(alert)
    session.flush()
    return alert


def _sample_texts(session: Session, brand_id: int, score: HourScore) -> tuple[list[str], list[str]]:
    """Posts of the spike hour (negative ones for a negative-share spike) and of the week before."""

    def texts(start: datetime, end: datetime) -> list[str]:
        query = select(Mention.text).where(
            Mention.brand_id == brand_id,
            Mention.is_brand_post.is_(False),
            Mention.created_at >= start,
            Mention.created_at < end,
        )
        if score.metric is SpikeMetric.NEGATIVE_SHARE:
            query = query.where(Mention.sentiment == "negative")
        return list(session.scalars(query.order_by(Mention.created_at).limit(SAMPLE_POSTS)))

    return texts(score.hour, score.hour + HOUR), texts(score.hour - timedelta(days=7), score.hour - HOUR)


# --- delivery --------------------------------------------------------------------------------------------


def deliver_pending(store: Store, channels: AlertChannels) -> tuple[list[Alert], list[tuple[Alert, str]]]:
    """Send every recorded episode not yet notified; mark it only when every channel took it."""
    if not channels.any:
        return [], []
    delivered, failed = [], []
    with store.transaction() as session:
        pending = session.scalars(select(Alert).where(Alert.notified_at.is_(None)).order_by(Alert.started_at))
        for alert in list(pending):
            try:
                send(alert, channels)
            except (requests.RequestException, smtplib.SMTPException, OSError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
                log.warning("alert %s not delivered, will retry: %s", alert.id, reason)
                failed.append((alert, reason))
                continue
            alert.notified_at = datetime.now(UTC)
            delivered.append(alert)
    return delivered, failed


def send(alert: Alert, channels: AlertChannels) -> None:
    """Post to the webhook and send the email (whichever are configured); raises on failure."""
    if channels.webhook_url:
        response = requests.post(channels.webhook_url, json=slack_payload(alert, channels), timeout=channels.timeout_s)
        response.raise_for_status()
    if channels.smtp_host and channels.email_to:
        with smtplib.SMTP(channels.smtp_host, channels.smtp_port, timeout=channels.timeout_s) as smtp:
            if channels.smtp_starttls:
                smtp.starttls()
            if channels.smtp_user and channels.smtp_password:
                smtp.login(channels.smtp_user, channels.smtp_password)
            smtp.send_message(email_message(alert, channels))


def slack_escape(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` as Slack requires, so a post cannot ping ``<!channel>`` or draw a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def summary_line(alert: Alert) -> str:
    """One line: what spiked, for which brand, since when (or which mention was escalated, and why)."""
    d = alert.details
    if alert.metric == "escalation":
        when = alert.started_at.strftime("%Y-%m-%d %H:%M UTC")
        return (
            f"{d.get('brand', '?')} mention MD-{d.get('mention_id')} escalated to {d.get('queue_label')} "
            f"at {when}: {d.get('reason')}"
        )
    what = "Mention volume" if alert.metric == SpikeMetric.VOLUME else "Negative share"
    if alert.metric == SpikeMetric.VOLUME:
        figure = f"{d.get('value', 0):.0f} mentions/h vs {d.get('baseline', 0):.0f} usual"
    else:
        figure = f"{d.get('value', 0):.0%} negative vs {d.get('baseline', 0):.0%} usual"
    since = alert.started_at.strftime("%Y-%m-%d %H:%M UTC")
    return f"{what} spike for {d.get('brand', '?')}: {figure} (z={alert.peak_z:.1f}) since {since}"


def slack_payload(alert: Alert, channels: AlertChannels) -> dict[str, Any]:
    """Slack incoming-webhook JSON: ``text`` for any compatible receiver, ``blocks`` for Slack."""
    d = alert.details
    line = slack_escape(summary_line(alert))
    terms = ", ".join(slack_escape(t) for t in d.get("top_terms", [])) or "—"
    excerpts = d.get("examples") or ([d["excerpt"]] if d.get("excerpt") else [])
    examples = "\n".join(f"> {slack_escape(' '.join(e.split()))[:280]}" for e in excerpts)
    body = f"*{line}*" + (f"\nTop terms: {terms}" if "top_terms" in d else "")
    body += f"\n{examples}" if examples else ""
    if channels.console_url:
        body += f"\n<{channels.console_url}|Open mentiondesk>"
    return {"text": line, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": body}}]}


def email_message(alert: Alert, channels: AlertChannels) -> EmailMessage:
    """A plain-text email (mention text stays text: no HTML part to inject into)."""
    d = alert.details
    message = EmailMessage()
    message["Subject"] = "[mentiondesk] " + " ".join(summary_line(alert).split())[:180]
    message["From"] = channels.email_from
    message["To"] = ", ".join(channels.email_to)
    lines = [summary_line(alert), ""]
    if "top_terms" in d:
        lines += ["Top terms: " + (", ".join(d["top_terms"]) or "—"), ""]
    lines += ["Examples:" if "examples" in d else "Post:"]
    lines += [f"  - {' '.join(e.split())[:400]}" for e in d.get("examples") or [d.get("excerpt", "")]]
    if channels.console_url:
        lines += ["", f"Console: {channels.console_url}"]
    message.set_content("\n".join(lines))
    return message


def recent_alerts(session: Session, actor: Actor, since: datetime, brand_ids: Sequence[int] = ()) -> list[Alert]:
    """Spike alerts that started after ``since`` or are still open, newest first, for the dashboard."""
    require(actor, Permission.DASHBOARDS)
    query = select(Alert).where(or_(Alert.started_at >= since, Alert.ended_at.is_(None)), Alert.metric != "escalation")
    if brand_ids:
        query = query.where(and_(Alert.brand_id.in_(list(brand_ids))))
    return list(session.scalars(query.order_by(Alert.started_at.desc()).limit(50)))
