"""Export throughput and peak memory: Arrow batches streamed from the store (ours) vs pandas over every row (baseline).

    mentiondesk generate --mentions 1000000 --database-url URL     # once
    python bench/export.py --database-url URL --mentions 1000000

Exports the first ``--mentions`` mentions (every field plus the current classification) to
CSV and to Parquet, ``--repeat`` times each (best time reported, as the dashboard benchmark does, and the
first run's as ``..._first_s``: it may read the store from disk rather than the page cache).  Each run is a
fresh child process so that its peak resident memory (``ru_maxrss``) is its own; the highest is reported.
The baseline reads the same query into one DataFrame with ``pandas.read_sql`` and writes it with
``to_csv`` / ``to_parquet``.  Prints
``RESULT export_csv_s``, ``RESULT export_parquet_s``, their peak memory, and the baseline's.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import machine, result  # noqa: E402


def _filters(session, mentions: int):  # noqa: ANN001, ANN202 - runs in the child only
    """Mentions up to the ``mentions``-th oldest, as a created_at range (the export's own filter)."""
    from sqlalchemy import select

    from console.services.mention_query import MentionFilters
    from storage.models import Mention

    first_left_out = session.scalar(select(Mention.created_at).order_by(Mention.created_at).offset(mentions).limit(1))
    return MentionFilters(until=first_left_out) if first_left_out is not None else MentionFilters()


def child(job: str, url: str, mentions: int, out: Path, compression: str) -> dict[str, float]:
    """One export in this process; returns seconds, rows and peak RSS in MB."""
    from console.services.export import export_mentions
    from console.services.permissions import Actor
    from console.services.store import open_store

    store = open_store(url)
    with store.read() as session:
        filters = _filters(session, mentions)
        start = time.perf_counter()
        if job in ("csv", "parquet"):
            actor = Actor.system("bench")
            rows = export_mentions(session, actor, filters, job, out, parquet_compression=compression).rows  # type: ignore[arg-type]
        else:
            rows = _naive(session, filters, job.removeprefix("naive_"), out)
        seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "rows": rows, "peak_mb": peak_mb, "bytes": out.stat().st_size}


def _naive(session, filters, fmt: str, out: Path) -> int:  # noqa: ANN001
    """Everything into one DataFrame first, then written out."""
    import pandas as pd

    from console.services.mention_query import COLUMNS, base_query

    query = base_query(COLUMNS, filters)
    frame = pd.read_sql(query, session.connection())
    frame.columns = [c.name for c in COLUMNS]
    if fmt == "csv":
        frame.to_csv(out, index=False)
    else:
        frame["topics"] = frame["topics"].map(lambda v: list(v) if isinstance(v, list) else None)
        frame.to_parquet(out, index=False)
    return len(frame)


def run_child(job: str, url: str, mentions: int, folder: Path, compression: str) -> dict[str, float]:
    out = folder / f"{job}.{'csv' if job.endswith('csv') else 'parquet'}"
    command = [
        sys.executable,
        __file__,
        "--child",
        job,
        "--database-url",
        url,
        "--mentions",
        str(mentions),
        "--out",
        str(out),
        "--compression",
        compression,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{job} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="A store filled by `mentiondesk generate`.")
    parser.add_argument("--mentions", type=int, default=1_000_000)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--repeat", type=int, default=2, help="Runs of each of ours (the baseline runs once).")
    parser.add_argument("--compression", default="snappy", help="Parquet codec (snappy, zstd, lz4, none).")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.database_url, args.mentions, args.out, args.compression)))
        return
    print(f"# {machine()}")
    print(f"# export code: {importlib.util.find_spec('console.services.export').origin}")  # this tree's, not another's
    print(f"# load average before: {os.getloadavg()}; Parquet compression: {args.compression}")
    jobs = ["csv", "parquet"] + ([] if args.no_baseline else ["naive_csv", "naive_parquet"])
    with tempfile.TemporaryDirectory() as folder:
        for job in jobs:
            runs = [
                run_child(job, args.database_url, args.mentions, Path(folder), args.compression)
                for _ in range(1 if job.startswith("naive_") else max(1, args.repeat))
            ]
            figures = runs[0]
            name = job.replace("naive_", "baseline_")
            times = ", ".join(f"{r['seconds']:.2f} s" for r in runs)
            print(f"# {job}: {figures['rows']:,} rows, {figures['bytes'] / 2**20:.1f} MB file, runs {times}")
            result(f"export_{name}_s", min(r["seconds"] for r in runs), "s")
            if len(runs) > 1:
                result(f"export_{name}_first_s", runs[0]["seconds"], "s")
            result(f"export_{name}_peak_mb", max(r["peak_mb"] for r in runs), "MB")
    print(f"# load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
