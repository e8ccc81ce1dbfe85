"""The ``mentiondesk`` command line.  Subcommands load lazily so ``--help`` stays instant."""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

# name -> ("module:attribute", one-line help); each area registers its commands here.
COMMANDS: dict[str, tuple[str, str]] = {
    "classify-file": ("console.commands.classify:classify_file_command", "Add sentiment, urgency and tags to a CSV."),
    "config": ("console.commands.config_cmd:config_group", "Validate mentiondesk.toml."),
    "db": ("console.commands.db:db", "Create and migrate the store."),
    "demo": ("console.commands.demo:demo", "Demo store, live worker and console in one command."),
    "eval": ("console.commands.classify:eval_command", "Evaluate the classifier on the held-out sets."),
    "export": ("console.commands.export:export_command", "Export mentions to CSV, xlsx, Parquet or JSONL."),
    "generate": ("console.commands.demo:generate", "Fill a store with seeded generated mentions."),
    "import": ("console.commands.data:import_command", "Import mentions from CSV or X API v2 JSONL."),
    "outbox": ("console.commands.outbox:outbox", "List outbox replies; settle replies parked for a human check."),
    "sources": ("console.commands.sources:sources", "Show every source's health, errors and read budget."),
    "serve": ("console.commands.demo:serve", "Serve the console on an existing store."),
    "train": ("console.commands.classify:train_command", "Train the sentiment model (or retrain from feedback)."),
    "user": ("console.commands.users:user", "Add console users (agent, manager, analyst, admin)."),
    "worker": ("console.commands.worker:worker", "Run sources, classification and the outbox."),
}


class UserFacingError(click.ClickException):
    """An error whose message is meant for the person at the terminal, as one line."""

    def show(self, file: Any = None) -> None:
        """Print ``mentiondesk: <message>`` to stderr, without a traceback."""
        click.echo(f"mentiondesk: {self.format_message()}", err=True)


class LazyGroup(click.Group):
    """Import a subcommand's module only when that subcommand runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every registered subcommand, for ``--help``."""
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import the subcommand's module on first use."""
        if cmd_name not in COMMANDS:
            return None
        target = COMMANDS[cmd_name][0]
        module, attr = target.split(":")
        command = getattr(importlib.import_module(module), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List commands from the registry, without importing their modules."""
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="mentiondesk", message="%(prog)s %(version)s")
def cli(verbose: int) -> None:
    """Mentiondesk: social media monitoring and response console."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_redaction()


def install_log_redaction() -> None:
    """Redact every configured secret, and credential-shaped text, from every handler's output (any library)."""
    from console.log_redaction import install
    from console.secrets import configured_secret_values

    install(configured_secret_values())


def _known_errors() -> tuple[type[BaseException], ...]:
    from connectors.file_import import ImportFormatError
    from console.config import ConfigError
    from storage.db import DatabaseUrlError

    return (ConfigError, DatabaseUrlError, ImportFormatError)


def main(argv: list[str] | None = None) -> int:
    """Entry point: known errors become one line on stderr and a non-zero exit."""
    try:
        cli.main(args=argv, prog_name="mentiondesk", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("mentiondesk: aborted", err=True)
        return 130
    except click.ClickException as exc:
        if isinstance(exc, UserFacingError):
            exc.show()
        else:
            click.echo(f"mentiondesk: {exc.format_message()}", err=True)
        return exc.exit_code
    except _known_errors() as exc:
        from console.config import ConfigError

        if isinstance(exc, ConfigError) and exc.problems and not exc.whole_file:
            click.echo(f"mentiondesk: {exc.source}: invalid config", err=True)
            for line in exc.problems:
                click.echo(f"  {line}", err=True)
        else:
            click.echo(f"mentiondesk: {exc}", err=True)
        return 2
    except Exception as exc:  # database errors (down, locked, a refused value) still get one clear line
        from sqlalchemy.exc import DBAPIError

        if isinstance(exc, DBAPIError):  # the driver's own message: never the SQL or its parameters
            click.echo(f"mentiondesk: database error: {exc.orig}".splitlines()[0], err=True)
            return 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
