"""``mentiondesk config``: validate and show the configuration."""

from __future__ import annotations

from pathlib import Path

import click

from console.config import config_path, load_config


@click.group("config")
def config_group() -> None:
    """Validate mentiondesk.toml."""


@config_group.command("check")
@click.option("--config", "path", type=click.Path(path_type=Path), default=None, help="Default: ./mentiondesk.toml.")
def check(path: Path | None) -> None:
    """Validate the config file; each bad value is printed with its path."""
    cfg = load_config(path)
    click.echo(
        f"{config_path(path)}: ok — {len(cfg.brands)} brands, {len(cfg.sources)} sources, "
        f"{len(cfg.sla.policies)} SLA policies, {len(cfg.templates)} templates"
    )
