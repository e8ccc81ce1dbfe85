"""The gold urgency set: posts drawn from ``../shared/data`` and labelled by careful reading.

The seed set (``urgency_seed.py``) is labelled mostly by the same phrase cues the rubric applies, so a
model judged on it is judged on agreement with the cues. The gold set is drawn so that critical and high
are well represented (by cue, by negative sentiment or emotion, and at random), then every post is read
twice, independently, under ``docs/urgency.md``; a third reading settles each disagreement
(``docs/urgency-gold.md`` has the protocol and the agreement). Only ids and labels live in the repository.

Never drawn: the airline ``test`` split, TweetEval sentiment val (lines 1,001-2,000 are the reporting set)
and every TweetEval ``test`` split.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from classifiers import datasets
from classifiers.rubric import matching_cues

DATA = Path(__file__).resolve().parent / "data"
GOLD_FILE = DATA / "urgency_gold.csv"
LEVELS = ("critical", "high", "normal", "low")
HOLD_OUT_PERCENT = 25

# Per source: how many posts come from each stratum ("cue", "negative", "random").
PLAN: dict[str, dict[str, int]] = {
    "airline": {"cue": 300, "negative": 250, "random": 180},
    "twcs": {"cue": 135, "negative": 200, "random": 250},
    "semeval": {"cue": 80, "negative": 120, "random": 70},
    "emotion": {"cue": 60, "negative": 130, "random": 70},
    "offensive": {"cue": 40, "negative": 110, "random": 50},
}
"""2,045 posts (the care threads hold only 135 with a cue: all of them). "negative" is the data set's own
signal: airline/SemEval negative sentiment, TweetEval anger or sadness, TweetEval offensive; for the care
threads (no labels) a complaint word."""

_TWCS_NEGATIVE = ("not ", "no ", "never", "still", "worst", "terrible", "help", "why", "can't", "won't", "broken")


@dataclass(frozen=True)
class Candidate:
    """A post drawn for reading: where it comes from, and why it was drawn (kept from the readers)."""

    source: str
    id: str
    stratum: str
    text: str


def held_out(source: str, ident: str) -> bool:
    """The fixed 25 % reporting hold-out, by a hash of source and id (never used to choose a recipe)."""
    digest = hashlib.sha256(f"gold:{source}:{ident}".encode()).digest()
    return digest[0] * 100 // 256 < HOLD_OUT_PERCENT


def _tweeteval_posts(data_dir: Path, task: str) -> Iterator[tuple[str, str, int]]:
    """``(id, text, label)`` of a TweetEval task's train and val splits; the id is ``split:line`` (1-based)."""
    for split in ("train", "val"):
        labelled = datasets.tweeteval(data_dir, task, split)
        for line, (text, label) in enumerate(zip(labelled.texts, labelled.targets, strict=True), start=1):
            yield f"{split}:{line}", text, label


def posts(data_dir: Path) -> Iterator[tuple[str, str, str, bool]]:
    """Every post that may be drawn: ``(source, id, text, negative)``."""
    for row in datasets.airline_rows(data_dir):
        if row["split"] != "test":
            yield "airline", row["tweet_id"], row["text"], row["airline_sentiment"] == "negative"
    with datasets.require(data_dir / "twcs_sample.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["inbound"] == "True":
                lowered = row["text"].lower()
                yield "twcs", row["tweet_id"], row["text"], any(w in lowered for w in _TWCS_NEGATIVE)
    path = datasets.require(data_dir / "semeval2017_task4a_train.tsv")
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row.get("text"):
                yield "semeval", row["tweet_id"], row["text"], row.get("label") == "negative"
    angry_or_sad = {datasets.EMOTION_LABELS.index("anger"), datasets.EMOTION_LABELS.index("sadness")}
    for ident, text, label in _tweeteval_posts(data_dir, "emotion"):
        yield "emotion", ident, text, label in angry_or_sad
    for ident, text, label in _tweeteval_posts(data_dir, "offensive"):
        yield "offensive", ident, text, label == 1


def draw(data_dir: Path, seed: int = 14) -> list[Candidate]:
    """The 2,000 posts to read: per source, every stratum sampled without replacement, texts unique."""
    rng = random.Random(seed)
    by_source: dict[str, dict[str, list[Candidate]]] = {s: {"cue": [], "negative": [], "random": []} for s in PLAN}
    seen: set[str] = set()
    for source, ident, text, negative in posts(data_dir):
        key = " ".join(text.lower().split())
        if not key or key in seen:
            continue  # the airline file repeats posts; one reading each
        seen.add(key)
        pools = by_source[source]
        if matching_cues(text):
            pools["cue"].append(Candidate(source, ident, "cue", text))
        elif negative:
            pools["negative"].append(Candidate(source, ident, "negative", text))
        pools["random"].append(Candidate(source, ident, "random", text))
    chosen: dict[tuple[str, str], Candidate] = {}
    for source, plan in PLAN.items():
        for stratum, count in plan.items():
            pool = [c for c in by_source[source][stratum] if (c.source, c.id) not in chosen]
            for candidate in rng.sample(pool, min(count, len(pool))):
                chosen[(candidate.source, candidate.id)] = candidate
    return sorted(chosen.values(), key=lambda c: (c.source, c.id))


@dataclass(frozen=True)
class GoldRow:
    """One adjudicated label: the two readings, the third where they differed, and the final level."""

    source: str
    id: str
    stratum: str
    reader_a: str
    reader_b: str
    adjudicated: str
    label: str
    split: str
    text: str = ""


GOLD_COLUMNS = ("source", "id", "stratum", "reader_a", "reader_b", "adjudicated", "label", "split")


def write_gold(rows: list[GoldRow], path: Path = GOLD_FILE) -> None:
    """Ids, readings and labels only: the texts stay in ``../shared/data``."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(GOLD_COLUMNS)
        writer.writerows([getattr(r, c) for c in GOLD_COLUMNS] for r in sorted(rows, key=lambda r: (r.source, r.id)))


def load_gold(data_dir: Path, path: Path = GOLD_FILE, split: str | None = None) -> list[GoldRow]:
    """The gold rows (of one ``split``: "holdout" or "dev"), their texts joined from the shared data."""
    texts = {(source, ident): text for source, ident, text, _ in posts(data_dir)}
    with datasets.require(path).open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if split is None or r["split"] == split]
    missing = [(r["source"], r["id"]) for r in rows if (r["source"], r["id"]) not in texts]
    if missing:
        raise datasets.DataMissingError(f"{len(missing)} gold posts are not in {data_dir}, e.g. {missing[0]}")
    return [GoldRow(**{c: r[c] for c in GOLD_COLUMNS}, text=texts[(r["source"], r["id"])]) for r in rows]


def _readings(path: Path) -> dict[str, str]:
    """``key -> level`` of one reader's JSON Lines file (``{"n", "key", "level", ...}`` per line)."""
    out: dict[str, str] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                out[str(row["key"])] = str(row["level"]).strip().lower()
    return out


def write_batches(data_dir: Path, folder: Path, batches: int = 4, seed: int = 2026) -> None:
    """Shuffle the draw into ``batchN.jsonl`` files for the readers (texts, no strata)."""
    items = draw(data_dir)
    random.Random(seed).shuffle(items)
    size = -(-len(items) // batches)
    for k in range(batches):
        with (folder / f"batch{k + 1}.jsonl").open("w", encoding="utf-8") as handle:
            for n, c in enumerate(items[k * size : (k + 1) * size], start=1):
                handle.write(json.dumps({"n": n, "key": f"{c.source}|{c.id}", "text": c.text}, ensure_ascii=False))
                handle.write("\n")


def merge_readings(data_dir: Path, folder: Path) -> list[GoldRow]:
    """Gold rows from ``reader_A_batch*.jsonl``, ``reader_B_batch*.jsonl`` and ``adjudicated*.jsonl``.

    Raises:
        ValueError: a post lacks a valid reading, or a disagreement lacks its third reading.
    """
    first = {k: v for p in sorted(folder.glob("reader_A_batch*.jsonl")) for k, v in _readings(p).items()}
    second = {k: v for p in sorted(folder.glob("reader_B_batch*.jsonl")) for k, v in _readings(p).items()}
    third = {k: v for p in sorted(folder.glob("adjudicated*.jsonl")) for k, v in _readings(p).items()}
    rows = []
    for c in draw(data_dir):
        key = f"{c.source}|{c.id}"
        a, b = first.get(key, ""), second.get(key, "")
        settled = third.get(key, "") if a != b else ""
        label = a if a == b else settled
        if a not in LEVELS or b not in LEVELS or label not in LEVELS:
            raise ValueError(f"{key}: readings {a!r} / {b!r}, third {settled!r}: every post needs a valid label")
        split = "holdout" if held_out(c.source, c.id) else "dev"
        rows.append(GoldRow(c.source, c.id, c.stratum, a, b, settled, label, split))
    return rows


def main(argv: list[str] | None = None) -> None:
    """``python -m classifiers.gold_urgency batches|merge DATA_DIR FOLDER`` (docs/urgency-gold.md)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("step", choices=("batches", "merge"))
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("folder", type=Path, help="where the batches and the readings live (outside the repo)")
    args = parser.parse_args(argv)
    if args.step == "batches":
        write_batches(args.data_dir, args.folder)
    else:
        write_gold(merge_readings(args.data_dir, args.folder))


if __name__ == "__main__":
    main()
