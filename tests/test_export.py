"""Exports: formula injection made inert, types that read back, streaming, the CLI and the notebook frame."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook

from console.cli import main
from console.notebook import mentions_frame
from console.services import export as export_module
from console.services import export_adbc, export_sqlite_adbc
from console.services.export import export_mentions, neutralise
from console.services.mention_query import COLUMNS, MentionFilters
from tests import dashboard_data as D

ALL = MentionFilters()


def _export(store, fmt, path, filters=ALL, **kw):
    with store.read() as session:
        return export_mentions(session, filters, fmt, path, **kw)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+1 555", "'+1 555"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("plain text = fine", "plain text = fine"),
        ("", ""),
    ],
)
def test_neutralise(text, expected):
    assert neutralise(text) == expected


def test_csv_neutralises_formula_and_names_utc(store, tmp_path):
    D.build(store)
    result = _export(store, "csv", tmp_path / "m.csv")
    with (tmp_path / "m.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert result.rows == len(rows) == 10  # nine mentions and the brand's own post
    m1 = next(r for r in rows if r["external_id"] == "m1")
    assert m1["text"] == "'" + D.INJECTION
    assert m1["created_at_utc"] == "2026-11-02T10:00:00Z"
    assert m1["first_response_at_utc"] == "2026-11-02T10:10:00Z"
    assert m1["topics"] == "delay" and m1["model_version"] == "2"  # the current classification only
    assert m1["author_verified"] == "false" and m1["brand"] == "Skyline" and m1["assignee"] == "alice"
    assert m1["status"] == "resolved"
    assert all(not name.endswith("_at") for name in rows[0])  # every time column names its zone


def test_xlsx_cell_is_inert_text_when_read_back(store, tmp_path):
    D.build(store)
    _export(store, "xlsx", tmp_path / "m.xlsx")
    sheet = load_workbook(tmp_path / "m.xlsx", read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    text_at, id_at = header.index("text"), header.index("external_id")
    m1 = next(r for r in rows[1:] if r[id_at] == "m1")
    assert m1[text_at] == "'" + D.INJECTION
    cell = next(
        c for row in load_workbook(tmp_path / "m.xlsx").active.iter_rows() for c in row if c.value == m1[text_at]
    )
    assert cell.data_type == "s"  # a string cell, not a formula
    assert m1[header.index("author_followers")] == 1000  # numbers stay numbers


def test_xlsx_drops_control_characters_openpyxl_rejects(store, tmp_path):
    D.build(store)
    from storage.models import Mention

    with store.transaction() as s:
        s.add(Mention(platform="x", external_id="ctl", text="bad\x07bell", created_at=D.NOW, fetched_at=D.NOW))
    _export(store, "xlsx", tmp_path / "m.xlsx")
    values = [
        c for row in load_workbook(tmp_path / "m.xlsx", read_only=True).active.iter_rows(values_only=True) for c in row
    ]
    assert "badbell" in values


def test_parquet_reads_back_same_rows_and_types(store, tmp_path):
    D.build(store)
    _export(store, "parquet", tmp_path / "m.parquet", chunk_rows=3)
    table = pq.read_table(tmp_path / "m.parquet")
    assert table.num_rows == 10
    assert pq.ParquetFile(tmp_path / "m.parquet").metadata.num_row_groups == 4  # chunks of 3 rows
    assert table.column_names == [c.name for c in COLUMNS]
    schema = table.schema
    assert schema.field("id").type == pa.int64()
    assert schema.field("created_at_utc").type == pa.timestamp("us", tz="UTC")
    assert schema.field("p_positive").type == pa.float64()
    assert schema.field("author_verified").type == pa.bool_()
    assert schema.field("topics").type == pa.list_(pa.string())
    rows = {r["external_id"]: r for r in table.to_pylist()}
    assert rows["m2"]["topics"] == ["delay", "refund"]
    assert rows["m1"]["text"] == D.INJECTION  # Parquet is data, not a spreadsheet: kept verbatim
    assert rows["m1"]["created_at_utc"] == datetime(2026, 11, 2, 10, tzinfo=UTC)
    assert rows["own"]["model_name"] is None and rows["own"]["is_brand_post"] is True
    group = pq.ParquetFile(tmp_path / "m.parquet").metadata.row_group(0)
    stats = {group.column(i).path_in_schema: group.column(i).statistics for i in range(group.num_columns)}
    assert stats["created_at_utc"].has_min_max and stats["id"].has_min_max and stats["platform"].has_min_max
    assert stats["text"] is None and stats["url"] is None  # free text: no statistics
    assert pa.default_memory_pool().backend_name == "system"  # see export.use_system_allocator


def test_jsonl_has_native_types(store, tmp_path):
    D.build(store)
    _export(store, "jsonl", tmp_path / "m.jsonl", include_raw=True)
    lines = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text(encoding="utf-8").splitlines()]
    m2 = next(r for r in lines if r["external_id"] == "m2")
    assert m2["topics"] == ["delay", "refund"] and m2["author_followers"] == 50
    assert m2["sla_due_at_utc"] == "2026-11-02T12:00:00Z" and m2["raw_json"] == {}


def test_filters_and_progress(store, tmp_path):
    brands = D.build(store)
    seen = []
    filters = MentionFilters(
        since=D.START, until=D.END, brand_ids=[brands["Skyline"]], include_brand_posts=False, search="FLIGHT"
    )
    result = _export(store, "csv", tmp_path / "s.csv", filters, chunk_rows=1, progress=seen.append)
    assert result.rows == 3  # m2, m3, m6: m1's text is the formula, the brand post is left out
    assert seen == [1, 1, 1]
    topic = _export(store, "jsonl", tmp_path / "t.jsonl", MentionFilters(topics=["refund"]))
    assert topic.rows == 1


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_failed_export_leaves_no_file(store, tmp_path, monkeypatch, fmt):
    D.build(store)
    module, name = export_module, "rechunk" if fmt == "parquet" else "iter_chunks"
    if fmt == "csv":  # CSV comes from the ADBC drivers' batches
        pg = store.url.startswith("postgresql")
        module, name = (export_adbc, "typed_batches") if pg else (export_sqlite_adbc, "raw_batches")
    real = getattr(module, name)

    def boom(*args, **kwargs):  # the first chunk is written, then the disk fills up
        yield next(iter(real(*args, **kwargs)))
        raise RuntimeError("disk full")

    monkeypatch.setattr(module, name, boom)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(RuntimeError, match="disk full"):
        _export(store, fmt, out / f"m.{fmt}", chunk_rows=2)
    assert list(out.iterdir()) == []


def test_cli_export_parquet_with_brand_and_since(sqlite_store, tmp_path, capsys):
    D.build(sqlite_store)
    out = tmp_path / "out.parquet"
    code = main(
        [
            "export",
            "--database-url",
            sqlite_store.url,
            "--since",
            "2026-11-02",
            "--until",
            "2026-11-09",
            "--brand",
            "Skyline",
            "--inbound-only",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert "4 mentions" in capsys.readouterr().out
    assert sorted(pq.read_table(out).column("external_id").to_pylist()) == ["m1", "m2", "m3", "m6"]
    assert pq.ParquetFile(out).metadata.row_group(0).column(0).compression == "SNAPPY"  # the default


@pytest.mark.parametrize("include_raw", [False, True], ids=["fast path", "row path"])
def test_cli_export_parquet_compression_is_a_choice(sqlite_store, tmp_path, capsys, include_raw):
    D.build(sqlite_store)
    out = tmp_path / "out.parquet"
    raw = ["--include-raw"] if include_raw else []
    assert main(["export", "--database-url", sqlite_store.url, "--compression", "zstd", *raw, "--out", str(out)]) == 0
    group = pq.ParquetFile(out).metadata.row_group(0)
    assert {group.column(i).compression for i in range(group.num_columns)} == {"ZSTD"}
    assert pq.read_table(out).num_rows == 10
    assert main(["export", "--database-url", sqlite_store.url, "--compression", "brotli", "--out", str(out)]) == 2
    assert "brotli" in capsys.readouterr().err


def test_cli_export_rejects_unknown_brand_and_suffix(sqlite_store, tmp_path, capsys):
    D.build(sqlite_store)
    assert (
        main(["export", "--database-url", sqlite_store.url, "--brand", "Nope", "--out", str(tmp_path / "a.csv")]) == 2
    )
    assert "unknown brand(s) 'Nope'" in capsys.readouterr().err
    assert main(["export", "--database-url", sqlite_store.url, "--out", str(tmp_path / "a.txt")]) == 2
    assert "cannot tell the format" in capsys.readouterr().err


def test_notebook_frame_has_the_export_columns(store, tmp_path):
    brands = D.build(store)
    frame = mentions_frame(since="2026-11-02", brands=["Nimbus"], database_url=store.url)
    assert list(frame.columns) == [c.name for c in COLUMNS]
    assert list(frame["external_id"]) == ["m4"]
    assert str(frame["created_at_utc"].dtype) == "datetime64[us, UTC]"
    assert frame["author_followers"].iloc[0] == 1000
    parquet = tmp_path / "m.parquet"
    _export(
        store, "parquet", parquet, MentionFilters(since=datetime(2026, 11, 2, tzinfo=UTC), brand_ids=[brands["Nimbus"]])
    )
    assert list(pq.read_table(parquet).to_pandas().columns) == list(frame.columns)
    with pytest.raises(ValueError, match="unknown brand"):
        mentions_frame(brands=["Nope"], database_url=store.url)


TOPIC_CASES = [
    ["-minus", "plain"],  # the formula quote goes on the joined cell, once
    ['say "hi"', "back\\slash"],  # JSON escapes: PostgreSQL's string shortcut must not be taken
    ["naïve, café", "日本"],  # non-ASCII and the CSV separator inside a name
    [],
    ["=SUM(A1)"],
]


def test_topics_and_times_render_like_python(store, tmp_path):
    from storage.models import Classification, Mention

    D.build(store)
    when = datetime(2026, 11, 3, 8, 0, 0, 120, tzinfo=UTC)  # microseconds keep all six digits
    with store.transaction() as s:
        for i, topics in enumerate(TOPIC_CASES):
            m = Mention(platform="x", external_id=f"t{i}", text="t", created_at=when, fetched_at=when)
            s.add(m)
            s.flush()
            scores = {"p_negative": 0.1, "p_neutral": 0.8, "p_positive": 0.1}
            s.add(
                Classification(
                    mention_id=m.id,
                    model_name="t",
                    model_version="1",
                    sentiment="neutral",
                    urgency="low",
                    topics=topics,
                    **scores,
                )
            )
    _export(store, "csv", tmp_path / "m.csv")
    with (tmp_path / "m.csv").open(encoding="utf-8", newline="") as f:
        rows = {r["external_id"]: r for r in csv.DictReader(f)}
    for i, topics in enumerate(TOPIC_CASES):
        assert rows[f"t{i}"]["topics"] == neutralise("; ".join(topics))
        assert rows[f"t{i}"]["created_at_utc"] == "2026-11-03T08:00:00.000120Z"
    assert rows["own"]["topics"] == ""  # no classification
    _export(store, "parquet", tmp_path / "m.parquet")
    table = {r["external_id"]: r for r in pq.read_table(tmp_path / "m.parquet").to_pylist()}
    assert [table[f"t{i}"]["topics"] for i in range(len(TOPIC_CASES))] == TOPIC_CASES
    assert table["t0"]["created_at_utc"] == when and table["own"]["topics"] is None


def test_read_ahead_keeps_order_and_hands_back_errors():
    from console.services.export_sqlite import read_ahead

    assert list(read_ahead(lambda: iter(range(100)), ahead=2)) == list(range(100))

    def failing():
        yield 1
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError, match="disk gone"):
        list(read_ahead(failing))
    produced = []

    def endless():
        for i in range(10**9):
            produced.append(i)
            yield i

    items = read_ahead(endless, ahead=2)
    assert next(items) == 0
    items.close()  # the reader stops instead of running on
    assert len(produced) <= 5


def test_sqlite_export_reads_without_mmap_and_restores_it(sqlite_store, tmp_path):
    from console.services.export_sqlite import without_mmap

    D.build(sqlite_store)
    with sqlite_store.read() as session:
        before = session.connection().exec_driver_sql("PRAGMA mmap_size").scalar()
        with without_mmap(session):
            assert session.connection().exec_driver_sql("PRAGMA mmap_size").scalar() == 0
        assert session.connection().exec_driver_sql("PRAGMA mmap_size").scalar() == before
        assert export_mentions(session, ALL, "csv", tmp_path / "m.csv").rows == 10
        assert session.connection().exec_driver_sql("PRAGMA mmap_size").scalar() == before
