"""Faults the worker must outlive: database outages on both databases, and kill -9 while sending replies."""

from __future__ import annotations

import http.server
import json
import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import psycopg
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError, ProgrammingError

from connectors.base import Batch, FatalError, Mention, PostedReply
from console.services.permissions import Actor
from console.services.replies.outbox import queue_reply, settle_reply
from console.services.store import Store, open_store
from console.services.worker_health import (
    database_reason,
    is_database_error,
    outage_words,
    worker_state,
    workers_overview,
)
from console.worker.loop import OutageBackoff, run_forever
from storage.enums import ReplyState, Role
from storage.ingest import ingest_batch
from storage.models import AuditEntry, Reply, Source, User, WorkerStatus
from storage.models import Mention as MentionRow
from tests.conftest import PG_URL
from tests.factories import make_batch, make_mention

ROOT = Path(__file__).resolve().parents[1]
LOOP_LOG = "console.worker.loop"


def wait_until(check: Callable[[], object], timeout: float, what: str) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


# --- telling an outage from a bug -------------------------------------------------------------


def _wrapped(error: Exception, kind: type[DBAPIError] = OperationalError, **kw: Any) -> DBAPIError:
    return kind("SELECT 1", {}, error, **kw)


@pytest.mark.parametrize(
    ("exc", "outage", "reason"),
    [
        (
            _wrapped(psycopg.OperationalError("server closed the connection unexpectedly\n\tThis probably means…")),
            True,
            "server closed the connection unexpectedly",
        ),
        (
            _wrapped(psycopg.InterfaceError("the connection is closed"), InterfaceError),
            True,
            "the connection is closed",
        ),
        (_wrapped(RuntimeError("gone"), ProgrammingError, connection_invalidated=True), True, "gone"),
        (_wrapped(sqlite3.OperationalError("database is locked")), True, "database is locked"),
        (_wrapped(sqlite3.OperationalError("unable to open database file")), True, "unable to open database file"),
        (psycopg.OperationalError("connection refused"), True, "connection refused"),
        (_wrapped(sqlite3.OperationalError("no such table: replies")), False, "no such table: replies"),
        (_wrapped(psycopg.errors.UniqueViolation("duplicate key"), IntegrityError), False, "duplicate key"),
        (ValueError("bad"), False, "bad"),
    ],
    ids=[
        "pg-closed",
        "pg-interface",
        "invalidated",
        "sqlite-locked",
        "sqlite-open",
        "raw-psycopg",
        "sqlite-bug",
        "integrity",
        "not-db",
    ],
)
def test_database_outages_are_told_from_bugs_and_said_in_plain_words(exc: Exception, outage: bool, reason: str) -> None:
    assert is_database_error(exc) is outage
    assert database_reason(exc) == reason


def test_the_backoff_starts_at_a_second_and_is_capped_at_thirty() -> None:
    backoff = OutageBackoff(rng=random.Random(3))
    delays = [backoff.delay(n) for n in range(1, 12)]
    assert 0.75 <= delays[0] <= 1.0 and 1.5 <= delays[1] <= 2.0
    assert all(d <= 30.0 for d in delays) and delays[-1] >= 22.5
    assert len({round(d, 6) for d in delays[-4:]}) == 4  # jittered


# --- the loop outlives an outage (in-process, deterministic) ----------------------------------


def _locked() -> OperationalError:
    return _wrapped(sqlite3.OperationalError("database is locked"))  # type: ignore[return-value]


def test_an_outage_is_logged_once_waited_out_and_recorded(
    sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOOP_LOG)
    stop, calls = threading.Event(), Counter[str]()

    def flaky(store: Store) -> None:
        calls["flaky"] += 1
        if 2 <= calls["flaky"] <= 5:
            raise _locked()

    def broken(store: Store) -> None:
        calls["broken"] += 1
        raise RuntimeError("a bug")

    def counting(store: Store) -> None:
        calls["after"] += 1
        if calls["after"] == 3:
            stop.set()

    run_forever(
        sqlite_store,
        lambda lease: Ticking(),
        steps=[flaky, broken, counting],
        poll_s=0.01,
        stop=stop,
        owner="w1",
        backoff=OutageBackoff(first_s=0.01, cap_s=0.02, steady_s=0),
    )
    assert calls == {"flaky": 7, "broken": 3, "after": 3}  # the steps after a database error wait for the next pass
    messages = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == LOOP_LOG]
    warnings = [m for level, m in messages if level == logging.WARNING]
    assert len(warnings) == 2 and warnings[0].startswith("worker: the database is unreachable (database is locked)")
    assert "retrying in 1 s" in warnings[0]
    assert warnings[1].startswith("worker: the database is back after") and warnings[1].endswith("; carrying on")
    errors = [r for r in caplog.records if r.name == LOOP_LOG and r.levelno == logging.ERROR]
    assert len(errors) == 3 and all(r.exc_info and "a bug" in str(r.exc_info[1]) for r in errors)
    with sqlite_store.read() as session:
        row = session.get(WorkerStatus, "w1")
    assert row is not None and row.outages == 1 and row.last_error == "database is locked"
    assert row.last_outage_started_at is not None and row.last_outage_ended_at is not None
    assert row.last_outage_started_at <= row.last_outage_ended_at and row.stopped_at is not None


# --- the leases a failed pass left ---------------------------------------------------------------


def _sources(store: Store) -> dict[str, Source]:
    with store.read() as session:
        return {source.name: source for source in session.scalars(select(Source))}


@pytest.mark.parametrize("failure", ["database", "bug", "then-stop"])
def test_the_leases_a_failed_pass_left_are_handed_back_at_once(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, failure: str
) -> None:
    import console.worker.fetch_step as fetch_step_module
    import console.worker.loop as loop_module

    caplog.set_level(logging.INFO, logger=LOOP_LOG)
    with sqlite_store.transaction() as session:
        session.add_all([Source(name=name, platform="x", kind="mentions", interval_s=3600) for name in "abc"])
    b_id = _sources(sqlite_store)["b"].id
    runs, stop, passes, failed = Counter[str](), threading.Event(), [0], list[str]()

    def factory(lease: Any) -> Ticking:
        runs[lease.name] += 1
        if failure == "bug" and lease.name == "a":
            raise FatalError("no credentials for a")
        return Ticking()

    real_ingest, real_record = fetch_step_module.ingest_batch, loop_module.record_failure

    def ingest(session: Any, *args: Any, **kw: Any) -> Any:
        if failure != "bug" and kw["source_id"] == b_id and not failed:
            failed.append("ingest")
            if failure == "then-stop":
                stop.set()  # Ctrl-C while the database is out: the loop ends after this pass
            raise _locked()  # the database fails in the middle of source b, with c not run yet
        return real_ingest(session, *args, **kw)

    def record(*args: Any) -> Any:
        if not failed:
            failed.append("record")
            raise RuntimeError("a bug in the error path")  # escapes run_once with b and c leased
        return real_record(*args)

    def done() -> bool:
        return runs["c"] >= 1 and runs["b"] >= (2 if failure == "database" else 1)

    def watch(store: Store) -> None:
        passes[0] += 1
        if done() or passes[0] >= 20:
            stop.set()

    monkeypatch.setattr(fetch_step_module, "ingest_batch", ingest)
    monkeypatch.setattr(loop_module, "record_failure", record)
    run_forever(
        sqlite_store,
        factory,
        steps=[watch],
        poll_s=0.01,
        stop=stop,
        owner="w1",
        backoff=OutageBackoff(first_s=0.01, cap_s=0.02, steady_s=0),
    )
    sources = _sources(sqlite_store)
    assert all(s.lease_owner is None and s.lease_until is None for s in sources.values())
    handed_back = [m for m in (r.getMessage() for r in caplog.records if r.name == LOOP_LOG) if "handed back" in m]
    if failure == "then-stop":
        assert runs == {"a": 1, "b": 1} and passes[0] == 0
        assert handed_back == ["worker: handed back 2 source lease(s) on stopping"]
        assert sources["c"].next_run_at is None  # never ran: due at the next start, not in five minutes
        assert (worker_row(sqlite_store, "w1") or WorkerStatus()).stopped_at is not None
        return
    assert done() and passes[0] == 1  # the pass after the failed one ran them: no wait for LEASE_S
    if failure == "database":
        assert runs == {"a": 1, "b": 2, "c": 1} and handed_back == [
            "worker: handed back 2 source lease(s) a failed pass left"
        ]
        assert sources["b"].consecutive_failures == 0  # the outage is not the source's fault
    else:
        assert runs == {"a": 2, "b": 1, "c": 1}
        assert handed_back == ["worker: handed back 3 source lease(s) a failed pass left"]
        assert sources["a"].consecutive_failures == 1 and sources["a"].last_error == "stopped: no credentials for a"
        errors = [r for r in caplog.records if r.name == LOOP_LOG and r.levelno == logging.ERROR]
        assert len(errors) == 1 and errors[0].getMessage() == "worker pass failed" and errors[0].exc_info
    assert all(s.cursor == "1" for s in sources.values() if s.name != "a" or failure == "database")


# --- real outages against a running worker ------------------------------------------------------


class Ticking:
    """A source that has one new mention on every fetch; the cursor says which."""

    platform: ClassVar[str] = "x"

    def fetch(self, cursor: str | None, *, limit: int = 100) -> Batch:
        n = int(cursor or 0)
        return Batch([make_mention(n)], str(n + 1), False)

    def reply(self, to: Mention, text: str, *, idempotency_key: str) -> PostedReply:
        raise FatalError("this double never replies")


def mention_count(store: Store) -> int:
    with store.read() as session:
        return session.scalar(select(func.count()).select_from(MentionRow)) or 0


def worker_row(store: Store, owner: str) -> WorkerStatus | None:
    with store.read() as session:
        return session.get(WorkerStatus, owner)


class RunningWorker:
    """``run_forever`` in a thread, on its own store, with a fast-ticking source."""

    def __init__(self, store: Store, owner: str) -> None:
        with store.transaction() as session:
            session.add(Source(name="tick", platform="x", kind="mentions", interval_s=1))
        self.store, self.owner, self.stop = store, owner, threading.Event()
        self.thread = threading.Thread(
            target=run_forever,
            args=(store, lambda lease: Ticking()),
            daemon=True,
            kwargs={
                "poll_s": 0.1,
                "stop": self.stop,
                "owner": owner,
                "backoff": OutageBackoff(first_s=0.3, cap_s=1.5, steady_s=2),
            },
        )

    def __enter__(self) -> RunningWorker:
        self.thread.start()
        wait_until(lambda: mention_count(self.store) >= 2, 30, "the worker to ingest before the outage")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)
        self.store.dispose()


def _loop_warnings(caplog: pytest.LogCaptureFixture, start: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOOP_LOG and r.getMessage().startswith(start)]


@pytest.mark.pg
@pytest.mark.slow
def test_a_worker_whose_postgresql_backends_are_terminated_for_10_s_goes_on_ingesting(
    pg_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOOP_LOG)
    app = f"mdfault_{uuid.uuid4().hex[:8]}"
    owner = f"pg-fault:{os.getpid()}"
    with RunningWorker(open_store(f"{pg_store.url}&application_name={app}"), owner) as worker:
        killed, deadline = 0, time.monotonic() + 10
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            while time.monotonic() < deadline:
                killed += len(
                    admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid() AND application_name = %s",
                        (app,),
                    ).fetchall()
                )
                time.sleep(0.02)
        after_outage = mention_count(pg_store)
        assert killed > 0 and worker.thread.is_alive()
        wait_until(lambda: mention_count(pg_store) > after_outage + 1, 30, "ingesting after the outage")
        wait_until(lambda: (worker_row(pg_store, owner) or WorkerStatus(outages=0)).outages >= 1, 30, "the outage row")
        assert worker.thread.is_alive()
    row = worker_row(pg_store, owner)
    assert row is not None and row.last_outage_started_at and row.last_outage_ended_at and row.last_error
    assert row.stopped_at is not None
    unreachable = _loop_warnings(caplog, "worker: the database is unreachable (")
    back = _loop_warnings(caplog, "worker: the database is back after ")
    assert 1 <= len(unreachable) == len(back) == row.outages  # once per outage, each one recorded when it ended
    assert not [r for r in caplog.records if r.name == LOOP_LOG and r.exc_info]  # no traceback per retry


@pytest.mark.slow
def test_a_worker_locked_out_of_sqlite_for_10_s_goes_on_ingesting(
    sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOOP_LOG)
    store = open_store(sqlite_store.url)
    event.listen(store.engine, "connect", lambda conn, _: conn.execute("PRAGMA busy_timeout=200"))  # after 10 s one
    with RunningWorker(store, "sqlite-fault:1") as worker:
        locker = sqlite3.connect(sqlite_store.url.removeprefix("sqlite:///"), isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock: every write of the worker fails
        locked_until = time.monotonic() + 10
        wait_until(lambda: _loop_warnings(caplog, "worker: the database is unreachable ("), 30, "the worker to notice")
        assert mention_count(sqlite_store) >= 2  # the console's reads go on meanwhile
        time.sleep(max(0.0, locked_until - time.monotonic()))  # the outage lasts 10 s: fifty busy timeouts
        locker.execute("COMMIT")
        locker.close()
        after_outage = mention_count(sqlite_store)
        wait_until(lambda: mention_count(sqlite_store) > after_outage, 30, "ingesting after the lock")
        wait_until(lambda: _loop_warnings(caplog, "worker: the database is back after "), 30, "the all-clear")
        assert worker.thread.is_alive()
    row = worker_row(sqlite_store, "sqlite-fault:1")
    assert row is not None and row.outages == 1 and row.last_error == "database is locked"
    assert row.last_outage_started_at and row.last_outage_ended_at
    assert row.last_outage_ended_at - row.last_outage_started_at >= timedelta(seconds=8)  # capped backoff: no big lag
    assert len(_loop_warnings(caplog, "worker: the database is unreachable (database is locked); retrying in")) == 1


# --- health in words ------------------------------------------------------------------------------


def test_worker_health_reads_as_running_stopped_or_silent_with_the_last_outage(sqlite_store: Store) -> None:
    now = datetime(2026, 11, 2, 12, 5, tzinfo=UTC)
    start = datetime(2026, 11, 2, 12, 3, 4, tzinfo=UTC)
    rows = [
        WorkerStatus(
            owner="a:1",
            host="a",
            pid=1,
            heartbeat_at=now - timedelta(seconds=4),
            outages=2,
            last_outage_started_at=start,
            last_outage_ended_at=start + timedelta(seconds=12),
            last_error="server closed the connection unexpectedly",
        ),
        WorkerStatus(owner="b:2", host="b", pid=2, heartbeat_at=now - timedelta(minutes=3), outages=0),
        WorkerStatus(
            owner="c:3",
            host="c",
            pid=3,
            heartbeat_at=now - timedelta(minutes=1),
            outages=0,
            stopped_at=now - timedelta(minutes=1),
        ),
        WorkerStatus(owner="d:4", host="d", pid=4, heartbeat_at=now - timedelta(days=3), outages=0),
    ]
    with sqlite_store.transaction() as session:
        session.add_all(rows)
    assert [worker_state(r, now) for r in rows[:3]] == ["running", "silent for 3 min", "stopped"]
    assert outage_words(rows[0], ZoneInfo("UTC")) == (
        "12:03:04–12:03:16 UTC (12 s): server closed the connection unexpectedly"
    )
    assert outage_words(rows[0], ZoneInfo("Europe/London")).startswith("12:03:04–12:03:16 GMT (12 s)")
    with sqlite_store.read() as session:
        views = workers_overview(session, now, ZoneInfo("UTC"))
    assert [(v.owner, v.last_heartbeat, v.state) for v in views] == [
        ("a:1", "4 s ago", "running"),
        ("c:3", "1 min ago", "stopped"),
        ("b:2", "3 min ago", "silent for 3 min"),
    ]


def test_mentiondesk_sources_prints_the_workers(sqlite_store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    from console.cli import main

    now = datetime.now(UTC)
    with sqlite_store.transaction() as session:
        session.add(
            WorkerStatus(
                owner="desk-1:42",
                host="desk-1",
                pid=42,
                heartbeat_at=now,
                outages=1,
                last_outage_started_at=now - timedelta(minutes=5),
                last_outage_ended_at=now - timedelta(minutes=5) + timedelta(seconds=12),
                last_error="server closed the connection unexpectedly",
            )
        )
    assert main(["sources", "--database-url", sqlite_store.url]) == 0
    out = capsys.readouterr().out
    assert "Workers" in out and "desk-1:42" in out and "running" in out
    assert "(12 s): server closed the connection unexpectedly" in " ".join(out.split())


def test_the_sources_page_shows_each_workers_heartbeat_and_last_outage(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    page = str(ROOT / "console" / "app_pages" / "sources.py")
    monkeypatch.setenv("MENTIONDESK_DATABASE_URL", sqlite_store.url)
    st.cache_resource.clear()
    try:
        empty = AppTest.from_file(page, default_timeout=60).run()
        assert not empty.exception and "No worker has been seen" in empty.warning[0].value
        now = datetime.now(UTC)
        with sqlite_store.transaction() as session:
            session.add(
                WorkerStatus(
                    owner="desk-1:42",
                    host="desk-1",
                    pid=42,
                    heartbeat_at=now,
                    outages=2,
                    last_outage_started_at=now - timedelta(seconds=30),
                    last_outage_ended_at=now - timedelta(seconds=18),
                    last_error="server closed the connection unexpectedly",
                )
            )
        at = AppTest.from_file(page, default_timeout=60).run()
    finally:
        st.cache_resource.clear()
    assert not at.exception
    (row,) = at.dataframe[0].value.to_dict("records")
    assert (row["Worker"], row["State"], row["Outages"]) == ("desk-1:42", "running", 2)
    assert row["Last outage"].endswith("(12 s): server closed the connection unexpectedly")


# --- kill -9 while sending ------------------------------------------------------------------------

CHILD = """
import json, logging, signal, sys, threading, urllib.error, urllib.parse, urllib.request
from datetime import datetime
from connectors.base import Batch, PostedReply, RetriableError
from console.services.store import open_store
from console.worker.loop import run_forever
from console.worker.outbox_step import outbox_step

URL, BASE, LOOKUP = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
logging.basicConfig(level=logging.WARNING)


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise RetriableError(f"the platform answered {exc.code}") from None


def posted(d):
    return PostedReply(d["id"], d["url"], datetime.fromisoformat(d["at"]))


class Platform:
    platform = "x"

    def fetch(self, cursor, *, limit=100):
        return Batch([], cursor, False)

    def reply(self, to, text, *, idempotency_key):
        return posted(call("POST", "/reply", {"to": to.external_id, "text": text, "key": idempotency_key}))


class Searchable(Platform):
    def find_reply(self, to, text):
        found = call("GET", "/find?" + urllib.parse.urlencode({"to": to.external_id, "text": text}))
        return None if found is None else posted(found)


connector = Searchable() if LOOKUP else Platform()
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
run_forever(open_store(URL), lambda lease: connector, steps=[outbox_step(lambda lease: connector)], poll_s=0.05,
            stop=stop)
"""


class FakePlatform:
    """A network on 127.0.0.1 that keeps every post it accepted; it can kill the worker after accepting one."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.lock = threading.Lock()
        self.posts: list[tuple[str, str, str]] = []
        self.sending_at_post: list[int] = []
        self.kill_after: tuple[int, int] | None = None  # (post number, pid)
        self.in_flight = 0

    def count(self) -> int:
        with self.lock:
            return len(self.posts)

    def idle(self) -> bool:
        with self.lock:
            return self.in_flight == 0

    def accept(self, to: str, text: str, key: str) -> tuple[int, int | None]:
        with self.lock:
            self.posts.append((to, text, key))
            n = len(self.posts)
            victim = self.kill_after[1] if self.kill_after and self.kill_after[0] == n else None
        with self.store.read() as session:
            sending = session.scalar(select(func.count()).select_from(Reply).where(Reply.state == ReplyState.SENDING))
        with self.lock:
            self.sending_at_post.append(sending or 0)
        return n, victim

    def find(self, to: str, text: str) -> int | None:
        with self.lock:
            return next((n for n, post in enumerate(self.posts, 1) if post[:2] == (to, text)), None)

    def handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        platform = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self, n: int | None) -> None:
                if n is None:
                    self.send_error(404)
                    return
                body = json.dumps(
                    {
                        "id": f"p-{n}",
                        "url": f"https://x.example/brand/status/p-{n}",
                        "at": datetime.now(UTC).isoformat(),
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _counted(self, work: Callable[[], None]) -> None:
                with platform.lock:
                    platform.in_flight += 1
                try:
                    work()
                finally:
                    with platform.lock:
                        platform.in_flight -= 1

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                def post() -> None:
                    data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                    n, victim = platform.accept(data["to"], data["text"], data["key"])
                    if victim is not None:  # accepted, and the worker dies before it hears so
                        os.kill(victim, signal.SIGKILL)
                        self.close_connection = True
                        return
                    self._answer(n)

                self._counted(post)

            def do_GET(self) -> None:  # noqa: N802
                def get() -> None:
                    query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                    self._answer(platform.find(query["to"][0], query["text"][0]))

                self._counted(get)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a worker killed mid-request breaks its connection: that is the point


@pytest.fixture
def fake_platform(store: Store) -> Iterator[tuple[FakePlatform, str]]:
    platform = FakePlatform(store)
    server = QuietServer(("127.0.0.1", 0), platform.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield platform, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _queue_replies(store: Store, n: int) -> None:
    with store.transaction() as session:
        session.add(Source(name="fake-x", platform="x", kind="mentions", interval_s=3600))
        session.flush()
        source_id = session.scalar(select(Source.id))
        ingest_batch(session, make_batch(n), source_id=source_id)
        for i, mention_id in enumerate(session.scalars(select(MentionRow.id).order_by(MentionRow.id))):
            queue_reply(session, mention_id, f"Reply {i}: so sorry about that", None, f"key-{i}")


def _states(store: Store) -> dict[str, ReplyState]:
    with store.read() as session:
        return {key: state for key, state in session.execute(select(Reply.idempotency_key, Reply.state))}


def _manager(store: Store) -> Actor:
    with store.transaction() as session:
        user = User(username="maya", display_name="Maya", role=Role.MANAGER, password_hash="-")
        session.add(user)
        session.flush()
        return Actor.of(user)


@pytest.mark.slow
@pytest.mark.parametrize("lookup", [True, False], ids=["platform-search", "no-search"])
def test_kill_9_while_sending_strands_nothing_and_posts_nothing_twice(
    store: Store, fake_platform: tuple[FakePlatform, str], tmp_path: Path, lookup: bool
) -> None:
    platform, base = fake_platform
    replies, rng = 80, random.Random(20261102 + lookup)
    _queue_replies(store, replies)
    script = tmp_path / "fault_worker.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MENTIONDESK_DATABASE_URL", None)

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, str(script), store.url, base, "1" if lookup else "0"], cwd=ROOT, env=env
        )

    kills = ["after-accept", "any-moment"] * 3
    rng.shuffle(kills)
    for kind in kills:
        worker = start()
        target = platform.count() + rng.randint(3, 9)
        if kind == "after-accept":
            platform.kill_after = (target, worker.pid)
        else:
            wait_until(lambda: platform.count() >= target, 60, f"post {target}")  # noqa: B023 - called right here
            time.sleep(rng.uniform(0, 0.03))  # somewhere in claiming, posting or recording the next one
            worker.kill()
        assert worker.wait(60) == -signal.SIGKILL
        wait_until(platform.idle, 10, "the platform to finish the request it was serving")
        with store.read() as session:
            assert (session.scalar(select(func.count()).where(Reply.state == ReplyState.SENDING)) or 0) <= 1
    worker = start()
    settled = (ReplyState.SENT, ReplyState.NEEDS_ATTENTION)
    wait_until(lambda: all(s in settled for s in _states(store).values()), 60, "every reply to be settled")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(30) == 0

    posted = Counter(key for _, _, key in platform.posts)
    assert max(posted.values()) == 1, [k for k, n in posted.items() if n > 1]  # nothing posted twice
    assert max(platform.sending_at_post) == 1  # one reply in flight at a time
    states = _states(store)
    assert len(states) == replies and all(states[key] in settled for key in posted)
    assert all(key in posted for key, state in states.items() if state is ReplyState.SENT)
    parked = [key for key, state in states.items() if state is ReplyState.NEEDS_ATTENTION]
    with store.read() as session:
        recovered = session.scalar(select(func.count()).where(AuditEntry.action == "reply.recovered")) or 0
    if lookup:  # a reply the platform took is found, so only replies that never reached it are parked
        assert recovered >= 3 and not [key for key in parked if key in posted]
    else:
        assert recovered == 0 and len([key for key in parked if key in posted]) >= 3
    maya = _manager(store)
    for key in parked:  # a manager checks each thread and settles it
        with store.transaction() as session:
            reply_id = session.scalar(select(Reply.id).where(Reply.idempotency_key == key))
            settle_reply(session, maya, reply_id, posted=key in posted, url=None)  # type: ignore[arg-type]
    final = _states(store)
    assert {key for key, s in final.items() if s is ReplyState.SENT} == set(posted)
    assert all(s is ReplyState.FAILED for key, s in final.items() if key not in posted)
