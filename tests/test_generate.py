"""`mentiondesk generate` leaves a store ready to measure: rollups built and current, statistics analysed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from console.cli import main
from console.commands.demo import GENERATED_KEY
from console.services.dashboard import rollup
from console.services.store import open_store
from storage.models import Mention, MentionRollupDaily, MentionRollupHourly, RollupState, Setting, TopicRollupDaily


@pytest.mark.parametrize("end", [None, "2026-10-01"], ids=["ending-today", "ending-in-the-past"])
def test_generate_leaves_rollups_current_and_statistics_analysed(tmp_path: Path, end: str | None) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    assert main(["generate", "--database-url", url, "--mentions", "1200", *(["--end", end] if end else [])]) == 0
    store = open_store(url)
    with store.read() as session:
        inbound = session.scalar(select(func.count()).select_from(Mention).where(Mention.is_brand_post.is_(False)))
        assert inbound and session.scalar(select(func.sum(MentionRollupDaily.mentions))) == inbound
        assert session.scalar(select(func.sum(MentionRollupHourly.mentions))) == inbound
        assert session.scalar(select(func.count()).select_from(TopicRollupDaily))
        state = session.get(RollupState, rollup.STATE_NAME)
        assert state is not None and rollup.changed_days(session, state.watermark) == set()
        stats = session.execute(text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'mentions'")).scalar()
        assert stats and stats > 0
        ready = session.get(Setting, GENERATED_KEY)
        assert ready is not None and ready.value["mentions"] == 1200 and ready.value["seed"] == 42
    with store.transaction() as session:  # the worker's next refresh finds nothing to redo
        assert rollup.refresh(session, now=datetime.now(UTC)) == 0
    store.dispose()


def test_a_generate_that_fails_leaves_no_ready_mark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    assert main(["generate", "--database-url", url, "--mentions", "300", "--end", "2026-10-01"]) == 0

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("killed mid-seed")

    monkeypatch.setattr("console.commands.demo.seed_demo", crash)
    with pytest.raises(RuntimeError):
        main(["generate", "--database-url", url, "--mentions", "300", "--end", "2026-10-02"])
    store = open_store(url)
    with store.read() as session:
        assert session.get(Setting, GENERATED_KEY) is None
    store.dispose()
