"""Shared fixtures: real SQLite files and a real PostgreSQL schema, migrated by Alembic."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from console.services.store import Store, open_store
from storage import migrate
from storage.models import Base

PG_URL = os.environ.get("MENTIONDESK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
DATA_DIR = Path(os.environ.get("MENTIONDESK_DATA_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "data"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared real data sets; skipped with a reason where they are absent (never in CI)."""
    if not DATA_DIR.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"shared data missing at {DATA_DIR}")
        pytest.skip(f"shared data not found at {DATA_DIR}")
    return DATA_DIR


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test so migrations run once."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


def _pg_schema_url(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh schema in the real PostgreSQL, migrated to head, dropped at the end."""
    schema = f"t_{uuid.uuid4().hex[:10]}"
    try:
        conn = psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_URL}: {exc}".splitlines()[0])
    with conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = _pg_schema_url(schema)
    migrate.upgrade(url)
    yield url
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _truncate_pg(store: Store) -> None:
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with store.engine.begin() as conn:
        conn.execute(text("SET session_replication_role = replica"))  # lets TRUNCATE pass the audit guard
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        conn.execute(text("SET session_replication_role = DEFAULT"))


@pytest.fixture
def sqlite_store(sqlite_template: Path, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty SQLite store of this test's own."""
    path = tmp_path / "store.db"
    shutil.copy(sqlite_template, path)
    store = open_store(f"sqlite:///{path}")
    yield store
    store.dispose()


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Store]:
    """The migrated PostgreSQL schema, emptied after the test."""
    store = open_store(pg_url)
    yield store
    _truncate_pg(store)
    store.dispose()


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def store(request: pytest.FixtureRequest) -> Store:
    """Run the test on real SQLite and on real PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_store")
