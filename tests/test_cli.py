"""The command line: every command is listed and loads; generate is deterministic; errors are one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from console.cli import COMMANDS, cli, main
from console.services.store import open_store
from storage.models import Mention


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert f"  {name} " in out


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_registered_command_loads(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.get_command(None, name) is not None  # type: ignore[arg-type]
    assert main([name, "--help"]) == 0
    assert "Usage:" in capsys.readouterr().out


def test_unknown_command_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) != 0
    err = capsys.readouterr().err
    assert "No such command 'frobnicate'" in err and "Traceback" not in err


def _external_ids(url: str) -> list[str]:
    store = open_store(url)
    with store.read() as s:
        ids = list(s.scalars(select(Mention.external_id).order_by(Mention.external_id)))
    store.dispose()
    return ids


def test_generate_is_seeded_and_deterministic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    urls = [f"sqlite:///{tmp_path / name}" for name in ("a.db", "b.db", "c.db")]
    args = ["--mentions", "1500", "--end", "2026-10-01"]
    assert main(["generate", "--database-url", urls[0], *args]) == 0
    assert main(["generate", "--database-url", urls[1], *args]) == 0
    assert main(["generate", "--database-url", urls[2], "--seed", "7", *args]) == 0
    assert "stored 1,500 new mentions" in capsys.readouterr().out
    a, b, c = (_external_ids(u) for u in urls)
    assert len(a) == 1500 and a == b and a != c


def test_generate_rejects_nonsense(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--mentions", "0"]) != 0
    assert "--mentions" in capsys.readouterr().err
