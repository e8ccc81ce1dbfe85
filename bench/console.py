"""Server-side time of the console's pages: Inbox, Conversation and Dashboard, run by Streamlit's AppTest.

    python bench/console.py [--database-url URL ...] [--runs 20] [--demo]

Each page script runs in-process the way the server runs it for a browser (the page's queries, the
dataframe and chart building, widget state); the browser's own rendering is not included.  Every page is
run ``--runs`` times after two warm-up runs, as a signed-in agent (Inbox, Conversation) or manager
(Dashboard), and the p95 is reported as ``RESULT console_<page>_ms_<db>``.  The baseline is Streamlit's own
floor in the same run: a page that only draws a title and a 50-row table.

``--demo`` builds a fresh 5,000-mention demo store on SQLite and on PostgreSQL; ``--database-url`` names
stores built by ``mentiondesk generate --mentions 1000000`` (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import streamlit as st  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from bench._common import machine, pg_schema, result  # noqa: E402
from console.config import load_config  # noqa: E402
from console.services.auth import authenticate  # noqa: E402
from console.services.demo_seed import demo_password, seed_demo  # noqa: E402
from console.services.inbox import InboxFilters, list_queue  # noqa: E402
from console.services.permissions import Actor  # noqa: E402
from console.services.store import open_store  # noqa: E402
from storage.models import Mention  # noqa: E402

PAGES = Path(__file__).resolve().parents[1] / "console" / "app_pages"
FLOOR = """
import pandas as pd
import streamlit as st
st.title("Floor")
st.dataframe(pd.DataFrame({"a": range(50), "b": ["text " * 8] * 50}))
"""


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[-1]


def _timed_runs(make: Callable[[], AppTest], runs: int) -> list[float]:
    at = make()
    at.run()
    if at.exception:
        raise RuntimeError(f"page failed: {[e.value for e in at.exception]}")
    at.run()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        at.run()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def _page(
    path: Path, token: str, query: dict[str, str] | None = None, state: dict[str, object] | None = None
) -> Callable[[], AppTest]:
    def make() -> AppTest:
        at = AppTest.from_file(str(path), default_timeout=120)
        at.session_state["auth_token"] = token
        for key, value in (state or {}).items():
            at.session_state[key] = value
        for key, value in (query or {}).items():
            at.query_params[key] = value
        return at

    return make


def bench_store(url: str, label: str, runs: int) -> None:
    """Time the three pages on one store; the environment points the console at it."""
    os.environ["MENTIONDESK_DATABASE_URL"] = url  # open_store resolves the environment first, like the console
    st.cache_resource.clear()
    st.cache_data.clear()
    store = open_store(url)
    agent = authenticate(store, "jamie", demo_password("jamie")).token
    manager = authenticate(store, "maya", demo_password("maya")).token
    with store.read() as session:
        top = list_queue(session, Actor.system("bench"), InboxFilters(replyable=True, page_size=1))
        newest = session.scalar(select(func.max(Mention.created_at)))
    store.dispose()
    last = (newest or datetime.now(UTC)).date()  # the dashboard's 30 days end at the store's last day
    days = {"d_range": (last - timedelta(days=29), last)}
    mention = str(top[0].id) if top else "1"
    floor = _timed_runs(lambda: AppTest.from_string(FLOOR, default_timeout=60), runs)
    result(f"console_floor_ms_{label}", p95(floor), "ms")
    pages = {
        "inbox": _page(PAGES / "inbox.py", agent),
        "conversation": _page(PAGES / "conversation.py", agent, {"mention": mention}),
        "dashboard": _page(PAGES / "dashboard.py", manager, state=days),
    }
    for name, make in pages.items():
        samples = _timed_runs(make, runs)
        result(f"console_{name}_ms_{label}", p95(samples), "ms")
        print(f"  {label} {name}: median {statistics.median(samples):.0f} ms, max {max(samples):.0f} ms", flush=True)


def _demo_stores(runs: int) -> None:
    cfg = load_config()
    os.environ.pop("MENTIONDESK_DATABASE_URL", None)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'demo.db'}"
        seed_demo(open_store(url, upgrade=True), cfg, mentions=5_000)
        bench_store(url, "sqlite_demo", runs)
    os.environ.pop("MENTIONDESK_DATABASE_URL", None)
    with pg_schema() as url:
        store = open_store(url, upgrade=True)
        seed_demo(store, cfg, mentions=5_000)
        store.dispose()
        bench_store(url, "postgresql_demo", runs)


def _label(url: str) -> str:
    return "postgresql" if url.startswith("postgres") else "sqlite"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", action="append", default=[], help="a store to time (repeatable)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--demo", action="store_true", help="also time fresh 5,000-mention demo stores")
    args = parser.parse_args()
    print(f"# {machine()}", flush=True)
    if args.demo or not args.database_url:
        _demo_stores(args.runs)
    for url in args.database_url:
        os.environ.pop("MENTIONDESK_DATABASE_URL", None)
        store = open_store(url)
        with store.read() as session:
            newest = session.scalar(select(Mention.id).order_by(Mention.id.desc()).limit(1)) or 0
        store.dispose()
        bench_store(url, f"{_label(url)}_{'1m' if newest >= 900_000 else 'store'}", args.runs)


if __name__ == "__main__":
    main()
