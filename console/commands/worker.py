"""``mentiondesk worker``: run sources, classify new mentions, send queued replies."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

import click
from sqlalchemy.exc import IntegrityError

from console.commands.db import url_option
from console.config import AppConfig, load_config
from console.log_redaction import install as install_log_redaction
from console.secrets import Secrets, configured_secret_values
from console.services.catalog import sync_config
from console.services.dashboard.rollup import refresh_step
from console.services.store import Store, open_store
from console.worker.alerts_step import alerts_step, channels_for
from console.worker.desk_step import desk_step
from console.worker.factory import ConnectorFactory
from console.worker.loop import run_forever, run_once, worker_id
from console.worker.outbox_step import outbox_step

log = logging.getLogger(__name__)
Step = Callable[[Store], object]


def sync_sources(store: Store, cfg: AppConfig) -> None:
    """Mirror the config's sources into the store; a worker starting beside another one retries once."""
    for attempt in range(2):
        try:
            with store.transaction() as session:
                sync_config(session, cfg)
            return
        except IntegrityError:
            if attempt:
                raise


def classifier_step(cfg: AppConfig) -> Step | None:
    """The classify step with the configured model, or ``None`` (said out loud) when it cannot load."""
    from console.worker.classify_step import classify_step

    try:
        from classifiers import load_classifier

        model = load_classifier(cfg.classifier.model)
    except Exception as exc:  # a missing model must not stop fetching or sending
        click.echo(f"mentiondesk: classification is OFF, the model did not load: {exc}", err=True)
        return None
    return classify_step(model, cfg.classifier.batch_size, cfg)


def build_steps(store: Store, cfg: AppConfig, factory: ConnectorFactory, *, classify: bool) -> list[Step]:
    """Outbox first (replies are waited on by people), then classification and SLA clocks, escalations, spikes.

    Dashboard rollups come last: they read what the other steps wrote.
    """
    steps: list[Step] = [outbox_step(factory)]
    step = classifier_step(cfg) if classify else None
    if step is not None:
        steps.append(step)
    steps.append(desk_step(cfg, channels_for(cfg, factory.context.secrets)))
    if cfg.alerts.enabled:
        steps.append(alerts_step(cfg, channels_for(cfg, factory.context.secrets)))
    steps.append(refresh_step())  # dashboard rollups: only the days changed since the last pass
    return steps


@click.command()
@url_option
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None, help="mentiondesk.toml path.")
@click.option("--poll", type=float, default=1.0, show_default=True, help="Seconds between scheduling passes.")
@click.option("--no-classify", is_flag=True, help="Do not load the classifier (fetch and send only).")
@click.option("--once", is_flag=True, help="Run one pass of every due source and step, then exit.")
def worker(database_url: str | None, config_file: str | None, poll: float, no_classify: bool, once: bool) -> None:
    """Run the worker until interrupted (Ctrl-C or SIGTERM); several may run against PostgreSQL."""
    install_log_redaction(configured_secret_values())  # also when started without the CLI group (CliRunner, soak)
    cfg = load_config(config_file)
    store = open_store(database_url or cfg.database.url, upgrade=True)
    sync_sources(store, cfg)
    factory = ConnectorFactory(secrets=Secrets.load(), config=cfg, store=store)
    steps = build_steps(store, cfg, factory, classify=not no_classify)
    if once:
        owner = worker_id()
        for outcome in run_once(store, factory, owner=owner):
            click.echo(f"{outcome.source}: {'ok' if outcome.ok else outcome.error} ({outcome.result.new} new)")
        for step in steps:
            step(store)
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"worker {worker_id()} running on {store.describe()}; Ctrl-C to stop")
    run_forever(store, factory, steps=steps, poll_s=poll, stop=stop)
