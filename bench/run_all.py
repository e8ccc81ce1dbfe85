"""Every benchmark in bench/, on cached stores, with the options docs/benchmarks.md reports: ``make bench``.

    python bench/run_all.py [--mentions 1000000] [--only ingest,classify,inbox,dashboard,export,console] [--rebuild]

The SQLite and PostgreSQL stores of ``--mentions`` mentions are built once and reused (``bench/stores.py``).
Each benchmark runs in its own process, its output passed through; the RESULT lines of all of them are
printed again at the end.  Below a million mentions the ingest and classify runs shrink with the stores
(at most the documented 200,000 mentions and 5,000 posts), so ``make bench BENCH_MENTIONS=20000`` is a quick
try of the whole chain.  Exits non-zero if any benchmark failed, after running the others.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stores import ROOT, ensure, postgres_url, sqlite_url  # noqa: E402

BENCH = ROOT / "bench"
Stores = dict[str, str]


def ingest(n: int, stores: Stores) -> list[list[str]]:
    mentions, baseline = min(200_000, max(1_000, n // 5)), min(5_000, max(200, n // 200))
    return [["ingest.py", "--mentions", str(mentions), "--baseline", str(baseline)]]


def classify(n: int, stores: Stores) -> list[list[str]]:
    posts, baseline = min(5_000, max(200, n // 200)), min(1_000, max(50, n // 1_000))
    return [
        ["classify.py", "--posts", str(posts), "--baseline-posts", str(baseline), "--fp32", "--baseline-bf16", "--int8"]
    ]


def inbox(n: int, stores: Stores) -> list[list[str]]:
    return [["inbox.py", "--database-url", url, "--runs", "40", "--baseline-runs", "3"] for url in stores.values()]


def dashboard(n: int, stores: Stores) -> list[list[str]]:
    urls = [arg for url in stores.values() for arg in ("--database-url", url)]
    return [["dashboard.py", *urls, "--mentions", str(n), "--repeat", "5", "--without-rollups"]]


def export(n: int, stores: Stores) -> list[list[str]]:
    """Every mention, then the first fifth (200,000 of a million), both with the pandas baseline."""
    return [
        ["export.py", "--database-url", url, "--mentions", str(rows), "--repeat", "3"]
        for rows in (n, max(1, n // 5))
        for url in stores.values()
    ]


def console(n: int, stores: Stores) -> list[list[str]]:
    """Last: opening a conversation claims the mention, a write the other benchmarks should not see."""
    urls = [arg for url in stores.values() for arg in ("--database-url", url)]
    return [["console.py", *urls, "--runs", "20"]]


BENCHMARKS: dict[str, Callable[[int, Stores], list[list[str]]]] = {
    "ingest": ingest,
    "classify": classify,
    "inbox": inbox,
    "dashboard": dashboard,
    "export": export,
    "console": console,
}
NEEDS_STORES = {"inbox", "dashboard", "export", "console"}


def run(args: list[str], results: dict[str, list[str]]) -> bool:
    """One benchmark in a child process, its output passed through and its RESULT lines kept under its command."""
    command = [sys.executable, str(BENCH / args[0]), *args[1:]]
    title = " ".join([f"bench/{args[0]}", *args[1:]])
    print(f"\n## {title}", flush=True)
    kept = results.setdefault(title, [])
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    started = time.perf_counter()
    with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        for line in child.stdout:
            print(line, end="", flush=True)
            if line.startswith("RESULT "):
                kept.append(line.rstrip("\n"))
    print(f"## bench/{args[0]}: exit {child.returncode} after {time.perf_counter() - started:.0f} s", flush=True)
    return child.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=1_000_000, help="size of the SQLite and PostgreSQL stores")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated benchmarks to run")
    parser.add_argument("--rebuild", action="store_true", help="generate the stores again even if complete")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    if unknown := sorted(set(chosen) - set(BENCHMARKS)):
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    if args.mentions <= 0:
        parser.error("--mentions must be positive")
    stores = {"sqlite": sqlite_url(args.mentions), "postgresql": postgres_url(args.mentions)}
    if NEEDS_STORES & set(chosen):
        for url in stores.values():
            ensure(url, args.mentions, rebuild=args.rebuild)
    results: dict[str, list[str]] = {}
    failed: list[str] = []
    for name, commands in BENCHMARKS.items():
        if name in chosen:
            failed += [command[0] for command in commands(args.mentions, stores) if not run(command, results)]
    print(f"\n## RESULT lines, {args.mentions:,}-mention stores", flush=True)
    for title, lines in results.items():
        print("\n".join([f"# {title}", *lines]), flush=True)
    if failed:
        sys.exit(f"bench: failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
