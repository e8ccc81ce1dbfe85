"""Ingest throughput: the real bulk path vs one ORM merge + commit per mention.

    python bench/ingest.py [--mentions 200000] [--baseline 5000] [--batch 1000]

Generated mentions (seeded) go through ``storage.ingest.ingest_batch``, one transaction per
batch as the worker does, into a fresh SQLite file and a fresh PostgreSQL schema.  The naive
baseline runs on a subset in the same process.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select  # noqa: E402

from bench._common import machine, pg_schema, result, sqlite_file, timer  # noqa: E402
from connectors.base import Mention  # noqa: E402
from connectors.demo import generate_mentions  # noqa: E402
from console.services.store import Store, open_store  # noqa: E402
from storage.ingest import ingest_batch  # noqa: E402
from storage.models import Author as AuthorRow  # noqa: E402
from storage.models import Mention as MentionRow  # noqa: E402


def make_mentions(n: int) -> list[Mention]:
    end = datetime(2026, 11, 1, tzinfo=UTC)
    return [g.mention for g in generate_mentions(n, seed=2026, start=end - timedelta(days=60), end=end)]


def ingest_all(store: Store, mentions: list[Mention], batch: int) -> float:
    with timer() as t:
        for start in range(0, len(mentions), batch):
            with store.transaction() as session:
                ingest_batch(session, mentions[start : start + batch])
    return t[0]


def naive_merge(store: Store, mentions: list[Mention]) -> float:
    """What a first version would do: look up, merge and commit one mention at a time."""
    with timer() as t:
        for m in mentions:
            with store.sessions() as session:
                author_id = None
                if m.author is not None:
                    a = session.scalar(
                        select(AuthorRow).where(
                            AuthorRow.platform == m.author.platform, AuthorRow.external_id == m.author.external_id
                        )
                    )
                    a = session.merge(
                        AuthorRow(
                            id=a.id if a else None,
                            platform=m.author.platform,
                            external_id=m.author.external_id,
                            handle=m.author.handle,
                            display_name=m.author.display_name,
                            followers=m.author.followers,
                            verified=m.author.verified,
                        )
                    )
                    session.flush()
                    author_id = a.id
                existing = session.scalar(
                    select(MentionRow.id).where(
                        MentionRow.platform == m.platform, MentionRow.external_id == m.external_id
                    )
                )
                session.merge(
                    MentionRow(
                        id=existing,
                        platform=m.platform,
                        external_id=m.external_id,
                        text=m.text,
                        created_at=m.created_at,
                        fetched_at=m.fetched_at,
                        author_id=author_id,
                        url=m.url,
                        language=m.language,
                        conversation_id=m.conversation_id,
                        in_reply_to_external_id=m.in_reply_to_id,
                        is_brand_post=m.is_brand_post,
                        like_count=m.metrics.likes,
                        repost_count=m.metrics.reposts,
                        reply_count=m.metrics.replies,
                        quote_count=m.metrics.quotes,
                        replyable=m.replyable,
                        replyable_reason=m.replyable_reason,
                        raw=dict(m.raw),
                    )
                )
                session.commit()
    return t[0]


def count(store: Store) -> int:
    with store.read() as session:
        return session.scalar(select(func.count()).select_from(MentionRow)) or 0


def run(db: str, url: str, mentions: list[Mention], subset: int, batch: int) -> None:
    store = open_store(url, upgrade=True)
    seconds = ingest_all(store, mentions, batch)
    stored = count(store)
    assert stored == len({(m.platform, m.external_id) for m in mentions}), f"{db}: stored {stored}"
    again = ingest_all(store, mentions[:subset], batch)  # re-delivery: all duplicates
    store.dispose()
    base_store = open_store(url.replace("ours", "base") if db == "sqlite" else url, upgrade=True)
    if db == "postgres":
        with base_store.engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE mentions, authors RESTART IDENTITY CASCADE")
    base = naive_merge(base_store, mentions[:subset])
    base_store.dispose()
    ours_rate, base_rate = len(mentions) / seconds, subset / base
    result(f"ingest_{db}", ours_rate, "mentions/s")
    result(f"ingest_{db}_redelivery", subset / again, "mentions/s")
    result(f"ingest_{db}_baseline_merge", base_rate, "mentions/s")
    result(f"ingest_{db}_speedup", ours_rate / base_rate, "x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mentions", type=int, default=200_000)
    parser.add_argument("--baseline", type=int, default=5_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--only", choices=["sqlite", "postgres"], default=None)
    args = parser.parse_args()
    print(f"# {machine()} · {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · batch {args.batch}", flush=True)
    with timer() as t:
        mentions = make_mentions(args.mentions)
    print(f"# generated {len(mentions):,} mentions in {t[0]:.1f} s (not counted)", flush=True)
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            run("sqlite", sqlite_file(Path(tmp), "ours.db"), mentions, args.baseline, args.batch)
    if args.only in (None, "postgres"):
        with pg_schema() as url:
            run("postgres", url, mentions, args.baseline, args.batch)


if __name__ == "__main__":
    main()
