"""``mentiondesk sources``: every source's health in one table, so a dead connection is never silent."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from connectors.read_budget import ReadBudget, budget_month
from console.commands import open_existing_store
from console.commands.db import url_option
from console.config import AppConfig, load_config
from console.services.sources import SourceHealthRow, source_health, x_summary
from console.services.worker_health import WorkerView, workers_overview
from console.ui.format import local_time

HEALTH_STYLE = {
    "healthy": "green",
    "degraded": "yellow",
    "unhealthy": "bold red",
    "budget_exhausted": "bold red",
    "unknown": "dim",
}


def _reads(row: SourceHealthRow, budget: ReadBudget) -> str:
    if row.platform != "x":
        return f"{row.reads_used:,}" if row.reads_used else "—"
    cap = f"{budget.monthly_cap:,}" if budget.monthly_cap is not None else "no cap"
    return f"{row.reads_used:,} / {cap} (~{budget.format_cost(row.reads_used)})"


def health_table(rows: list[SourceHealthRow], budget: ReadBudget, zone: ZoneInfo) -> Table:
    """The rich table: one line per source, worst health first.  Cells are plain text, never markup."""
    table = Table(title="Sources", expand=False)
    for name in ("Source", "Platform", "Kind", "Enabled", "Health"):
        table.add_column(name, no_wrap=True)
    table.add_column("Last success")
    table.add_column("Last error", overflow="fold", min_width=24)
    table.add_column("Failures", justify="right")
    table.add_column("Next run")
    table.add_column("Reads this month / cap")
    for row in rows:
        cells = (
            row.name,
            row.platform,
            row.kind,
            "yes" if row.enabled else "no",
            row.health.replace("_", " "),
            local_time(row.last_success_at, zone),
            row.last_error or "—",
            str(row.consecutive_failures),
            local_time(row.next_run_at, zone) if row.enabled else "disabled",
            _reads(row, budget),
        )
        style = {4: HEALTH_STYLE.get(row.health, "")}
        table.add_row(*(Text(cell, style=style.get(i, "")) for i, cell in enumerate(cells)))
    return table


WORKER_STYLE = {"running": "green", "stopped": "dim"}


def workers_table(workers: list[WorkerView]) -> Table:
    """The rich table of worker processes: heartbeat age, state, last database outage.  Plain text cells."""
    table = Table(title="Workers", expand=False)
    for name in ("Worker", "Last heartbeat", "State"):
        table.add_column(name, no_wrap=True)
    table.add_column("Outages", justify="right")
    table.add_column("Last outage", overflow="fold", min_width=24)
    for w in workers:
        state = Text(w.state, style=WORKER_STYLE.get(w.state, "bold red"))
        table.add_row(Text(w.owner), Text(w.last_heartbeat), state, Text(str(w.outages)), Text(w.last_outage or "—"))
    return table


def _print_workers(console: Console, workers: list[WorkerView]) -> None:
    if workers:
        console.print(workers_table(workers))
    else:
        console.print("Workers: none seen in the last 24 h; start one with `mentiondesk worker`.")


@click.command()
@url_option
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None, help="mentiondesk.toml path.")
@click.option("--check", is_flag=True, help="Exit with status 1 when an enabled source is unhealthy (for monitoring).")
def sources(database_url: str | None, config_file: str | None, check: bool) -> None:
    """Show each source's health (last success, last error in plain words, failures, next run, reads), then workers."""
    cfg: AppConfig = load_config(config_file)
    store = open_existing_store(database_url or cfg.database.url)
    now = datetime.now(UTC)
    zone = ZoneInfo(cfg.team.timezone)
    with store.read() as session:
        rows = source_health(session, month=budget_month(now))
        workers = workers_overview(session, now, zone)
    store.dispose()
    console = Console(width=max(Console().width, 180))
    if not rows:
        console.print("No sources yet: add [[sources]] to mentiondesk.toml and start `mentiondesk worker`.")
        _print_workers(console, workers)
        return
    budget = ReadBudget(cfg.x.monthly_read_cap, Decimal(str(cfg.x.price_per_read)))
    console.print(health_table(rows, budget, zone))
    _print_workers(console, workers)
    summary = x_summary(rows, budget)
    if summary:
        console.print(summary)
    broken = [r for r in rows if r.enabled and r.health in ("unhealthy", "budget_exhausted")]
    for row in broken:
        console.print(Text(f"! {row.name} is {row.health.replace('_', ' ')}: {row.last_error}", style="bold red"))
    if check and broken:
        raise SystemExit(1)
