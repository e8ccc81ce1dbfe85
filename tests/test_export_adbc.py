"""PostgreSQL Parquet through ADBC: the same file as the CSV-COPY path, filters quoted, fallback, cleanup."""

from __future__ import annotations

import csv
import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from console.services import export_adbc, export_pg
from console.services.export import arrow_schema, export_mentions
from console.services.export_columns import topics_from_jsonb
from console.services.mention_query import COLUMNS, MentionFilters, where
from storage.models import Author, Brand, Mention, User
from tests import dashboard_data as D
from tests.test_export_pg import _fill

pg = pytest.mark.pg


def _parquet(store, path, filters=MentionFilters(), **kw):
    with store.read() as session:
        return export_mentions(session, filters, "parquet", path, **kw)


def _without_adbc(monkeypatch):
    def missing():
        raise export_adbc.Unavailable("adbc-driver-postgresql is not installed (test)")

    monkeypatch.setattr(export_adbc, "_dbapi", missing)


def _copy_path(store, path, filters=MentionFilters(), **kw):
    """The same export through the CSV-COPY path (ADBC made unavailable)."""
    with pytest.MonkeyPatch.context() as m:
        _without_adbc(m)
        return _parquet(store, path, filters, **kw)


def _adbc_calls(monkeypatch):
    calls: list[str] = []
    real = export_adbc.typed_batches

    def counted(cursor, sql, columns, schema):
        calls.append(sql)
        yield from real(cursor, sql, columns, schema)

    monkeypatch.setattr(export_adbc, "typed_batches", counted)
    return calls


@pg
@pytest.mark.parametrize("parts", [2, 1])
def test_adbc_file_equals_the_copy_path_across_the_cut(pg_store, tmp_path, monkeypatch, caplog, parts):
    _fill(pg_store)
    monkeypatch.setattr(export_pg, "PARALLEL_MIN_ROWS", 1 if parts == 2 else 10**9)
    calls = _adbc_calls(monkeypatch)
    seen: list[int] = []
    result = _parquet(pg_store, tmp_path / "adbc.parquet", chunk_rows=4, progress=seen.append)
    assert len(calls) == parts
    # split: authors, brands and users joined in Arrow (tables never analysed count as small); else in the server
    assert all(("authors.handle" in sql) == (parts == 1) for sql in calls)
    assert all(("brands.name" in sql) == (parts == 1) for sql in calls)
    with caplog.at_level(logging.WARNING):
        _copy_path(pg_store, tmp_path / "copy.parquet", chunk_rows=4)
    assert "without ADBC" in caplog.text
    adbc, copy = pq.read_table(tmp_path / "adbc.parquet"), pq.read_table(tmp_path / "copy.parquet")
    assert adbc.schema == copy.schema == arrow_schema(COLUMNS)
    assert adbc.equals(copy) and result.rows == sum(seen) == adbc.num_rows == 15
    assert pq.ParquetFile(tmp_path / "adbc.parquet").metadata.num_row_groups == 4  # 4+4+4+3 across the cut
    keys = list(zip(adbc["created_at_utc"].to_pylist(), adbc["id"].to_pylist(), strict=True))
    assert keys == sorted(keys) and len(set(keys)) == 15
    for key, value in (("author_id", "author_handle"), ("brand_id", "brand"), ("assignee_id", "assignee")):
        assert adbc[key].is_null().equals(adbc[value].is_null()), value  # NULL key -> NULL, as the LEFT JOIN
        assert 5 <= adbc[key].null_count < 15


@pg
def test_a_deleted_author_reads_as_the_server_join_does(pg_store, tmp_path, monkeypatch):
    _fill(pg_store)
    with pg_store.transaction() as s:  # the foreign key sets the mentions' author_id to NULL
        s.execute(text("DELETE FROM authors WHERE id = (SELECT min(author_id) FROM mentions)"))
    monkeypatch.setattr(export_pg, "PARALLEL_MIN_ROWS", 1)
    _parquet(pg_store, tmp_path / "adbc.parquet", chunk_rows=4)
    _copy_path(pg_store, tmp_path / "copy.parquet", chunk_rows=4)
    adbc = pq.read_table(tmp_path / "adbc.parquet")
    assert adbc.equals(pq.read_table(tmp_path / "copy.parquet")) and adbc["author_handle"].null_count > 5


@pytest.mark.parametrize("span", [4, 2], ids=["a position per id", "binary search"])
def test_lookup_takes_by_key_with_nulls_for_null_and_unknown_keys(monkeypatch, span):
    monkeypatch.setattr(export_adbc, "DENSE_SPAN", span)  # ids 2..9: 8 ids for 3 rows
    lookup = export_adbc.lookup(0, np.array([2, 5, 9]), {3: pa.array(["b", None, "i"]), 4: pa.array([1, 2, 3])})
    assert (lookup.positions is not None) == (span == 4)
    got = lookup.take(pa.array([9, None, 5, 7, 2, 10, 0, 1], pa.int32()))
    assert got[3].to_pylist() == ["i", None, None, None, "b", None, None, None]
    assert got[4].to_pylist() == [3, None, 2, None, 1, None, None, None]
    dense = export_adbc.Lookup(0, np.array([4, 5, 6]), {3: pa.array(["d", "e", None])})  # no gaps: by position
    got = dense.take(pa.array([6, None, 3, 4, 7, 5, -1], pa.int64()))
    assert got[3].to_pylist() == [None, None, None, "d", None, "e", None]
    empty = export_adbc.Lookup(0, np.array([], dtype=np.int64), {1: pa.array([], pa.string())})
    assert empty.take(pa.array([1, None], pa.int64()))[1].to_pylist() == [None, None]


def test_read_lookup_sorts_by_id_and_types_the_columns():
    class Cursor:
        def execute(self, sql):
            self.sql = sql

        def fetch_arrow_table(self):
            return pa.table(
                {"id": pa.array([7, 3, 5], pa.int32()), "c0": ["g", "c", "e"], "c1": pa.array([70, 30, 50], pa.int32())}
            )

    columns = [c for c in COLUMNS if c.name in ("author_handle", "author_followers")]
    schema = arrow_schema(COLUMNS)
    indexes = [schema.get_field_index(c.name) for c in columns]
    with pg_dialect_connection() as connection:
        lookup = export_adbc.read_lookup(Cursor(), connection, Author, 0, COLUMNS, indexes, schema)
    assert lookup.ids.tolist() == [3, 5, 7]
    assert lookup.values[indexes[0]].to_pylist() == ["c", "e", "g"]
    assert lookup.values[indexes[1]].type == pa.int64() and lookup.values[indexes[1]].to_pylist() == [30, 50, 70]


def pg_dialect_connection():
    """Something with a PostgreSQL ``dialect`` to compile the lookup query (no server needed)."""
    from contextlib import nullcontext
    from types import SimpleNamespace

    from sqlalchemy.dialects import postgresql

    return nullcontext(SimpleNamespace(dialect=postgresql.dialect()))


def test_client_join_plan_keeps_export_order_and_adds_missing_keys():
    schema = arrow_schema(COLUMNS)
    plan = export_adbc.client_join_plan(COLUMNS, schema, [Author, Brand, User])
    names = [c.name for c in plan.server]
    assert not {"author_handle", "author_name", "author_followers", "author_verified", "brand", "assignee"} & set(names)
    assert {"author_id", "brand_id", "assignee_id"} <= set(names) and plan.schema.names == names
    assert [COLUMNS[i].name for i, at in enumerate(plan.placed) if at >= 0] == names
    assert {t.__tablename__: [COLUMNS[i].name for i in filled] for t, _, filled in plan.lookups} == {
        "authors": ["author_handle", "author_name", "author_followers", "author_verified"],
        "brands": ["brand"],
        "users": ["assignee"],
    }
    without_keys = [c for c in COLUMNS if c.name not in ("author_id", "brand_id")]
    plan = export_adbc.client_join_plan(without_keys, arrow_schema(without_keys), [Author, Brand])
    assert [c.name for c in plan.server][-2:] == ["_author_id", "_brand_id"]
    assert plan.schema.field("_author_id").type == pa.int64()
    assert export_adbc.client_join_plan(COLUMNS, schema, []).server == list(COLUMNS)


@pg
def test_adbc_filters_match_the_copy_path(pg_store, tmp_path, monkeypatch):
    brands = _fill(pg_store)
    with pg_store.transaction() as s:  # a search term with a quote, a percent and a backslash: quoted, not run
        s.add(
            Mention(platform="x", external_id="q", text="it's 100% back\\slash", created_at=D.START, fetched_at=D.START)
        )
    monkeypatch.setattr(export_pg, "PARALLEL_MIN_ROWS", 1)
    cases = [
        MentionFilters(since=D.START, until=D.END, brand_ids=[brands["Skyline"]], include_brand_posts=False),
        MentionFilters(search="it's 100% back\\slash"),
        MentionFilters(topics=["refund"], statuses=["new", "resolved"], platforms=["x"]),
        MentionFilters(sentiments=["negative"], urgencies=["high", "low"]),
    ]
    for i, filters in enumerate(cases):
        _parquet(pg_store, tmp_path / f"adbc{i}.parquet", filters)
        _copy_path(pg_store, tmp_path / f"copy{i}.parquet", filters)
        adbc = pq.read_table(tmp_path / f"adbc{i}.parquet")
        assert adbc.equals(pq.read_table(tmp_path / f"copy{i}.parquet")), filters
        with pg_store.read() as s:
            assert adbc.num_rows == s.scalar(select(func.count()).select_from(Mention).where(*where(filters)))
    assert pq.read_table(tmp_path / "adbc1.parquet")["external_id"].to_pylist() == ["q"]


@pg
def test_a_failing_lookup_leaves_no_file(pg_store, tmp_path, monkeypatch):
    _fill(pg_store)
    monkeypatch.setattr(export_pg, "PARALLEL_MIN_ROWS", 1)

    def boom(*args, **kwargs):
        raise RuntimeError("lookup failed")

    monkeypatch.setattr(export_adbc, "read_lookup", boom)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(RuntimeError, match="lookup failed"):
        _parquet(pg_store, out / "m.parquet")
    assert list(out.iterdir()) == []


@pg
def test_client_tables_are_those_not_much_bigger_than_the_export(pg_store):
    _fill(pg_store)
    with pg_store.transaction() as s:
        s.execute(text("ANALYZE authors, brands, users"))
    with export_pg.snapshot_connections(pg_store.engine, 1) as (connection,):
        authors = connection.scalar(text("SELECT reltuples FROM pg_class WHERE oid = to_regclass('authors')"))
        assert authors > 0
        assert Author in export_adbc.client_tables(connection, authors / 2)
        assert Author not in export_adbc.client_tables(connection, authors / 2 - 0.5)


@pg
def test_falls_back_with_a_warning_when_adbc_cannot_connect(pg_store, tmp_path, monkeypatch, caplog):
    _fill(pg_store)
    monkeypatch.setattr(export_adbc, "libpq_uri", lambda url: "postgresql://nobody@127.0.0.1:1/none")
    calls = _adbc_calls(monkeypatch)
    with caplog.at_level(logging.WARNING):
        result = _parquet(pg_store, tmp_path / "m.parquet")
    assert "without ADBC" in caplog.text and "cannot connect" in caplog.text
    assert result.rows == 15 and calls == []
    _copy_path(pg_store, tmp_path / "copy.parquet")
    assert pq.read_table(tmp_path / "m.parquet").equals(pq.read_table(tmp_path / "copy.parquet"))


def _csv_rows(path):
    """Rows as a spreadsheet reads them: floats parsed (PostgreSQL and Arrow may print them differently)."""
    floats = ("p_negative", "p_neutral", "p_positive", "urgency_score")
    with path.open(encoding="utf-8", newline="") as f:
        return [{k: (float(v) if k in floats and v else v) for k, v in r.items()} for r in csv.DictReader(f)]


@pg
@pytest.mark.parametrize("parts", [2, 1])
def test_adbc_csv_reads_as_the_copy_csv(pg_store, tmp_path, monkeypatch, parts):
    _fill(pg_store)
    with pg_store.transaction() as s:  # cells that need quoting, neutralising, or are empty rather than NULL
        for i, body in enumerate(['say "hi", then\nleave', "=cmd", "", "a\rb", "x,y", "naïve ☕"]):
            s.add(
                Mention(
                    platform="x",
                    external_id=f"odd{i}",
                    text=body,
                    url="" if i else None,
                    created_at=datetime(2026, 11, 3, 2, 0, i, 120 * i, tzinfo=UTC),
                    fetched_at=datetime(2026, 11, 3, 2, 0, tzinfo=UTC),
                )
            )
    monkeypatch.setattr(export_pg, "PARALLEL_MIN_ROWS", 1 if parts == 2 else 10**9)
    calls = _adbc_calls(monkeypatch)
    with pg_store.read() as session:
        ours = export_mentions(session, MentionFilters(), "csv", tmp_path / "adbc.csv", chunk_rows=4)
    assert len(calls) == parts and ours.rows == 21
    with pytest.MonkeyPatch.context() as m, pg_store.read() as session:
        _without_adbc(m)
        export_mentions(session, MentionFilters(), "csv", tmp_path / "copy.csv")
    assert _csv_rows(tmp_path / "adbc.csv") == _csv_rows(tmp_path / "copy.csv")
    rows = {r["external_id"]: r for r in _csv_rows(tmp_path / "adbc.csv")}
    assert rows["odd0"]["text"] == 'say "hi", then\nleave' and rows["odd1"]["text"] == "'=cmd"
    assert rows["odd1"]["created_at_utc"] == "2026-11-03T02:00:01.000120Z"
    assert rows["odd0"]["created_at_utc"] == "2026-11-03T02:00:00Z"
    assert (tmp_path / "adbc.csv").read_bytes().count(b"\r\n") >= 22  # Python csv's CRLF, header included


@pg
def test_csv_falls_back_to_copy_with_a_warning(pg_store, tmp_path, monkeypatch, caplog):
    _fill(pg_store)
    monkeypatch.setattr(export_adbc, "libpq_uri", lambda url: "postgresql://nobody@127.0.0.1:1/none")
    with caplog.at_level(logging.WARNING), pg_store.read() as session:
        result = export_mentions(session, MentionFilters(), "csv", tmp_path / "m.csv")
    assert "CSV export without ADBC" in caplog.text and result.rows == 15
    assert b"\r\n" not in (tmp_path / "m.csv").read_bytes()  # PostgreSQL's own COPY lines


@pg
@pytest.mark.parametrize("thread", ["export-turn-0", "export-turn-1"])
def test_a_failing_part_leaves_no_file(pg_store, tmp_path, monkeypatch, thread):
    _fill(pg_store)
    monkeypatch.setattr(export_pg, "PARALLEL_MIN_ROWS", 1)
    real = export_adbc.topics_from_jsonb

    def boom(array):
        if threading.current_thread().name == thread:
            raise RuntimeError("decoding failed")
        return real(array)

    monkeypatch.setattr(export_adbc, "topics_from_jsonb", boom)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(RuntimeError, match="decoding failed"):
        _parquet(pg_store, out / "m.parquet")
    assert list(out.iterdir()) == []  # no partial file
    monkeypatch.setattr(export_adbc, "topics_from_jsonb", real)
    assert _parquet(pg_store, out / "again.parquet").rows == 15  # nothing left holding the store


@pg
def test_estimated_split_cuts_from_statistics(pg_store, monkeypatch):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with pg_store.transaction() as s:
        s.add_all(
            Mention(
                platform="x", external_id=f"e{i}", text="t", created_at=start + timedelta(minutes=i), fetched_at=start
            )
            for i in range(400)
        )
    with pg_store.transaction() as s:
        s.execute(text("ANALYZE mentions"))
        assert s.execute(export_pg.HISTOGRAM, {"table": "mentions"}).scalar(), "no histogram"
    monkeypatch.setattr(export_pg, "PARALLEL_MIN_ROWS", 1)
    filters = MentionFilters(since=start + timedelta(minutes=100), until=start + timedelta(minutes=300))
    with export_pg.snapshot_connections(pg_store.engine, 1) as (connection,):
        parts = export_pg.estimated_split(connection, filters)
        assert parts is not None and len(parts) == 2
        assert parts[0].since == filters.since and parts[1].until == filters.until
        assert parts[0].until == parts[1].since
        counts = [connection.scalar(select(func.count()).select_from(Mention).where(*where(p))) for p in parts]
    assert sum(counts) == 200 and min(counts) >= 60  # every row once; roughly halves
    with export_pg.snapshot_connections(pg_store.engine, 1) as (connection,):
        small = export_pg.estimated_split(connection, filters, part_rows=25)
        assert small is not None and 6 <= len(small) <= 10  # ~200 rows / 25, two histogram buckets a part at least
        assert all(a.until == b.since for a, b in zip(small, small[1:], strict=False))
        counts = [connection.scalar(select(func.count()).select_from(Mention).where(*where(p))) for p in small]
        assert sum(counts) == 200 and max(counts) <= 60
        tiny = export_pg.estimated_split(connection, filters, part_rows=1)
        assert tiny is not None and len(tiny) <= 50  # never thinner than two of the histogram's 100 buckets
    monkeypatch.setattr(export_pg, "PARALLEL_MIN_ROWS", 10**9)
    with export_pg.snapshot_connections(pg_store.engine, 1) as (connection,):
        assert export_pg.estimated_split(connection, filters) == [filters]  # small: one part


def test_libpq_uri_keeps_password_and_options():
    url = make_url("postgresql+psycopg://me:p%40ss%2Fw@db.example:6543/app?options=-csearch_path%3Dbench_1m")
    uri = export_adbc.libpq_uri(url)
    assert uri.startswith("postgresql://")
    parsed = conninfo_to_dict(uri)
    assert parsed["password"] == "p@ss/w" and parsed["options"] == "-csearch_path=bench_1m"
    assert (parsed["host"], parsed["port"], parsed["dbname"], parsed["user"]) == ("db.example", "6543", "app", "me")


@pytest.mark.parametrize(
    "topics",
    [
        ["a", "b"],
        [],
        [""],
        ["", "a"],
        ['say "hi"', "back\\slash"],
        ["c\x1fd", "naïve, café", "日本"],
        ['", "'],
        ["-minus", "plain"],
    ],
)
def test_topics_from_jsonb_reads_every_name(topics):
    printed = json.dumps(topics, ensure_ascii=False)  # PostgreSQL's jsonb output has the same form
    got = topics_from_jsonb(pa.array([printed, None, "[]"]))
    assert got.type == pa.list_(pa.string())
    assert got.to_pylist() == [topics, None, []]


# --- through the local Unix socket -------------------------------------------------------------


def test_a_loopback_uri_goes_through_the_servers_unix_socket(tmp_path, monkeypatch):
    (tmp_path / ".s.PGSQL.6543").touch()
    monkeypatch.setattr(export_adbc, "SOCKET_DIRS", ("/nonexistent-dir", str(tmp_path)))
    local = export_adbc.local_socket_uri("postgresql://me:p%40ss@127.0.0.1:6543/app?options=-csearch_path%3Dx")
    assert local is not None
    parsed = conninfo_to_dict(local)
    assert (parsed["host"], parsed["port"], parsed["dbname"], parsed["user"]) == (str(tmp_path), "6543", "app", "me")
    assert parsed["password"] == "p@ss" and parsed["options"] == "-csearch_path=x"
    assert conninfo_to_dict(export_adbc.local_socket_uri("postgresql://me@localhost:6543/app") or "")["host"] == str(
        tmp_path
    )
    for elsewhere in (
        "postgresql://me@db.example:6543/app",  # another machine
        "postgresql://me@127.0.0.1:5999/app",  # no socket for that port
        "postgresql://me@127.0.0.1:6543/app?hostaddr=127.0.0.1",  # pinned to an address
        "postgresql://me@/app?host=/var/run/postgresql",  # already a socket
    ):
        assert export_adbc.local_socket_uri(elsewhere) is None, elsewhere


def _socket_dir() -> str | None:
    return next((d for d in export_adbc.SOCKET_DIRS if any(Path(d).glob(".s.PGSQL.*"))), None)


def _connected(monkeypatch) -> list[str]:
    uris: list[str] = []
    real = export_adbc.snapshot_cursors

    def spy(uri, *args, **kw):
        uris.append(uri)
        return real(uri, *args, **kw)

    monkeypatch.setattr(export_adbc, "snapshot_cursors", spy)
    return uris


@pg
def test_a_big_export_reads_through_the_local_socket_and_writes_the_same_file(pg_store, tmp_path, monkeypatch):
    if _socket_dir() is None or pg_store.engine.url.host not in export_adbc.LOOPBACK:
        pytest.skip("PostgreSQL is not on this machine's loopback with a Unix socket")
    _fill(pg_store)
    monkeypatch.setattr(export_pg, "PARALLEL_MIN_ROWS", 1)
    uris = _connected(monkeypatch)
    _parquet(pg_store, tmp_path / "socket.parquet", chunk_rows=4)
    assert len(uris) == 1 and conninfo_to_dict(uris[0])["host"].startswith("/")
    with pytest.MonkeyPatch.context() as m:
        m.setattr(export_adbc, "SOCKET_DIRS", ())
        _parquet(pg_store, tmp_path / "tcp.parquet", chunk_rows=4)
    assert uris[1] == export_adbc.libpq_uri(pg_store.engine.url)
    assert pq.read_table(tmp_path / "socket.parquet").equals(pq.read_table(tmp_path / "tcp.parquet"))


@pg
def test_a_socket_that_is_not_the_server_falls_back_to_tcp(pg_store, tmp_path, monkeypatch, caplog):
    import socket

    _fill(pg_store)
    monkeypatch.setattr(export_pg, "PARALLEL_MIN_ROWS", 1)
    port = pg_store.engine.url.port or 5432
    fake = tmp_path / f".s.PGSQL.{port}"
    with socket.socket(socket.AF_UNIX) as listener:  # accepts and says nothing: not a PostgreSQL server
        listener.bind(str(fake))
        listener.listen()
        monkeypatch.setattr(export_adbc, "SOCKET_DIRS", (str(tmp_path),))
        monkeypatch.setattr(export_adbc, "LOOPBACK", frozenset({pg_store.engine.url.host}))
        monkeypatch.setenv("PGCONNECT_TIMEOUT", "2")
        uris = _connected(monkeypatch)
        with caplog.at_level(logging.INFO):
            result = _parquet(pg_store, tmp_path / "m.parquet")
    assert result.rows == 15 and len(uris) == 2
    assert "not through the local socket" in caplog.text and "without ADBC" not in caplog.text


@pg
def test_a_connection_to_another_server_is_refused(pg_store):
    _fill(pg_store)
    with export_pg.snapshot_connections(pg_store.engine, 1) as (first,):
        snapshot = str(first.scalar(text("SELECT pg_export_snapshot()")))
        server = str(first.scalar(text(export_adbc.SERVER_ID)))
        uri = export_adbc.libpq_uri(pg_store.engine.url)
        with export_adbc.snapshot_cursors(uri, snapshot, 1, server) as (cursor,):  # the same server: accepted
            assert export_adbc._scalar(cursor, "SELECT 1") == 1
        with (
            pytest.raises(export_adbc.Unavailable, match="another server"),
            export_adbc.snapshot_cursors(uri, snapshot, 1, "2001-01-01 00:00:00+00 elsewhere"),
        ):
            pass


@pytest.mark.parametrize("ready", [True, False], ids=["lookups read", "lookups still being read"])
def test_joined_fills_looked_up_columns_and_reads_ahead_while_the_lookups_are_read(ready):
    from concurrent.futures import Future

    schema = pa.schema([pa.field("id", pa.int64()), pa.field("author", pa.string())])
    sent = pa.schema([pa.field("id", pa.int64()), pa.field("_author_id", pa.int64())])
    plan = export_adbc.Plan(server=[], schema=sent, lookups=[], placed=[0, -1])
    authors = export_adbc.lookup(1, np.array([7, 9]), {1: pa.array(["ann", "bo"])})
    pulled: list[int] = []

    def server():
        for n, keys in enumerate([[7, 9], [None, 9], [8, 7]]):
            pulled.append(n)
            yield pa.RecordBatch.from_arrays(
                [pa.array([n] * 2, pa.int64()), pa.array(keys, pa.int64())], schema=plan.schema
            )

    read: Future[list[export_adbc.Lookup]] = Future()
    if ready:
        read.set_result([authors])
    out = export_adbc.joined(server(), plan, read, schema)
    if not ready:
        threading.Timer(0.2, lambda: read.set_result([authors])).start()
    first = next(out)
    assert pulled == ([0] if ready else [0, 1, 2])  # still being read: the part was read whole meanwhile
    rows = [first, *out]
    assert [r.column(1).to_pylist() for r in rows] == [["ann", "bo"], [None, "bo"], [None, "ann"]]
    assert all(r.schema == schema for r in rows)
