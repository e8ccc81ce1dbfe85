"""Exports on real SQLite and real PostgreSQL: files equal to a row-by-row Python rendering, formulas made inert,
types that read back, filters, progress, clean failures, the CLI and the notebook frame."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import func, select

from console.cli import main
from console.notebook import mentions_frame
from console.services.export import ExportUnavailable, arrow_schema, export_mentions, neutralise, read, writers
from console.services.export.cells import neutralised
from console.services.mention_query import COLUMNS, MentionFilters, base_query, columns_for, where
from console.services.permissions import Actor
from console.services.store import open_store
from storage.enums import Role
from storage.models import Classification, Mention
from tests import dashboard_data as D

ALL = MentionFilters()
ANALYST = Actor(1, "alex", Role.ANALYST)
ODD_TEXTS = ['say "hi", then\nleave', "=cmd", "", "naïve ☕ 日本", "  spaced", "a\rb", "-1", "@here", "\ttab", "x,y"]
ODD_TOPICS = [["-a", 'b "c"'], [], ["naïve, café", "日本"], ["back\\slash"], ["=SUM(A1)", "plain"]]
TIE = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)  # m3's time, shared by the odd rows


def _export(store, fmt, path, filters=ALL, **kw):
    with store.read() as session:
        return export_mentions(session, ANALYST, filters, fmt, path, **kw)


def _fill_odd(store):
    """D.build's rows, plus rows whose cells need quoting, neutralising, escaping or their microseconds."""
    D.build(store)
    with store.transaction() as s:
        for i, body in enumerate(ODD_TEXTS):
            m = Mention(
                platform="x",
                external_id=f"odd{i}",
                text=body,
                created_at=TIE + timedelta(microseconds=120 * (i % 3)),
                fetched_at=TIE,
                url=None if i % 3 else f"https://x.test/{i},{i}",
                like_count=i,
                raw={"z": i, "a": [1.5, None, "ü"], "m": {"y": True, "b": "x\ny"}} if i % 2 else {},
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
                        p_positive=0.125,
                        urgency="low",
                        urgency_score=1e-05,
                        topics=ODD_TOPICS[i % len(ODD_TOPICS)],
                    )
                )


def _python_rows(store, columns, filters=ALL):
    """The export's rows as SQLAlchemy reads them: Python values, one object per cell."""
    with store.read() as session:
        return [tuple(r) for r in session.execute(base_query(columns, filters))]


def _cell(value, kind, *, text_booleans):
    """A CSV or Excel cell rendered in Python, as the export promises it."""
    if value is None:
        return None
    if kind == "time":
        return value.isoformat().replace("+00:00", "Z")
    if kind == "list":
        return neutralise("; ".join(value))
    if kind == "json":
        return neutralise(json.dumps(value, ensure_ascii=False, sort_keys=True))
    if kind == "str":
        return neutralise(value)
    if kind == "bool" and text_booleans:
        return "true" if value else "false"
    if kind == "float":  # the CSV prints floats as Arrow does (0.00001, 0), the cell keeps the number
        return pa.scalar(value, pa.float64()).cast(pa.string()).as_py() if text_booleans else value
    return value


def _read_back(text):
    return ILLEGAL_CHARACTERS_RE.sub("", text).replace("\r", "\n") or None


def _python_file(fmt, rows, columns):
    names = [c.name for c in columns]
    if fmt == "csv":
        out = io.StringIO(newline="")
        writer = csv.writer(out)
        writer.writerow(names)
        writer.writerows([_cell(v, c.kind, text_booleans=True) for v, c in zip(r, columns, strict=True)] for r in rows)
        return out.getvalue().encode()
    if fmt == "jsonl":
        lines = []
        for row in rows:
            values = [_cell(v, "time", text_booleans=False) if c.kind == "time" else v for v, c in zip(row, columns)]
            lines.append(json.dumps(dict(zip(names, values, strict=True)), ensure_ascii=False) + "\n")
        return "".join(lines).encode()
    if fmt == "xlsx":  # as openpyxl reads the cells back: an empty string is no value, XML reads CR as LF
        cells = [[_cell(v, c.kind, text_booleans=False) for v, c in zip(r, columns, strict=True)] for r in rows]
        clean = [tuple(_read_back(v) if isinstance(v, str) else v for v in r) for r in cells]
        return [tuple(names), *clean]
    arrays = [
        [json.dumps(v, ensure_ascii=False, sort_keys=True) if c.kind == "json" and v is not None else v for v in values]
        for values, c in zip(zip(*rows, strict=True), columns, strict=True)
    ]
    return pa.Table.from_arrays(
        [pa.array(a, f.type) for a, f in zip(arrays, arrow_schema(columns))], schema=arrow_schema(columns)
    )


@pytest.mark.parametrize("include_raw", [False, True], ids=["columns", "with raw_json"])
@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet", "xlsx"])
def test_file_equals_a_row_by_row_python_rendering(store, tmp_path, monkeypatch, fmt, include_raw):
    _fill_odd(store)
    monkeypatch.setattr(read, "SQLITE_PART_ROWS", 3)  # SQLite: parts of ~3 rows, ties kept together
    columns = columns_for(include_raw)
    result = _export(store, fmt, tmp_path / f"m.{fmt}", include_raw=include_raw, chunk_rows=3)
    expected = _python_file(fmt, _python_rows(store, columns), columns)
    assert result.rows == 10 + len(ODD_TEXTS) and result.columns == tuple(c.name for c in columns)
    if fmt in ("csv", "jsonl"):
        assert (tmp_path / f"m.{fmt}").read_bytes() == expected
    elif fmt == "parquet":
        table = pq.read_table(tmp_path / "m.parquet")
        assert table.schema == expected.schema and table.equals(expected)
    else:
        sheet = load_workbook(tmp_path / "m.xlsx", read_only=True).active
        width = len(columns)  # read-only rows end at their last value
        assert [r + (None,) * (width - len(r)) for r in sheet.iter_rows(values_only=True)] == expected


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
        ("  =cmd", "'  =cmd"),  # spreadsheets trim what comes before the sign
        ("\u00a0=cmd", "'\u00a0=cmd"),  # NBSP
        ("\n+1", "'\n+1"),
        ("\r\n-1", "'\r\n-1"),
        ("\ufeff=cmd", "'\ufeff=cmd"),  # BOM
        ("\u200b\u2003\u3000@x", "'\u200b\u2003\u3000@x"),  # zero-width, em and ideographic spaces
        ("\x07\x0b=1", "'\x07\x0b=1"),  # controls the xlsx writer drops, leaving the sign first
        ("\u202e=1", "'\u202e=1"),  # a bidi override
        (" \t \u00a0\n", " \t \u00a0\n"),  # whitespace alone runs nothing
        ("  spaced", "  spaced"),
        ("ü=1", "ü=1"),
        ("x-1", "x-1"),
    ],
)
def test_neutralise(text, expected):
    assert neutralise(text) == expected


HIDDEN_FORMULAS = {
    "sp": ' =HYPERLINK("http://evil.example","x")',
    "nbsp": "\u00a0=1+1",
    "lf": "\n+1",
    "crlf": "\r\n-1",
    "bom": "\ufeff@SUM(A1)",
    "zw": "\u200b=cmd",
    "bell": "\x07=cmd",
}


def _add_hidden_formulas(store):
    D.build(store)
    with store.transaction() as s:
        for key, body in HIDDEN_FORMULAS.items():
            s.add(Mention(platform="x", external_id=f"hid-{key}", text=body, created_at=D.NOW, fetched_at=D.NOW))


def test_csv_neutralises_formulas_behind_leading_whitespace(store, tmp_path):
    _add_hidden_formulas(store)
    _export(store, "csv", tmp_path / "m.csv")
    with (tmp_path / "m.csv").open(encoding="utf-8", newline="") as f:
        rows = {r["external_id"]: r["text"] for r in csv.DictReader(f)}
    for key, body in HIDDEN_FORMULAS.items():
        assert rows[f"hid-{key}"] == "'" + body, key


def test_xlsx_cells_with_formulas_behind_whitespace_are_text(store, tmp_path):
    _add_hidden_formulas(store)
    _export(store, "xlsx", tmp_path / "m.xlsx")
    sheet = load_workbook(tmp_path / "m.xlsx").active
    rows = list(sheet.iter_rows())
    header = [c.value for c in rows[0]]
    text_at, id_at = header.index("text"), header.index("external_id")
    cells = {r[id_at].value: r[text_at] for r in rows[1:]}
    for key, body in HIDDEN_FORMULAS.items():
        cell = cells[f"hid-{key}"]
        assert cell.data_type == "s" and cell.value == _read_back(("'" + body).replace("\r\n", "\n")), key
    assert all(c.data_type != "f" for row in rows for c in row)  # not one formula in the sheet


def test_data_formats_keep_hidden_formulas_verbatim(store, tmp_path):
    _add_hidden_formulas(store)
    _export(store, "parquet", tmp_path / "m.parquet")
    _export(store, "jsonl", tmp_path / "m.jsonl")
    parquet = {r["external_id"]: r["text"] for r in pq.read_table(tmp_path / "m.parquet").to_pylist()}
    lines = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text(encoding="utf-8").splitlines()]
    jsonl = {r["external_id"]: r["text"] for r in lines}
    for key, body in HIDDEN_FORMULAS.items():
        assert parquet[f"hid-{key}"] == jsonl[f"hid-{key}"] == body, key


def test_one_cell_and_a_column_follow_the_same_rule():
    texts = [*HIDDEN_FORMULAS.values(), "plain", "", None, "a=b", "\t", "日本", " "]
    column = neutralised(pa.array(texts, pa.string())).to_pylist()
    assert column == [None if t is None else neutralise(t) for t in texts]


def test_every_leading_character_is_judged_alike_by_the_cell_and_the_column_rule():
    """Python's Unicode tables against RE2's, for each assigned character of planes 0, 1 and 14 before a sign."""
    planes = [*range(0x20000), *range(0xE0000, 0xE1000)]
    known = [chr(c) for c in planes if not 0xD800 <= c < 0xE000 and unicodedata.category(chr(c)) != "Cn"]
    texts = [f"{c}=1" for c in known] + [f"{c}x" for c in known]
    column = neutralised(pa.array(texts, pa.string())).to_pylist()
    assert [t for t, cell in zip(texts, column, strict=True) if cell != neutralise(t)] == []
    assert sum(cell != t for t, cell in zip(texts, column, strict=True)) > 250  # the spaces, controls, BOM…


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
    assert (tmp_path / "m.csv").read_bytes().count(b"\r\n") == 11  # Python csv's CRLF, header included


def test_csv_odd_cells_read_back(store, tmp_path):
    _fill_odd(store)
    _export(store, "csv", tmp_path / "m.csv")
    with (tmp_path / "m.csv").open(encoding="utf-8", newline="") as f:
        rows = {r["external_id"]: r for r in csv.DictReader(f)}
    assert rows["odd0"]["text"] == 'say "hi", then\nleave' and rows["odd1"]["text"] == "'=cmd"
    assert rows["odd8"]["text"] == "'\ttab" and rows["odd5"]["text"] == "a\rb" and rows["odd6"]["text"] == "'-1"
    assert rows["odd5"]["topics"] == '\'-a; b "c"' and rows["odd3"]["topics"] == "back\\slash"
    assert rows["odd0"]["topics"] == rows["odd1"]["topics"] == ""  # no classification; no topics
    assert rows["odd7"]["topics"] == "naïve, café; 日本" and rows["odd9"]["topics"] == "'=SUM(A1); plain"
    assert rows["odd0"]["url"] == "https://x.test/0,0" and rows["odd1"]["url"] == ""
    assert rows["odd1"]["created_at_utc"] == "2026-11-03T02:00:00.000120Z"
    assert rows["odd0"]["created_at_utc"] == "2026-11-03T02:00:00Z"


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
    assert pa.default_memory_pool().backend_name == "system"  # batches made in one thread, freed in another


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


def test_filter_values_are_quoted_into_the_sql(store, tmp_path):
    brands = D.build(store)
    with store.transaction() as s:  # a search term with a quote, a percent and a backslash: quoted, not run
        s.add(Mention(platform="x", external_id="q", text="it's 100% back\\slash", created_at=TIE, fetched_at=TIE))
    cases = [
        MentionFilters(search="it's 100% back\\slash"),
        MentionFilters(since=D.START, until=D.END, brand_ids=[brands["Skyline"]], include_brand_posts=False),
        MentionFilters(topics=["refund"], statuses=["new", "resolved"], platforms=["x"]),
        MentionFilters(sentiments=["negative"], urgencies=["high", "low"]),
    ]
    for i, filters in enumerate(cases):
        table = pq.read_table(_export(store, "parquet", tmp_path / f"{i}.parquet", filters).path)
        with store.read() as s:
            ids = s.scalars(select(Mention.id).where(*where(filters)).order_by(Mention.created_at, Mention.id)).all()
        assert table["id"].to_pylist() == list(ids), filters
    assert pq.read_table(tmp_path / "0.parquet")["external_id"].to_pylist() == ["q"]


def test_a_column_null_through_the_first_batch_keeps_its_type(store, tmp_path):
    """SQLite's driver types a column from its first batch: NULL all through it must not make it int64."""
    when = datetime(2026, 1, 1, tzinfo=UTC)
    with store.transaction() as s:
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
    _export(store, "parquet", tmp_path / "m.parquet", chunk_rows=2)
    table = pq.read_table(tmp_path / "m.parquet")
    assert table.schema.field("resolved_at_utc").type == pa.timestamp("us", tz="UTC")
    assert table.column("resolved_at_utc").to_pylist() == [None] * 4 + [when + timedelta(days=1)] * 2
    _export(store, "csv", tmp_path / "m.csv", chunk_rows=2)
    with (tmp_path / "m.csv").open(encoding="utf-8", newline="") as f:
        assert [r["resolved_at_utc"] for r in csv.DictReader(f)] == [""] * 4 + ["2026-01-02T00:00:00Z"] * 2


def test_sqlite_parts_read_one_state_while_a_writer_commits(sqlite_store, monkeypatch):
    D.build(sqlite_store)
    monkeypatch.setattr(read, "SQLITE_PART_ROWS", 2)
    columns = columns_for()
    before = [r[0] for r in _python_rows(sqlite_store, columns)]
    with sqlite_store.read() as session:
        batches = read.mention_batches(session, ANALYST, ALL, columns)
        first = next(batches)  # the first parts are read; the rest will be after this commit
        with sqlite_store.transaction() as s:
            s.add(Mention(platform="x", external_id="later", text="t", created_at=D.NOW, fetched_at=D.NOW))
            s.execute(Mention.__table__.update().values(text="changed"))
        rows = pa.Table.from_batches([first, *batches]).to_pylist()
    assert len(rows) == 10 and {r["text"] for r in rows}.isdisjoint({"changed"})
    assert [r["id"] for r in rows] == before


def test_the_fence_holds_writers_until_every_sqlite_reader_has_begun(sqlite_store, tmp_path, monkeypatch):
    import sqlite3

    D.build(sqlite_store)
    path = sqlite_store.engine.url.database
    real_connect, opened = read.adbc_driver_sqlite.dbapi.connect, []

    def connect_then_write(*args, **kwargs):
        if opened:  # between the readers: another process tries to commit, and waits
            other = sqlite3.connect(path, timeout=0.2, isolation_level=None)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("INSERT INTO brands (name, is_competitor) VALUES ('Sneaky', 0)")
            other.close()
        opened.append(1)
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(read.adbc_driver_sqlite.dbapi, "connect", connect_then_write)
    assert _export(sqlite_store, "csv", tmp_path / "m.csv").rows == 10 and len(opened) == read.SQLITE_READERS
    monkeypatch.undo()
    with sqlite_store.transaction() as s:  # and once they have, writers go on
        s.execute(Mention.__table__.update().values(text="changed"))


@pytest.mark.parametrize("where_", ["writer", "reader"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet", "jsonl"])
def test_failed_export_leaves_no_file(store, tmp_path, monkeypatch, fmt, where_):
    D.build(store)
    if where_ == "writer":  # the first chunk is written, then the disk fills up
        writer = type(writers.WRITERS[fmt].__name__, (writers.WRITERS[fmt],), {})
        real_write, written = writer.write, []

        def write(self, chunk):
            if written:
                raise RuntimeError("disk full")
            written.append(chunk.num_rows)
            real_write(self, chunk)

        writer.write = write
        monkeypatch.setitem(writers.WRITERS, fmt, writer)
    else:  # the reading thread fails converting a batch

        def typed(*args):
            raise RuntimeError("disk full")

        monkeypatch.setattr(read, "_typed", typed)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(RuntimeError, match="disk full"):
        _export(store, fmt, out / f"m.{fmt}", chunk_rows=2)
    assert list(out.iterdir()) == []
    monkeypatch.undo()
    assert _export(store, fmt, out / f"m.{fmt}").rows == 10  # nothing left holding the store


def test_an_in_memory_sqlite_store_is_refused_clearly(tmp_path):
    store = open_store("sqlite://")
    with store.read() as session, pytest.raises(ExportUnavailable, match="in memory"):
        export_mentions(session, ANALYST, ALL, "csv", tmp_path / "m.csv")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.pg
def test_postgres_unreachable_through_adbc_is_a_clear_cli_error(pg_store, tmp_path, monkeypatch, capsys):
    D.build(pg_store)

    def refused(*args, **kwargs):
        raise ConnectionRefusedError("connection refused")

    monkeypatch.setattr(read.adbc_driver_postgresql.dbapi, "connect", refused)
    assert main(["export", "--database-url", pg_store.url, "--out", str(tmp_path / "m.csv")]) == 1
    assert "cannot read PostgreSQL through ADBC (ConnectionRefusedError: connection refused)" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


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


def test_cli_export_parquet_compression_is_a_choice(sqlite_store, tmp_path, capsys):
    D.build(sqlite_store)
    out = tmp_path / "out.parquet"
    args = ["export", "--database-url", sqlite_store.url, "--compression", "zstd", "--include-raw", "--out", str(out)]
    assert main(args) == 0
    group = pq.ParquetFile(out).metadata.row_group(0)
    assert {group.column(i).compression for i in range(group.num_columns)} == {"ZSTD"}
    assert pq.read_table(out).num_rows == 10 and "raw_json" in pq.read_table(out).column_names
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
    first = mentions_frame(limit=3, include_raw=True, database_url=store.url)
    with store.read() as s:
        oldest = s.scalars(select(Mention.external_id).order_by(Mention.created_at, Mention.id).limit(3)).all()
        assert s.scalar(select(func.count()).select_from(Mention)) == 10
    assert list(first["external_id"]) == list(oldest) and list(first["raw_json"]) == ["{}"] * 3
    with pytest.raises(ValueError, match="unknown brand"):
        mentions_frame(brands=["Nope"], database_url=store.url)
