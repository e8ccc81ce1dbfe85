"""``mentiondesk export``: mentions to CSV, Excel, Parquet or JSONL, streamed with a progress bar."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from console.commands import cli_actor, open_existing_store
from console.commands.db import url_option
from console.notebook import brand_ids, parse_when
from console.services.export import (
    FORMATS,
    PARQUET_CODECS,
    PARQUET_COMPRESSION,
    ExportUnavailable,
    Format,
    export_mentions,
    format_from_path,
    matching_rows,
)
from console.services.mention_query import MentionFilters


def _when(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    try:
        return parse_when(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: use a date (2026-11-01) or an ISO time (2026-11-01T09:00Z)") from None


@click.command("export")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, dir_okay=False), help="File to write.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None, help="Default: from the --out suffix.")
@click.option("--since", callback=_when, help="Created at or after (UTC date or ISO time).")
@click.option("--until", callback=_when, help="Created before (exclusive).")
@click.option("--brand", "brands", multiple=True, help="Brand name; repeat for several.")
@click.option("--platform", "platforms", multiple=True, help="x, mastodon, bluesky, reddit, rss…; repeatable.")
@click.option("--status", "statuses", multiple=True, help="Workflow status; repeatable.")
@click.option("--sentiment", "sentiments", multiple=True, type=click.Choice(["negative", "neutral", "positive"]))
@click.option("--urgency", "urgencies", multiple=True, type=click.Choice(["critical", "high", "normal", "low"]))
@click.option("--search", default="", help="Words the text must contain.")
@click.option("--inbound-only", is_flag=True, help="Leave out the brands' own posts.")
@click.option("--include-raw", is_flag=True, help="Add raw_json, the platform's original payload (large).")
@click.option(
    "--compression",
    type=click.Choice(PARQUET_CODECS),
    default=PARQUET_COMPRESSION,
    show_default=True,
    help="Parquet only: zstd writes a smaller file than snappy, more slowly.",
)
@url_option
def export_command(
    out: Path,
    fmt: Format | None,
    since: datetime | None,
    until: datetime | None,
    brands: tuple[str, ...],
    platforms: tuple[str, ...],
    statuses: tuple[str, ...],
    sentiments: tuple[str, ...],
    urgencies: tuple[str, ...],
    search: str,
    inbound_only: bool,
    include_raw: bool,
    compression: str,
    database_url: str | None,
) -> None:
    """Export every mention field plus the current classification, streamed in chunks.

    Times are ISO 8601 UTC in columns named *_utc.  CSV and Excel cells that would run as
    formulas are prefixed with a single quote.
    """
    actor = cli_actor()  # the same EXPORT-checked service as the Explore page (see console.commands)
    try:
        chosen = fmt or format_from_path(out)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    store = open_existing_store(database_url)
    try:
        with store.read() as session:
            try:
                ids = brand_ids(session, brands) if brands else ()
                filters = MentionFilters(
                    since=since,
                    until=until,
                    brand_ids=ids,
                    platforms=platforms,
                    statuses=statuses,
                    sentiments=sentiments,
                    urgencies=urgencies,
                    search=search,
                    include_brand_posts=not inbound_only,
                )
            except ValueError as exc:
                raise click.UsageError(str(exc)) from None
            total = matching_rows(session, actor, filters)
            with Progress(
                TextColumn(f"exporting {chosen}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                transient=True,
            ) as bar:
                task = bar.add_task("rows", total=total)
                try:
                    result = export_mentions(
                        session,
                        actor,
                        filters,
                        chosen,
                        out,
                        include_raw=include_raw,
                        progress=lambda n: bar.advance(task, n),
                        parquet_compression=compression,
                    )
                except ExportUnavailable as exc:
                    raise click.ClickException(str(exc)) from None
    finally:
        store.dispose()
    click.echo(f"{result.rows:,} mentions, {len(result.columns)} columns -> {result.path}")
