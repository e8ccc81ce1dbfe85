"""AppTest smoke tests over every page, on a real seeded SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from console.config import load_config
from console.services.auth import authenticate
from console.services.demo_seed import demo_password, seed_demo
from console.services.store import open_store

CONSOLE = Path(__file__).resolve().parents[1] / "console"
PAGES = sorted(p.name for p in (CONSOLE / "app_pages").glob("*.py") if not p.name.startswith("_"))


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("console") / "demo.db"
    store = open_store(f"sqlite:///{path}", upgrade=True)
    seed_demo(store, load_config(), mentions=400, seed=3, now=datetime(2026, 11, 20, 12, tzinfo=UTC))
    store.dispose()
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def admin_token(demo_url: str) -> str:
    """Pages need a signed-in user; an admin sees every page."""
    store = open_store(demo_url)
    token = authenticate(store, "admin", demo_password("admin")).token
    store.dispose()
    return token


@pytest.fixture
def console_env(demo_url: str, admin_token: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("MENTIONDESK_DATABASE_URL", demo_url)
    st.cache_resource.clear()
    yield demo_url
    st.cache_resource.clear()


def _run(path: Path, token: str | None = None) -> AppTest:
    at = AppTest.from_file(str(path), default_timeout=60)
    if token:
        at.session_state["auth_token"] = token
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders(console_env: str, admin_token: str, page: str) -> None:
    _run(CONSOLE / "app_pages" / page, admin_token)


def test_app_entry_point_asks_for_sign_in_then_opens_on_the_inbox(console_env: str, admin_token: str) -> None:
    assert [t.value for t in _run(CONSOLE / "streamlit_app.py").title] == ["Sign in to mentiondesk"]
    at = _run(CONSOLE / "streamlit_app.py", admin_token)
    assert [t.value for t in at.title] == ["Inbox"]


def test_inbox_filters_narrow_the_queue(console_env: str, admin_token: str) -> None:
    at = _run(CONSOLE / "app_pages" / "inbox.py", admin_token)
    everything = len(at.dataframe[0].value)
    at.multiselect(key="f_brand").set_value(["Nimbus Mobile"]).run()
    assert not at.exception
    only_nimbus = at.dataframe[0].value
    assert 0 < len(only_nimbus) <= everything
    assert set(only_nimbus["Brand"]) == {"Nimbus Mobile"}
    at.text_input(key="f_search").set_value("zzzz-no-such-words").run()
    assert any("No mentions match" in i.value for i in at.info)


def test_sources_page_warns_near_the_x_read_cap_and_names_dead_sources(console_env: str) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import update

    from connectors.read_budget import budget_month
    from storage.models import Source

    store = open_store(console_env)
    with store.transaction() as s:
        s.execute(
            update(Source)
            .where(Source.name == "x-mentions-skyline")
            .values(
                reads_used=9_500,
                reads_month=budget_month(datetime.now(UTC)),
                enabled=True,
                health="unhealthy",
                last_error="credentials refused: X rejected the credentials (401)",
            )
        )
    store.dispose()
    at = _run(CONSOLE / "app_pages" / "sources.py")
    assert any("9,500" in w.value for w in at.warning)
    assert any("x-mentions-skyline" in e.value and "401" in e.value for e in at.error)
