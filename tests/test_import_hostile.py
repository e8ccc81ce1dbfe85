"""Hostile input, row by row: every bad row is reported on its line and every good row is stored.

Each file in ``tests/fixtures/hostile/`` holds one kind of bad input between good rows; the big ones
(5,000 rows, a 200,000-character field, JSON nested 100,000 deep) are written at test time.  Everything
runs on real SQLite and real PostgreSQL: SQLite stores what PostgreSQL refuses (a NUL, a 17-character
platform, a 40-bit count), so only the validation can make the two behave the same.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import select, text

from connectors.base import Author, Batch, FatalError, Mention, Metrics, PostedReply
from connectors.file_import import RowError
from connectors.limits import Limits, MentionRejected, validate_mention
from console.cli import main
from console.config import parse_config
from console.secrets import Secrets
from console.services.importer import import_file
from console.services.store import Store
from console.worker.factory import ConnectorFactory
from console.worker.loop import run_once
from storage.enums import MentionStatus
from storage.ingest import ingest_isolated
from storage.models import Author as AuthorRow
from storage.models import Brand, Source
from storage.models import Mention as MentionRow
from tests.factories import make_mention

HOSTILE = Path(__file__).parent / "fixtures" / "hostile"
HEADER = "external_id,text,created_at,author,platform,brand,likes\n"


def _row(i: int, text: str | None = None, likes: str = "0") -> str:
    return f"r{i},{text or f'post number {i}'},2026-11-02T09:00:00Z,user{i % 50},x,Skyline Air,{likes}\n"


def _raw(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else json.loads(value)


def _stored(store: Store) -> dict[str, MentionRow]:
    with store.read() as s:
        return {m.external_id: m for m in s.scalars(select(MentionRow))}


def _lines(errors: list[RowError]) -> list[int]:
    return [e.line for e in errors]


# --- one fixture per kind of bad input -----------------------------------------------------------

CASES = {
    # file: (lines reported, external ids stored, a word every reason has)
    "number_overflow.csv": ([3, 4, 5], {"n1", "n5"}, "finite"),
    "int_over_int64.csv": ([3, 4, 5, 6], {"i1", "i6"}, ""),
    "absurd_date.csv": ([3, 4, 5, 6, 7], {"d1", "d7"}, ""),
    "long_platform.csv": ([3], {"p1", "p3"}, "16 characters"),
    "invalid_utf8.csv": ([3, 6], {"u1", "u3", "u5"}, "not valid UTF-8"),
    "nul_byte.csv": ([4], {"z1", "z2", "z4"}, "empty text"),
    "long_columns.csv": ([3], {"c1", "c3", "c4", "c6"}, "120 characters"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_bad_row_is_reported_on_its_line_and_the_good_rows_are_stored(store: Store, name: str) -> None:
    lines, kept, word = CASES[name]
    report = import_file(store, HOSTILE / name)
    assert _lines(report.errors) == lines, report.errors
    assert all(word in e.reason for e in report.errors)
    stored = _stored(store)
    assert kept <= set(stored) and len(stored) == report.result.new
    again = import_file(store, HOSTILE / name)  # a re-run adds nothing and stops nowhere
    assert (again.result.new, _lines(again.errors)) == (0, lines)


def test_reasons_say_what_is_wrong_in_plain_words(sqlite_store: Store) -> None:
    reasons = {e.line: e.reason for e in import_file(sqlite_store, HOSTILE / "int_over_int64.csv").errors}
    assert reasons[3] == "likes: 99999999999999999999 is outside 0 to 2,147,483,647"
    assert reasons[6].startswith("followers: 18446744073709551616 is outside")
    assert len(reasons[5]) < 120  # the 5,000-digit value is shown shortened
    dates = {e.line: e.reason for e in import_file(sqlite_store, HOSTILE / "absurd_date.csv").errors}
    assert dates[4] == "created_at: 3000-01-01 is outside 1970-01-01 to 2100-01-01"
    assert dates[5] == "created_at: '9999-12-31T23:59:59-05:00' is out of range"
    utf8 = {e.line: e.reason for e in import_file(sqlite_store, HOSTILE / "invalid_utf8.csv").errors}
    assert utf8 == {
        3: "not valid UTF-8: byte 0xE9 in column 'text'",
        6: "not valid UTF-8: byte 0xFF in column 'author'",
    }


def test_nul_bytes_are_removed_and_the_row_kept(store: Store) -> None:
    import_file(store, HOSTILE / "nul_byte.csv")
    row = _stored(store)["z2"]
    assert row.text == "NUL in the text"
    assert "\x00" not in json.dumps(_raw(row.raw))
    with store.read() as s:
        assert list(s.scalars(select(Brand.name))) == ["Skyline Air"]
        assert "ben" in s.scalars(select(AuthorRow.handle)).all()


def test_fields_too_long_for_their_columns_are_fitted_and_the_originals_kept(store: Store) -> None:
    import_file(store, HOSTILE / "long_columns.csv")
    stored = _stored(store)
    assert stored["c3"].url is None and stored["c4"].language is None
    hashed = next(m for k, m in stored.items() if k.startswith("h:"))
    notes = _raw(hashed.raw)["_mentiondesk"]["original_ids"]
    assert notes["external_id"] == "e" * 200 and len(notes["author_handle"]) == 150
    assert len(_raw(stored["c3"].raw)["_mentiondesk"]["original_ids"]["url"]) > 512


def test_invalid_utf8_does_not_shift_the_lines_of_a_multi_line_row(store: Store) -> None:
    import_file(store, HOSTILE / "invalid_utf8.csv")
    assert _stored(store)["u3"].text == "two\nlines, good 👍"


# --- generated at test time: big files -----------------------------------------------------------


def test_one_1e400_in_the_middle_of_5000_rows_costs_only_its_own_row(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    rows = [_row(i, likes="1e400" if i == 2_500 else str(i)) for i in range(5_000)]
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    report = import_file(store, path)
    assert _lines(report.errors) == [2_502] and "1e400" in report.errors[0].reason
    assert report.result.new == 4_999 and len(_stored(store)) == 4_999
    again = import_file(store, path)
    assert (again.result.new, again.result.duplicates, _lines(again.errors)) == (0, 4_999, [2_502])


def test_a_field_over_131072_characters_is_stored_cut_with_the_original_in_raw(store: Store, tmp_path: Path) -> None:
    long = "a" * 200_000
    path = tmp_path / "long.csv"
    path.write_text(HEADER + _row(1) + _row(2, text=long) + _row(3), encoding="utf-8")
    report = import_file(store, path)
    assert report.errors == [] and report.result.new == 3
    row = _stored(store)["r2"]
    assert len(row.text) == 40_000 and row.text.endswith("…")
    raw = _raw(row.raw)
    assert raw["data"]["text"] == long and raw["_mentiondesk"]["text_cut_from"] == 200_000
    assert "full_text" not in raw["_mentiondesk"]  # the payload already holds it: not stored twice


def test_a_field_over_the_size_limit_is_its_rows_error(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    path.write_text(HEADER + _row(1) + _row(2, text="b" * 150_000) + _row(3), encoding="utf-8")
    report = import_file(store, path, limits=Limits(max_field_size=100_000))
    assert _lines(report.errors) == [3] and "over the limit of 100,000" in report.errors[0].reason
    assert set(_stored(store)) == {"r1", "r3"}


def test_a_field_the_csv_module_itself_refuses_costs_only_its_row(sqlite_store: Store, tmp_path: Path) -> None:
    saved = csv.field_size_limit()
    csv.field_size_limit(131_072)  # Python's default, which the import used to run into
    try:
        path = tmp_path / "huger.csv"
        path.write_text(HEADER + _row(1) + _row(2, text="c" * 200_000) + _row(3), encoding="utf-8")
        report = import_file(sqlite_store, path, limits=Limits(max_field_size=50_000))
    finally:
        csv.field_size_limit(saved)
    assert _lines(report.errors) == [3] and "field larger than field limit" in report.errors[0].reason
    assert set(_stored(sqlite_store)) == {"r1", "r3"}


def test_the_configured_max_text_length_applies_to_the_import_command(
    sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "mentiondesk.toml"
    config.write_text("[ingest]\nmax_text_length = 300\n", encoding="utf-8")
    monkeypatch.setenv("MENTIONDESK_CONFIG", str(config))
    path = tmp_path / "m.csv"
    path.write_text(HEADER + _row(1, text="d" * 1_000) + _row(2, likes="1e400"), encoding="utf-8")
    assert main(["import", str(path), "--database-url", sqlite_store.url]) == 0
    out = capsys.readouterr()
    assert "1 new" in out.out and "line 3: likes: '1e400' is not a finite number" in out.err
    assert len(_stored(sqlite_store)["r1"].text) == 300


# --- JSONL ---------------------------------------------------------------------------------------


def test_hostile_jsonl_lines_are_reported_and_the_other_posts_stored(store: Store) -> None:
    report = import_file(store, HOSTILE / "hostile.jsonl")
    reasons = {e.line: e.reason for e in report.errors}
    assert sorted(reasons) == [2, 3, 5, 6]
    assert reasons[2].startswith("not valid UTF-8: byte 0xE9")
    assert reasons[3].startswith("post 2003: likes: 100000000000000000000 is outside")
    assert reasons[5].startswith("not valid JSON: Exceeds the limit (4300 digits)")
    assert reasons[6] == "nested deeper than 64 levels"
    stored = _stored(store)
    assert set(stored) == {"2001", "2002", "2004", "2005", "2006"}
    assert stored["2005"].text == "NUL and a lone \ufffd surrogate"
    assert import_file(store, HOSTILE / "hostile.jsonl").result.new == 0


def test_jsonl_nested_100000_deep_costs_only_its_line(store: Store, tmp_path: Path) -> None:
    good = (HOSTILE / "hostile.jsonl").read_bytes().splitlines()
    path = tmp_path / "deep.jsonl"
    path.write_bytes(b"\n".join([good[0], b"[" * 100_000 + b"]" * 100_000, good[6]]) + b"\n")
    report = import_file(store, path)
    assert [(e.line, e.reason) for e in report.errors] == [(2, "not readable: nested deeper than 64 levels")]
    assert set(_stored(store)) == {"2001", "2002", "2006"}


def test_a_jsonl_line_over_the_byte_limit_costs_only_its_line(store: Store, tmp_path: Path) -> None:
    good = (HOSTILE / "hostile.jsonl").read_bytes().splitlines()
    path = tmp_path / "long.jsonl"
    padded = b'{"data": [], "pad": "' + b"p" * 30_000 + b'"}'
    path.write_bytes(b"\n".join([good[0], padded, good[6]]))  # the last line has no newline
    report = import_file(store, path, limits=Limits(max_line_bytes=20_000))
    assert [(e.line, e.reason) for e in report.errors] == [(2, "the line is longer than 20,000 bytes")]
    assert set(_stored(store)) == {"2001", "2002", "2006"}


# --- the database's own refusals: the chunk is halved until the row is found ---------------------

_SQLITE_TRIGGER = """
CREATE TRIGGER refuse_poison BEFORE INSERT ON mentions WHEN NEW.text LIKE '%poison%'
BEGIN SELECT RAISE(ABORT, 'poisoned text refused'); END
"""
_PG_FUNCTION = """
CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.text LIKE '%poison%' THEN
    RAISE EXCEPTION 'poisoned text refused' USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$
"""
_PG_TRIGGER = "CREATE TRIGGER refuse_poison BEFORE INSERT ON mentions FOR EACH ROW EXECUTE FUNCTION refuse_poison()"


def _with_poison_trigger(store: Store) -> None:
    with store.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(text(_SQLITE_TRIGGER))
        else:
            conn.execute(text(_PG_FUNCTION))
            conn.execute(text(_PG_TRIGGER))


def _drop_poison_trigger(store: Store) -> None:
    if store.engine.dialect.name == "postgresql":
        with store.engine.begin() as conn:
            conn.execute(text("DROP TRIGGER IF EXISTS refuse_poison ON mentions"))
            conn.execute(text("DROP FUNCTION IF EXISTS refuse_poison()"))


def test_a_row_the_database_refuses_is_found_and_reported_on_its_line(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "poison.csv"
    rows = [_row(i, text="poison pill" if i in (7, 300) else None) for i in range(500)]
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    _with_poison_trigger(store)
    try:
        report = import_file(store, path, status=MentionStatus.RESOLVED)
    finally:
        _drop_poison_trigger(store)
    assert _lines(report.errors) == [9, 302]
    assert all("the database refused it" in e.reason and "poisoned text" in e.reason for e in report.errors)
    assert "INSERT" not in report.errors[0].reason  # the reason, not the SQL and its parameters
    stored = _stored(store)
    assert len(stored) == report.result.new == 498 and "r7" not in stored
    assert {m.status for m in stored.values()} == {MentionStatus.RESOLVED}


def test_unvalidated_records_the_database_refuses_cost_only_themselves(store: Store) -> None:
    """The safety net under the validation, with nothing validated: each backend refuses what it refuses."""
    records = [
        make_mention(0),
        make_mention(1, text="NUL\x00"),
        make_mention(2, likes=2**40),
        make_mention(3, likes=2**70),
        make_mention(4, platform="p" * 17),
        make_mention(5),
    ]
    with store.transaction() as session:
        result, refused = ingest_isolated(session, records)
    postgres = store.engine.dialect.name == "postgresql"
    assert [r.index for r in refused] == ([1, 2, 3, 4] if postgres else [3])
    assert result.new == 6 - len(refused)
    assert {"x-0", "x-5"} <= set(_stored(store))


def test_a_batch_the_database_refuses_whole_raises_instead_of_dropping_it(sqlite_store: Store) -> None:
    records = [make_mention(1, likes=2**70), make_mention(2, likes=2**70)]
    with pytest.raises(OverflowError), sqlite_store.transaction() as session:
        ingest_isolated(session, records)


@pytest.mark.parametrize("likes", [0, 2**70], ids=["clean batch", "halved batch"])
def test_savepoints_stay_inside_the_callers_transaction(store: Store, likes: int) -> None:
    """pysqlite begins lazily: without care, releasing the first savepoint would commit on SQLite."""
    with pytest.raises(RuntimeError), store.transaction() as session:
        ingest_isolated(session, [make_mention(1), make_mention(2, likes=likes), make_mention(3)])
        raise RuntimeError("the caller fails after the batch")
    assert _stored(store) == {}


# --- connector mapping: the same validation, in the worker ----------------------------------------


class _Page:
    """A connector double: one page of the given mentions, then nothing."""

    platform: ClassVar[str] = "x"

    def __init__(self, mentions: list[Mention]) -> None:
        self.mentions = mentions

    def fetch(self, cursor: str | None, *, limit: int = 100) -> Batch:
        return Batch(self.mentions, "c1", False) if cursor is None else Batch([], cursor, False)

    def reply(self, to: Mention, text: str, *, idempotency_key: str) -> PostedReply:
        raise FatalError("this double never replies")


def _hostile_mentions() -> list[Mention]:
    deep: Any = "bottom"
    for _ in range(100):
        deep = [deep]
    long_text = "é" * 5_000
    return [
        make_mention(1),
        make_mention(2, platform="p" * 17),
        make_mention(3, created_at=datetime(1, 1, 1, tzinfo=UTC)),
        make_mention(4, likes=2**70),
        make_mention(5, raw={"deep": deep}),
        make_mention(6, author=Author("x", "u6", "neg", None, followers=-5)),
        make_mention(7, text="NUL\x00 text", raw={"data": {"name": "a\x00b", "huge": 2**70}}),
        make_mention(8, text=long_text, raw={"data": {"id": "8"}}),
        make_mention(9, metrics=Metrics(likes=True)),  # type: ignore[arg-type]
        make_mention(10),
    ]


def test_a_page_with_hostile_mentions_stores_the_good_ones_and_skips_the_rest(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    with store.transaction() as session:
        session.add(Source(name="hostile", platform="x", kind="mentions", interval_s=60))
    config = parse_config({"ingest": {"max_text_length": 1_000}}, "test.toml")
    page = _Page(_hostile_mentions())
    factory = ConnectorFactory(secrets=Secrets(env={}), config=config, builders={"x": lambda lease, ctx: page})
    with caplog.at_level(logging.WARNING, logger="console.worker.fetch_step"):
        [outcome] = run_once(store, factory, owner="w1")
    assert outcome.ok and outcome.result.new == 4
    stored = _stored(store)
    assert set(stored) == {"x-1", "x-7", "x-8", "x-10"}
    skipped = {r.getMessage().split(": ", 1)[0].split()[-1]: r.getMessage() for r in caplog.records}
    for external_id, reason in [
        ("p" * 17 + "-2", "longer than 16 characters"),
        ("x-3", "created_at: 0001-01-01 is outside"),
        ("x-4", "likes: 1180591620717411303424 is outside"),
        ("x-5", "nested deeper than 64 levels"),
        ("x-6", "followers: -5 is outside"),
        ("x-9", "likes: True is not a whole number"),
    ]:
        assert reason in skipped[external_id]
    assert stored["x-7"].text == "NUL text"
    raw7 = _raw(stored["x-7"].raw)
    assert raw7["data"] == {"name": "ab", "huge": str(2**70)}
    raw8 = _raw(stored["x-8"].raw)
    assert len(stored["x-8"].text) == 1_000 and stored["x-8"].text.endswith("…")
    assert raw8["_mentiondesk"]["full_text"] == "é" * 5_000  # the payload did not hold it: kept in the notes
    with store.read() as s:
        assert s.scalar(select(Source.cursor).where(Source.name == "hostile")) == "c1"


def test_validate_mention_leaves_a_good_mention_as_it_was() -> None:
    good = make_mention(1)
    assert validate_mention(good, Limits()) == good
    with pytest.raises(MentionRejected, match="the post has no text"):
        validate_mention(replace(good, text=None), Limits())  # type: ignore[arg-type]
