"""``mentiondesk sources`` shows every source's health, reasons in plain words and the X read budget."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from connectors.base import Batch, Mention, PostedReply
from console.cli import cli, main
from console.config import BUILTIN_CONFIG, load_config
from console.secrets import Secrets
from console.services.catalog import sync_config
from console.services.store import Store
from console.worker.factory import BUILDERS, ConnectorFactory
from console.worker.loop import run_once
from storage.models import Source
from tests.factories import make_batch


class DemoDouble:
    """Stands in for the demo generator: one page of three mentions."""

    platform = "demo"

    def fetch(self, cursor: str | None, *, limit: int = 100) -> Batch:
        return Batch(make_batch(3, 0 if cursor is None else 3), "next", False)

    def reply(self, to: Mention, text: str, *, idempotency_key: str) -> PostedReply:
        raise NotImplementedError


@pytest.fixture
def demo_store(sqlite_store: Store, monkeypatch: pytest.MonkeyPatch) -> Store:
    """The built-in demo config's sources, after one worker pass with the X mentions source switched on."""
    monkeypatch.setenv("COLUMNS", "400")
    cfg = load_config(BUILTIN_CONFIG)
    with sqlite_store.transaction() as session:
        sync_config(session, cfg)
        session.execute(update(Source).where(Source.name == "x-mentions-skyline").values(enabled=True))
        month = datetime.now(UTC).strftime("%Y-%m")
        session.execute(
            update(Source).where(Source.name == "x-search-skyline").values(reads_used=1234, reads_month=month)
        )
    builders = {**BUILDERS, "demo": lambda lease, ctx: DemoDouble()}
    factory = ConnectorFactory(secrets=Secrets(env={}), config=cfg, store=sqlite_store, builders=builders)
    run_once(sqlite_store, factory, owner="w1")
    return sqlite_store


def test_sources_lists_every_source_with_its_health_and_reason(demo_store: Store, capsys) -> None:
    assert main(["sources", "--database-url", demo_store.url, "--config", str(BUILTIN_CONFIG)]) == 0
    out = capsys.readouterr().out
    for name in load_config(BUILTIN_CONFIG).sources:
        assert name.name in out
    lines = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 5}
    assert "healthy" in lines["demo-skyline"] and "unhealthy" not in lines["demo-skyline"]
    assert "unhealthy" in lines["x-mentions-skyline"] and "missing credentials" in lines["x-mentions-skyline"]
    assert "unknown" in lines["rss-travel-news"] and "disabled" in lines["rss-travel-news"]
    assert "1,234 / 10,000 (~6.17 USD)" in lines["x-search-skyline"]
    assert "X reads this month: 1,234 (about 6.17 USD)" in out
    assert "! x-mentions-skyline is unhealthy: stopped: missing credentials for source 'x-mentions-skyline': " in out
    assert "MENTIONDESK_X_MENTIONS_SKYLINE_BEARER_TOKEN" in out
    assert out.index("x-mentions-skyline") < out.index("demo-skyline")  # worst health first


def test_check_fails_when_an_enabled_source_is_unhealthy(demo_store: Store) -> None:
    args = ["sources", "--database-url", demo_store.url, "--config", str(BUILTIN_CONFIG), "--check"]
    assert CliRunner().invoke(cli, args).exit_code == 1
    with demo_store.transaction() as session:
        session.execute(update(Source).where(Source.name == "x-mentions-skyline").values(enabled=False))
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output


def test_an_empty_store_says_how_to_add_sources(sqlite_store: Store, capsys) -> None:
    assert main(["sources", "--database-url", sqlite_store.url, "--config", str(BUILTIN_CONFIG)]) == 0
    assert "No sources yet" in capsys.readouterr().out
