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
    cmd = [sys.executable, "-m", "console.cli", "demo", "--port", str(port), "--mentions", "1200"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        wait_for(lambda: health(port), 120, "the console's health endpoint")
        store = open_store(url)

        def mentions() -> int:
            with store.read() as s:
                return s.scalar(select(func.count()).select_from(Mention)) or 0

        seeded = mentions()
        assert seeded >= 1_000
        wait_for(lambda: mentions() > seeded, 60, "the live demo source to add mentions")

        def healthy() -> set[str]:
            with store.read() as s:
                return set(s.scalars(select(Source.name).where(Source.health == "healthy")).all())

        # The worker polls the sources one after another: the first may add mentions before the last is polled.
        wait_for(lambda: {"demo-skyline", "demo-nimbus", "demo-parcelo"} <= healthy(), 60, "every demo source")
        store.dispose()
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    text = out.decode()
    assert "demo logins" in text and "jamie" in text
    assert proc.returncode == 0 or proc.returncode == -15, text[-2000:]
