"""`mentiondesk import`: CSV and X API v2 JSONL, bad rows reported by line, re-imports add nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from console.cli import main
from console.services.importer import import_file
from console.services.store import Store
from storage.models import Brand, Mention

CSV = """external_id,text,created_at,author,platform,brand,likes
1,"Flight delayed again, @SkylineAir 😡",2026-11-02T09:00:00Z,ana,x,Skyline Air,3
2,,2026-11-02T09:01:00Z,ben,x,Skyline Air,0
3,"Multi-line
post that spans lines",2026-11-02T09:02:00Z,cy,x,Skyline Air,0
4,"bad date",yesterday-ish,dee,x,Skyline Air,0
5,"bad count",2026-11-02T09:03:00Z,eve,x,Skyline Air,-4
6,"=HYPERLINK(""http://x"",""y"")",2026-11-02T09:04:00Z,fay,mastodon,,1
"""


def _count(store: Store) -> int:
    with store.read() as s:
        return s.scalar(select(func.count()).select_from(Mention)) or 0


def test_bad_rows_are_reported_with_line_numbers_and_good_rows_kept(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "mentions.csv"
    path.write_text(CSV, encoding="utf-8")
    report = import_file(store, path)
    assert [(e.line, e.reason.split(":")[0]) for e in report.errors] == [
        (3, "empty text"),
        (6, "created_at"),
        (7, "negative count '-4'"),
    ]
    assert report.result.new == 3
    with store.read() as s:
        texts = dict(s.execute(select(Mention.external_id, Mention.text)).all())
        brands = list(s.scalars(select(Brand.name)))
    assert texts["3"] == "Multi-line\npost that spans lines"
    assert brands == ["Skyline Air"]


def test_importing_twice_adds_nothing(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "mentions.csv"
    path.write_text(CSV, encoding="utf-8")
    import_file(store, path)
    again = import_file(store, path)
    assert (again.result.new, again.result.duplicates) == (0, 3)
    assert _count(store) == 3


def test_missing_required_column_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nope.csv"
    path.write_text("foo,bar\n1,2\n", encoding="utf-8")
    code = main(["import", str(path), "--database-url", f"sqlite:///{tmp_path / 's.db'}"])
    err = capsys.readouterr().err
    assert code != 0
    assert "missing required column(s)" in err and "Traceback" not in err


def test_airline_file_imports_as_is(sqlite_store: Store, data_dir: Path) -> None:
    report = import_file(sqlite_store, data_dir / "airline_tweets.csv")
    assert report.errors == []
    assert report.rows == 14_640
    # The public data set repeats some tweet ids: they are counted, never stored twice.
    assert report.result.new + report.result.duplicates + report.result.updated == 14_640
    assert _count(sqlite_store) == report.result.new > 14_000
    with sqlite_store.read() as s:
        assert s.scalar(select(func.count()).select_from(Brand)) == 6


FIXTURES = Path(__file__).parent / "fixtures" / "x"


def test_jsonl_of_x_pages_imports_and_reports_bad_lines(store: Store, tmp_path: Path) -> None:
    pages = [(FIXTURES / name).read_text(encoding="utf-8") for name in ("mentions_page1.json", "mentions_page2.json")]
    lines = [json.dumps(json.loads(p)) for p in pages] + ["{not json", json.dumps([1, 2])]
    path = tmp_path / "tweets.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    expected = sum(len(json.loads(p)["data"]) for p in pages)
    report = import_file(store, path)
    assert report.result.new == expected
    assert [e.line for e in report.errors] == [3, 4]
    assert "not valid JSON" in report.errors[0].reason
    with store.read() as s:
        rows = s.execute(select(Mention.replyable, Mention.url)).all()
    assert all(not replyable and url.startswith("https://x.com/") for replyable, url in rows)
    assert import_file(store, path).result.new == 0


def test_jsonl_malformed_posts_are_reported_and_the_rest_kept(sqlite_store: Store, tmp_path: Path) -> None:
    page = json.loads((FIXTURES / "mentions_malformed.json").read_text(encoding="utf-8"))
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(page) + "\n", encoding="utf-8")
    report = import_file(sqlite_store, path)
    assert report.errors and all(e.line == 1 for e in report.errors)
    assert report.result.new >= 1
