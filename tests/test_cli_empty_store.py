"""On a store without this version's tables, every command says so in one line, or creates the tables itself."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import click
import psycopg
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from console.cli import COMMANDS, cli, main
from console.config import BUILTIN_CONFIG
from storage import migrate
from storage.db import redact
from tests.conftest import PG_URL, _pg_schema_url

CONFIG = str(BUILTIN_CONFIG)
# Commands that only read: they must leave the store untouched and say how to create its tables.
READS: dict[str, list[str]] = {
    "db check": [],
    "db current": [],
    "export": ["--out", "{tmp}/out.csv"],
    "outbox list": ["--config", CONFIG],
    "outbox settle": ["1", "--not-posted", "--as", "maya", "--config", CONFIG],
    "sources": ["--config", CONFIG],
}
# Commands that migrate the store before they use it: an empty store is fine.
CREATES: dict[str, list[str]] = {
    "db upgrade": [],
    "demo": ["--mentions", "30", "--days", "1", "--no-worker"],
    "generate": ["--mentions", "30", "--end", "2026-10-01"],
    "import": ["{tmp}/mentions.csv"],
    "serve": [],
    "user add": ["maya", "--role", "manager", "--password-stdin"],
    "worker": ["--once", "--no-classify", "--config", "{tmp}/empty.toml"],
}
# Commands that never open a store.
NO_STORE = {"classify-file", "config check", "eval", "train"}
SCRIPT = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
HEAD = SCRIPT.get_current_head()


def _leaf_commands() -> dict[str, click.Command]:
    leaves: dict[str, click.Command] = {}
    for name in COMMANDS:
        command = cli.get_command(click.Context(cli), name)
        assert command is not None
        if isinstance(command, click.Group):
            leaves |= {f"{name} {sub}": cmd for sub, cmd in command.commands.items()}
        else:
            leaves[name] = command
    return leaves


def _args(name: str, extra: list[str], url: str, tmp: Path) -> list[str]:
    return [*name.split(), *(a.replace("{tmp}", str(tmp)) for a in extra), "--database-url", url]


def _no_tables(url: str) -> str:
    return f"mentiondesk: the store at {redact(url)} has no tables yet: run `mentiondesk db upgrade` (or `make run`)\n"


@pytest.fixture(autouse=True)
def _no_env_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MENTIONDESK_DATABASE_URL", raising=False)  # it would win over --database-url


@pytest.fixture
def empty_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'empty.db'}"


def test_every_command_is_sorted_into_reads_creates_or_no_store() -> None:
    leaves = _leaf_commands()
    assert set(leaves) == set(READS) | set(CREATES) | NO_STORE
    for name in NO_STORE:
        assert "database_url" not in {p.name for p in leaves[name].params}, f"{name} opens a store: sort it"


@pytest.mark.parametrize("name", sorted(READS))
def test_a_reading_command_on_an_empty_store_says_how_to_create_the_tables(
    name: str, empty_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_args(name, READS[name], empty_url, tmp_path)) != 0
    captured = capsys.readouterr()
    assert captured.err == _no_tables(empty_url) and captured.out == ""
    assert migrate.current(empty_url) is None  # a reader never creates tables behind the user's back
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("name", sorted(READS))
def test_a_reading_command_on_an_older_schema_says_to_upgrade(
    name: str, empty_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    older = SCRIPT.get_revision(HEAD).down_revision
    assert isinstance(older, str)
    migrate.upgrade(empty_url, older)
    assert main(_args(name, READS[name], empty_url, tmp_path)) != 0
    captured = capsys.readouterr()
    expected = f"the store at {redact(empty_url)} is at schema {older}, older than this version's {HEAD}"
    assert captured.err == f"mentiondesk: {expected}: run `mentiondesk db upgrade`\n"
    assert migrate.current(empty_url) == older


def test_a_store_from_a_newer_version_says_to_upgrade_mentiondesk(
    empty_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    migrate.upgrade(empty_url)
    engine = create_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    assert main(_args("sources", READS["sources"], empty_url, tmp_path)) != 0
    expected = f"is at schema 9999, newer than this version knows ({HEAD}): upgrade mentiondesk\n"
    assert capsys.readouterr().err == f"mentiondesk: the store at {redact(empty_url)} {expected}"


@pytest.fixture
def empty_pg_url() -> Iterator[str]:
    schema = f"e_{uuid.uuid4().hex[:10]}"  # an empty schema of this test's own, dropped after it
    with psycopg.connect(PG_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        yield _pg_schema_url(schema)
        admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.mark.pg
@pytest.mark.parametrize("name", sorted(READS))
def test_a_reading_command_on_an_empty_postgres_schema_says_the_same(
    name: str, empty_pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_args(name, READS[name], empty_pg_url, tmp_path)) != 0
    assert capsys.readouterr().err == _no_tables(empty_pg_url)


@pytest.mark.parametrize("name", sorted(CREATES))
def test_a_creating_command_migrates_an_empty_store_and_runs(
    name: str, empty_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty.toml").write_text("", encoding="utf-8")
    (tmp_path / "mentions.csv").write_text(
        "external_id,text,created_at,author,platform,brand\n1,hello,2026-11-02T09:00:00Z,ana,x,Skyline Air\n",
        encoding="utf-8",
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password 42\n"))
    monkeypatch.setattr("console.commands.demo._supervise", lambda *_args, **_kw: 0)  # no Streamlit child
    assert main(_args(name, CREATES[name], empty_url, tmp_path)) == 0, capsys.readouterr().err
    assert "no tables yet" not in capsys.readouterr().err
    assert migrate.current(empty_url) == HEAD
