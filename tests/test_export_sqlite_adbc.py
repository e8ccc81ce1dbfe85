"""SQLite exports through ADBC: the same files as the sqlite3 path, in parts on one snapshot, typed from the start."""

from __future__ import annotations

import csv
import dataclasses
import io
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select

from console.services import export, export_csv, export_sqlite_adbc
from console.services.export import export_mentions, neutralise
from console.services.export_columns import arrow_columns
from console.services.mention_query import Column, MentionFilters, columns_for, where
from storage.models import Classification, Mention
from tests import dashboard_data as D

ODD_TEXTS = ['say "hi", then\nleave', "=cmd", "", "naïve ☕ 日本", "  spaced", "a\rb", "-1", "@here", "\ttab", "x,y"]
TIE = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)  # m3's time, shared by the odd rows: the cut falls among ties


def _fill(store):
    D.build(store)
    with store.transaction() as s:
        for i, body in enumerate(ODD_TEXTS):
            m = Mention(
                platform="x",
                external_id=f"odd{i}",
                text=body,
                created_at=TIE + timedelta(microseconds=i % 2),
                fetched_at=TIE,
                url=None if i % 3 else f"https://x.test/{i},{i}",
                like_count=i,
            )
            s.add(m)
            s.flush()
            if i % 2:
                s.add(
                    Classification(
                        mention_id=m.id,
                        model_name="m",
                        model_version="1",
                        sentiment="neutral",
                        p_negative=1 / 3,
                        p_neutral=0.5,
                        p_positive=1 / 6,
                        urgency="low",
                        urgency_score=1e-05,
                        topics=["-a", 'b "c"'] if i % 4 == 1 else [],
                    )
                )


def _export(store, fmt, path, *, adbc=True, parts=True, **kw):
    with pytest.MonkeyPatch.context() as m:
        m.setattr(export_sqlite_adbc, "TURN_ROWS", 3 if parts else 10**9)  # parts of 3 rows, ties kept
        if not adbc:
            m.setattr(export_sqlite_adbc, "database_file", lambda session: None)
        with store.read() as session:
            return export_mentions(session, MentionFilters(), fmt, path, **kw)


def _batches_read(monkeypatch):
    calls: list[str] = []
    real = export_sqlite_adbc.raw_batches

    def counted(cursor, sql):
        calls.append(sql)
        yield from real(cursor, sql)

    monkeypatch.setattr(export_sqlite_adbc, "raw_batches", counted)
    return calls


def _float_free(rows):
    """CSV rows with the float columns parsed (Arrow prints 1e-05 and 0.5 as Python does, but not 1.0)."""
    floats = ("p_negative", "p_neutral", "p_positive", "urgency_score")
    return [{k: (float(v) if k in floats and v else v) for k, v in r.items()} for r in rows]


def _read_csv(path):
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("parts", [True, False])
def test_csv_equals_the_sqlite3_path(sqlite_store, tmp_path, monkeypatch, parts):
    _fill(sqlite_store)
    calls = _batches_read(monkeypatch)
    ours = _export(sqlite_store, "csv", tmp_path / "a.csv", parts=parts, chunk_rows=3)
    parts_read = [sql for sql in calls if "FROM mentions" in sql]
    assert len(parts_read) == (6 if parts else 1) and len(calls) - len(parts_read) == (3 if parts else 0)
    theirs = _export(sqlite_store, "csv", tmp_path / "b.csv", adbc=False, chunk_rows=3)
    assert ours.rows == theirs.rows == 10 + len(ODD_TEXTS)
    assert _float_free(_read_csv(tmp_path / "a.csv")) == _float_free(_read_csv(tmp_path / "b.csv"))
    lines = (tmp_path / "a.csv").read_bytes().split(b"\r\n")
    assert lines[0].startswith(b"id,platform,") and lines[-1] == b""  # CRLF as Python's csv, header included
    rows = {r["external_id"]: r for r in _read_csv(tmp_path / "a.csv")}
    assert rows["odd0"]["text"] == 'say "hi", then\nleave' and rows["odd1"]["text"] == "'=cmd"
    assert rows["odd8"]["text"] == "'\ttab" and rows["odd5"]["text"] == "a\rb"
    assert rows["odd1"]["topics"] == '\'-a; b "c"' and rows["odd3"]["topics"] == "" and rows["odd0"]["topics"] == ""


@pytest.mark.parametrize("parts", [True, False])
def test_parquet_equals_the_sqlite3_path(sqlite_store, tmp_path, monkeypatch, parts):
    _fill(sqlite_store)
    calls = _batches_read(monkeypatch)
    _export(sqlite_store, "parquet", tmp_path / "a.parquet", parts=parts, chunk_rows=2)
    parts_read = [sql for sql in calls if "FROM mentions" in sql]
    assert len(parts_read) == (6 if parts else 1)  # 20 rows, 10 of them at two instants 1 µs apart
    assert len(calls) - len(parts_read) == (3 if parts else 0)  # authors, brands, users joined in Arrow
    assert all(("authors.handle" in sql) != parts for sql in parts_read)  # SQLite drops joins whose columns go unused
    _export(sqlite_store, "parquet", tmp_path / "b.parquet", adbc=False, chunk_rows=2)
    ours, theirs = pq.read_table(tmp_path / "a.parquet"), pq.read_table(tmp_path / "b.parquet")
    assert ours.schema == theirs.schema and ours.equals(theirs)
    row = {r["external_id"]: r for r in ours.to_pylist()}["odd1"]
    assert row["topics"] == ["-a", 'b "c"'] and row["urgency_score"] == 1e-05
    assert row["created_at_utc"] == TIE + timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("filters", "part_rows"),
    [
        (MentionFilters(), 3),
        (MentionFilters(), 4),
        (MentionFilters(), 1),
        (MentionFilters(), 100),
        (MentionFilters(since=D.START, until=TIE + timedelta(microseconds=1)), 2),
        (MentionFilters(sentiments=("negative", "neutral")), 1),
    ],
)
def test_stepped_split_gives_every_row_once_in_order(sqlite_store, filters, part_rows):
    _fill(sqlite_store)
    with sqlite_store.read() as s:
        parts = export_sqlite_adbc.stepped_split(s.connection(), filters, part_rows)
        everything = s.scalars(select(Mention.id).where(*where(filters)).order_by(Mention.created_at, Mention.id)).all()
        pieces = [
            s.execute(
                select(Mention.id, Mention.created_at).where(*where(p)).order_by(Mention.created_at, Mention.id)
            ).all()
            for p in parts
        ]
    assert [i for piece in pieces for i, _ in piece] == list(everything)
    assert parts[0].since == filters.since and parts[-1].until == filters.until
    for piece in pieces:  # a part holds more than part_rows rows only when they share an instant
        assert piece and (len(piece) <= part_rows or len({t for _, t in piece}) == 1)
    if len(everything) > part_rows:
        assert len(parts) > 1


@pytest.mark.parametrize("since", [None, D.START])
@pytest.mark.parametrize("until", [None, D.END])
def test_parts_sql_compiled_once_equals_each_compiled_alone(sqlite_store, since, until):
    _fill(sqlite_store)
    filters = MentionFilters(since=since, until=until, sentiments=("negative",), search="x")
    columns = columns_for()
    with sqlite_store.read() as s:
        parts = export_sqlite_adbc.stepped_split(s.connection(), MentionFilters(since=since, until=until), 1)
        parts = [dataclasses.replace(p, sentiments=filters.sentiments, search="x") for p in parts]
        assert len(parts) > 2 and parts[0].since == since and parts[-1].until == until
        rendered = export._rendered(columns, arrow_columns(s, columns))
        alone = [export_sqlite_adbc.typed_sql(s, rendered, p) for p in parts]
        assert export_sqlite_adbc.typed_sqls(s, rendered, parts) == alone
        assert len(set(alone)) == len(parts)


def test_a_column_null_through_the_first_batch_keeps_its_type(sqlite_store, tmp_path):
    """Without the sentinel row the driver would type resolved_at as int64 and fail at the first time."""
    when = datetime(2026, 1, 1, tzinfo=UTC)
    with sqlite_store.transaction() as s:
        s.add_all(
            Mention(
                platform="x",
                external_id=f"n{i}",
                text="t",
                created_at=when + timedelta(hours=i),
                fetched_at=when,
                resolved_at=when + timedelta(days=1) if i >= 4 else None,
            )
            for i in range(6)
        )
    _export(sqlite_store, "parquet", tmp_path / "m.parquet", parts=False, chunk_rows=2)
    table = pq.read_table(tmp_path / "m.parquet")
    assert table.schema.field("resolved_at_utc").type == pa.timestamp("us", tz="UTC")
    assert table.column("resolved_at_utc").to_pylist() == [None] * 4 + [when + timedelta(days=1)] * 2
    _export(sqlite_store, "csv", tmp_path / "m.csv", parts=False, chunk_rows=2)
    assert [r["resolved_at_utc"] for r in _read_csv(tmp_path / "m.csv")] == [""] * 4 + ["2026-01-02T00:00:00Z"] * 2


def test_parts_read_one_snapshot_while_a_writer_commits(sqlite_store):
    D.build(sqlite_store)
    path = sqlite_store.engine.url.database
    committed = threading.Event()

    def write():
        with sqlite_store.transaction() as s:
            s.add(Mention(platform="x", external_id="later", text="t", created_at=TIE, fetched_at=TIE))
        committed.set()

    with export_sqlite_adbc.snapshot_cursors(path, 2, 100) as cursors:
        writer = threading.Thread(target=write)
        writer.start()
        writer.join(10)
        assert committed.is_set()  # the fence is gone once the parts have begun: the writer did not wait on them
        for cursor in cursors:
            cursor.execute("SELECT count(*) FROM mentions")
            assert cursor.fetchone()[0] == 10
    with sqlite_store.read() as s:
        assert s.scalar(select(func.count()).select_from(Mention)) == 11


def test_the_fence_holds_writers_until_every_part_reads(sqlite_store, monkeypatch):
    """A commit cannot land between the first part's snapshot and the second's."""
    D.build(sqlite_store)
    path = sqlite_store.engine.url.database
    real_connect = export_sqlite_adbc._DBAPI.connect
    opened: list[int] = []
    attempted = threading.Event()

    def connect_then_write(*args, **kwargs):
        connection = real_connect(*args, **kwargs)
        opened.append(1)
        if len(opened) == 1:  # between the parts: another process tries to commit
            other = sqlite3.connect(path, timeout=0.2, isolation_level=None)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("INSERT INTO brands (name, is_competitor) VALUES ('Sneaky', 0)")
            other.close()
            attempted.set()
        return connection

    monkeypatch.setattr(export_sqlite_adbc._DBAPI, "connect", connect_then_write)
    with export_sqlite_adbc.snapshot_cursors(path, 2, 100):
        pass
    assert attempted.is_set()


def test_uncommitted_writes_take_the_sqlite3_path(sqlite_store, tmp_path):
    D.build(sqlite_store)
    with sqlite_store.transaction() as s:
        s.add(Mention(platform="x", external_id="pending", text="t", created_at=TIE, fetched_at=TIE))
        s.flush()
        assert export_sqlite_adbc.database_file(s) is None  # ADBC's connections could not see the row
        result = export_mentions(s, MentionFilters(), "csv", tmp_path / "m.csv")
    assert result.rows == 11 and "pending" in (tmp_path / "m.csv").read_text()
    with sqlite_store.read() as s:
        assert export_sqlite_adbc.database_file(s) == Path(sqlite_store.engine.url.database)


def _python_csv(texts, numbers, flags):
    out = io.StringIO(newline="")
    words = {1: "true", 0: "false", None: None}
    csv.writer(out).writerows(
        [None if t is None else neutralise(t), n, words[b]] for t, n, b in zip(texts, numbers, flags, strict=True)
    )
    return out.getvalue().encode()


def test_csv_lines_quote_as_pythons_csv_writer():
    texts = ['a"b', "a,b", "a\nb", "a\rb", "", None, "plain", " lead", "=1+1", "-x", "日本"]
    numbers, flags = list(range(len(texts))), [1, 0, None] * 3 + [1, 0]
    columns = [Column("text", None, "str"), Column("n", None, "int"), Column("ok", None, "bool")]
    batch = pa.record_batch([pa.array(texts), pa.array(numbers), pa.array(flags)], names=["text", "n", "ok"])
    assert bytes(export_csv.csv_lines(batch, columns)) == _python_csv(texts, numbers, flags)
    sliced = bytes(export_csv.csv_lines(batch.slice(3, 4), columns))  # as the first batch, sentinel dropped
    assert sliced == _python_csv(texts[3:7], numbers[3:7], flags[3:7])


def test_timestamps_render_as_python_isoformat():
    import random

    rng = random.Random(7)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    micros = [0, 1, 999_999, 123_456]
    values = [
        base + timedelta(seconds=rng.randrange(0, 400 * 86_400), microseconds=rng.choice(micros)) for _ in range(500)
    ]
    values += [
        None,
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 500, tzinfo=UTC),
        datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC),
    ]
    rendered = export_csv.iso_from_timestamps(pa.array(values, pa.timestamp("us", tz="UTC"))).to_pylist()
    assert rendered == [None if v is None else v.isoformat().replace("+00:00", "Z") for v in values]
    assert (
        export_csv.iso_from_timestamps(pa.array([None, None], pa.timestamp("us", tz="UTC"))).to_pylist() == [None] * 2
    )
