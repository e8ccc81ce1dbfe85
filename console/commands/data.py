"""``mentiondesk import``: load mention files into the store."""

from __future__ import annotations

from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from connectors.limits import Limits
from console.commands.db import url_option
from console.config import load_config
from console.services.importer import import_file
from console.services.store import open_store
from storage.enums import MentionStatus

MAX_ERRORS_SHOWN = 20


@click.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@url_option
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default=None, help="Default: from the suffix.")
@click.option(
    "--status",
    type=click.Choice([s.value for s in MentionStatus]),
    default="new",
    show_default=True,
    help="Status for imported mentions (e.g. resolved for history).",
)
def import_command(file: Path, database_url: str | None, fmt: str | None, status: str) -> None:
    """Import FILE: CSV with documented columns, or JSONL of X API v2 pages (twarc2).

    Bad rows are reported with their line numbers and skipped; importing the same file twice adds nothing.
    Texts longer than ``[ingest] max_text_length`` are stored cut; the raw payload keeps them whole.
    """
    limits = Limits(max_text_length=load_config().ingest.max_text_length)
    store = open_store(database_url, upgrade=True)
    with Progress(
        TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
    ) as bar:
        task = bar.add_task("rows", total=None)
        report = import_file(
            store,
            file,
            fmt=fmt,
            status=MentionStatus(status),
            progress=lambda n: bar.advance(task, n),
            limits=limits,
        )
    r = report.result
    counts = f"{r.new} new, {r.updated} updated, {r.duplicates} duplicates, {len(report.errors)} bad"
    click.echo(f"{report.rows} rows: {counts}")
    for err in report.errors[:MAX_ERRORS_SHOWN]:
        click.echo(f"  line {err.line}: {err.reason}", err=True)
    if len(report.errors) > MAX_ERRORS_SHOWN:
        click.echo(f"  … and {len(report.errors) - MAX_ERRORS_SHOWN} more bad rows", err=True)
