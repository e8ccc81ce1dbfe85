"""PostgreSQL exports in parts: two connections, one snapshot, every row once and in order."""

from __future__ import annotations

import csv
import threading
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest

from console.services import export_adbc, export_pg
from console.services.export import export_mentions
from console.services.mention_query import MentionFilters
from storage.models import Mention
from tests import dashboard_data as D

pytestmark = pytest.mark.pg

TIE = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)  # m3's time: six rows share it, and the median row is one of them


def _fill(store):
    brands = D.build(store)
    with store.transaction() as s:
        s.add_all(
            Mention(platform="x", external_id=f"tie{i}", text=f"+tie {i}", created_at=TIE, fetched_at=TIE)
            for i in range(5)
        )
    return brands


def _export(store, fmt, path, filters=MentionFilters(), parts=True, monkeypatch=None, **kw):
    monkeypatch.setattr(export_pg, "PARALLEL_MIN_ROWS", 1 if parts else 10**9)
    with store.read() as session:
        return export_mentions(session, filters, fmt, path, **kw)


def _no_adbc():
    raise export_adbc.Unavailable("adbc-driver-postgresql is not installed (test)")


def _csv(path):
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_split_cuts_at_the_median_and_keeps_ties_together(pg_store, monkeypatch):
    _fill(pg_store)
    monkeypatch.setattr(export_pg, "PARALLEL_MIN_ROWS", 1)
    with export_pg.snapshot_connections(pg_store.engine, 2) as (first, _):
        parts = export_pg.split(first, MentionFilters())
    assert [(p.since, p.until) for p in parts] == [(None, TIE), (TIE, None)]


def test_parts_match_one_query_row_for_row(pg_store, tmp_path, monkeypatch):
    _fill(pg_store)
    seen: list[int] = []
    one = _export(pg_store, "csv", tmp_path / "one.csv", parts=False, monkeypatch=monkeypatch)
    two = _export(pg_store, "csv", tmp_path / "two.csv", monkeypatch=monkeypatch, chunk_rows=2, progress=seen.append)
    assert one.rows == two.rows == sum(seen) == 15
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "two.csv").read_bytes()
    rows = _csv(tmp_path / "two.csv")
    keys = [(r["created_at_utc"], int(r["id"])) for r in rows]
    assert keys == sorted(keys) and len(set(keys)) == 15  # in order, none doubled at the cut
    assert {r["text"] for r in rows if r["external_id"].startswith("tie")} == {f"'+tie {i}" for i in range(5)}
    assert next(r for r in rows if r["external_id"] == "m1")["text"] == "'" + D.INJECTION  # neutralised by COPY


def test_parquet_parts_match_one_query(pg_store, tmp_path, monkeypatch):
    _fill(pg_store)
    _export(pg_store, "parquet", tmp_path / "one.parquet", parts=False, monkeypatch=monkeypatch)
    _export(pg_store, "parquet", tmp_path / "two.parquet", monkeypatch=monkeypatch, chunk_rows=4)
    one, two = pq.read_table(tmp_path / "one.parquet"), pq.read_table(tmp_path / "two.parquet")
    assert one.equals(two) and two.num_rows == 15
    assert pq.ParquetFile(tmp_path / "two.parquet").metadata.num_row_groups == 4  # 4+4+4+3 across the cut


def test_parts_respect_filters(pg_store, tmp_path, monkeypatch):
    brands = _fill(pg_store)
    filters = MentionFilters(since=D.START, until=D.END, brand_ids=[brands["Skyline"]], include_brand_posts=False)
    _export(pg_store, "csv", tmp_path / "one.csv", filters, parts=False, monkeypatch=monkeypatch)
    _export(pg_store, "csv", tmp_path / "two.csv", filters, monkeypatch=monkeypatch)
    assert [r["external_id"] for r in _csv(tmp_path / "two.csv")] == ["m1", "m2", "m3", "m6"]
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "two.csv").read_bytes()


def test_parts_read_one_snapshot(pg_store):
    _fill(pg_store)
    with export_pg.snapshot_connections(pg_store.engine, 2) as connections:
        with pg_store.transaction() as s:  # committed after the snapshot: neither part may see it
            s.add(Mention(platform="x", external_id="later", text="later", created_at=TIE, fetched_at=TIE))
        counts = [c.exec_driver_sql("SELECT count(*) FROM mentions").scalar() for c in connections]
    assert counts == [15, 15]


@pytest.mark.parametrize("fmt", ["csv", "parquet", "copy-csv"])
def test_failed_background_part_leaves_no_file(pg_store, tmp_path, monkeypatch, fmt):
    _fill(pg_store)
    module, name = (export_adbc, "typed_batches")
    if fmt == "copy-csv":  # the CSV path without ADBC
        monkeypatch.setattr(export_adbc, "_dbapi", _no_adbc)
        module, name, fmt = export_pg, "copy_rows", "csv"
    real = getattr(module, name)

    def boom(*args, **kwargs):
        if threading.current_thread().name in ("export-part", "export-turn-1"):  # the second part's thread
            raise RuntimeError("connection lost")
        yield from real(*args, **kwargs)

    monkeypatch.setattr(module, name, boom)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(RuntimeError, match="connection lost"):
        _export(pg_store, fmt, out / f"m.{fmt}", monkeypatch=monkeypatch)
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    "filters",
    [
        MentionFilters(),
        MentionFilters(
            since=datetime(2026, 11, 1, tzinfo=UTC),
            brand_ids=[1, 2],
            platforms=["x"],
            search="o'hare 50%",
            topics=["delay"],
            statuses=["open"],
            include_brand_posts=False,
        ),
        MentionFilters(until=datetime(2027, 1, 1, tzinfo=UTC), sentiments=["negative"]),
    ],
)
def test_literal_sqls_compile_once_and_equal_one_compile_a_part(pg_store, filters):
    import dataclasses

    cuts = [datetime(2026, 11, d, 12, 0, 0, 1000 * d, tzinfo=UTC) for d in (2, 3, 4)]
    bounds = [filters.since, *cuts, filters.until]
    parts = [dataclasses.replace(filters, since=lo, until=hi) for lo, hi in zip(bounds, bounds[1:], strict=False)]
    cells = [Mention.id, Mention.text, Mention.created_at]
    with export_pg.snapshot_connections(pg_store.engine, 1) as (connection,):
        ours = export_pg.literal_sqls(connection, cells, parts)
        assert ours == [export_pg.literal_sql(connection, cells, part) for part in parts]
        assert "2026-11-03T12:00:00.003000" in ours[1].replace(" ", "T") and "1901" not in "".join(ours)
        for sql in ours:
            connection.exec_driver_sql(f"EXPLAIN {sql.replace('%', '%%')}")  # each is valid SQL
