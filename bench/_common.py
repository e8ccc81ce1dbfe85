"""Helpers shared by the benchmarks: fresh stores, timing, result lines."""

from __future__ import annotations

import os
import platform
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

PG_URL = os.environ.get("MENTIONDESK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def result(name: str, value: float, unit: str = "") -> None:
    """The line the benchmark harness reads: ``RESULT <name> <value> <unit>``."""
    print(f"RESULT {name} {value:.6g} {unit}".rstrip(), flush=True)


def machine() -> str:
    """What ran the benchmark, for docs/benchmarks.md."""
    return f"{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()}"


@contextmanager
def timer() -> Iterator[list[float]]:
    """``with timer() as t: ...`` then ``t[0]`` is the elapsed seconds."""
    box = [0.0]
    start = time.perf_counter()
    yield box
    box[0] = time.perf_counter() - start


@contextmanager
def pg_schema() -> Iterator[str]:
    """A throwaway schema in the real PostgreSQL; its URL routes every connection there."""
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def sqlite_file(directory: Path, name: str) -> str:
    """A fresh SQLite URL in ``directory``."""
    path = directory / name
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"
