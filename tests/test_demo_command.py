"""`mentiondesk demo` end to end: seeds, serves the console, and the worker keeps mentions arriving."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

import pytest
from sqlalchemy import func, select

from console.services.store import open_store
from storage.models import Mention, Source

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def health(port: int) -> bool:
    try:
        with urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:  # noqa: S310
            return response.read() == b"ok"
    except (URLError, OSError):
        return False


@pytest.mark.slow
def test_demo_serves_the_console_on_a_seeded_live_store(tmp_path: Path) -> None:
    port, url = free_port(), f"sqlite:///{tmp_path / 'demo.db'}"
    env = {**os.environ, "MENTIONDESK_DATABASE_URL": url}
    cmd = [sys.executable, "-m", "console.cli", "demo", "--port", str(port), "--mentions", "12000", "--days", "1"]
    # A file, not a pipe: the worker logs every escalation of the seeded backlog (~150 KB in the first minutes),
    # and a pipe read only at the end fills at 64 KB and blocks the worker before its first live fetch.
    log_path = tmp_path / "demo.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        wait_for(lambda: health(port), 120, "the console's health endpoint")
        store = open_store(url)

        def mentions() -> int:
            with store.read() as s:
                return s.scalar(select(func.count()).select_from(Mention)) or 0

        seeded = mentions()
        assert seeded >= 1_000
        wait_for(lambda: mentions() > seeded, 180, "the live demo source to add mentions")  # worker start + model load

        def healthy() -> set[str]:
            with store.read() as s:
                return set(s.scalars(select(Source.name).where(Source.health == "healthy")).all())

        # The worker polls the sources one after another: the first may add mentions before the last is polled.
        wait_for(lambda: {"demo-skyline", "demo-nimbus", "demo-parcelo"} <= healthy(), 60, "every demo source")
        store.dispose()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    text = log_path.read_text(errors="replace")
    assert "demo logins" in text and "jamie" in text
    assert proc.returncode == 0 or proc.returncode == -15, text[-2000:]


# --- the store URL: resolved once, where the user ran the command -----------------------------------------------


def test_a_relative_sqlite_url_is_resolved_once_in_the_run_folder(tmp_path: Path, monkeypatch) -> None:
    from console.commands.demo import console_child, worker_child
    from storage.db import resolve_url

    monkeypatch.delenv("MENTIONDESK_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    url = resolve_url(None)
    assert url == f"sqlite:///{tmp_path / '.mentiondesk' / 'mentiondesk.db'}"
    monkeypatch.setenv("MENTIONDESK_DATABASE_URL", "sqlite:///stores/team.db")
    assert resolve_url(None) == f"sqlite:///{tmp_path / 'stores' / 'team.db'}"
    # Both children get the absolute URL in the variable that wins over --database-url, and run in this folder.
    for child in (console_child(8600, url), worker_child(url)):
        assert child.env["MENTIONDESK_DATABASE_URL"] == url
        assert "-P" in child.cmd  # the run folder is not on sys.path: a storage/ folder there cannot shadow ours


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:////srv/md.db", "sqlite:////srv/md.db"),
        ("sqlite://", "sqlite://"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("postgresql://md@db/md", "postgresql://md@db/md"),
        ("sqlite:///a/../b.db?timeout=3", "sqlite:////base/b.db?timeout=3"),
    ],
)
def test_only_relative_sqlite_paths_change(url: str, expected: str) -> None:
    from storage.db import absolute_sqlite_url

    assert absolute_sqlite_url(url, Path("/base")) == expected


# --- the supervisor: the console keeps serving while the worker restarts -----------------------------------------


def child(name: str, code: str, **env: str):  # type: ignore[no-untyped-def]
    from console.commands.demo import ChildSpec

    return ChildSpec(name, [sys.executable, "-c", code], {**os.environ, **env})


FLAKY_WORKER = "import os, sys; open(os.environ['RUNS'], 'a').write('run\\n'); sys.exit(1)"
# The console keeps running until the worker has been started four times, then exits with 3.
PATIENT_CONSOLE = """
import os, sys, time
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    if os.path.exists(os.environ['RUNS']) and open(os.environ['RUNS']).read().count('run') >= 4:
        sys.exit(3)
    time.sleep(0.02)
sys.exit(9)
"""
SLEEPER = "import os, time; open(os.environ['PIDFILE'], 'w').write(str(os.getpid())); time.sleep(60)"


@pytest.fixture
def fast_poll(monkeypatch) -> None:
    monkeypatch.setattr("console.commands.demo.POLL_S", 0.02)


def test_the_worker_is_restarted_with_a_capped_backoff_while_the_console_keeps_serving(
    tmp_path: Path, fast_poll, capsys
) -> None:
    from console.commands.demo import Backoff, _supervise

    runs = str(tmp_path / "runs")
    code = _supervise(
        child("console", PATIENT_CONSOLE, RUNS=runs),
        child("worker", FLAKY_WORKER, RUNS=runs),
        Backoff(first=0.05, cap=0.1, stable=30),
    )
    assert code == 3  # the console, never stopped by the worker's exits, ended the demo with its own code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "the worker stopped" in line]
    assert lines[:3] == [
        "mentiondesk: the worker stopped (exit 1); restarting in 0.05 s",
        "mentiondesk: the worker stopped (exit 1); restarting in 0.1 s",
        "mentiondesk: the worker stopped (exit 1); restarting in 0.1 s",
    ]
    assert "mentiondesk: the console stopped (exit 3)" in err


def test_a_worker_that_ran_a_while_restarts_after_the_first_delay_again() -> None:
    from console.commands.demo import Backoff

    backoff = Backoff(first=5, cap=60, stable=60)
    delays = [backoff.next(None, 1)]
    for _ in range(5):
        delays.append(backoff.next(delays[-1], 1))
    assert delays == [5, 10, 20, 40, 60, 60]
    assert backoff.next(60, 3600) == 5


def wait_for_pid(path: Path) -> int:
    wait_for(lambda: path.exists() and path.read_text(), 10, f"{path.name} to be written")
    return int(path.read_text())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_console_exiting_stops_the_worker_and_gives_its_exit_code(tmp_path: Path, fast_poll) -> None:
    from console.commands.demo import _supervise

    pidfile = tmp_path / "worker.pid"
    console = "import os, sys, time\nwhile not os.path.exists(os.environ['PIDFILE']): time.sleep(0.02)\nsys.exit(2)"
    code = _supervise(child("console", console, PIDFILE=str(pidfile)), child("worker", SLEEPER, PIDFILE=str(pidfile)))
    assert code == 2
    assert not alive(wait_for_pid(pidfile))


def test_sigterm_stops_the_console_and_the_worker(tmp_path: Path, fast_poll) -> None:
    import signal
    import threading

    from console.commands.demo import _supervise

    console_pid, worker_pid = tmp_path / "console.pid", tmp_path / "worker.pid"

    def send_sigterm_once_both_run() -> None:
        wait_for_pid(console_pid), wait_for_pid(worker_pid)
        os.kill(os.getpid(), signal.SIGTERM)  # the supervisor's handler is in place before any child starts

    before = signal.getsignal(signal.SIGTERM)
    sender = threading.Thread(target=send_sigterm_once_both_run)
    sender.start()
    code = _supervise(
        child("console", SLEEPER, PIDFILE=str(console_pid)), child("worker", SLEEPER, PIDFILE=str(worker_pid))
    )
    sender.join()
    assert code == 0
    assert not alive(int(console_pid.read_text())) and not alive(int(worker_pid.read_text()))
    assert signal.getsignal(signal.SIGTERM) == before
