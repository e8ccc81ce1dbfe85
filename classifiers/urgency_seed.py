"""Build the urgency seed set from public data by the rubric in ``docs/urgency.md``.

The seed keeps only ids and labels (``classifiers/data/urgency_seed.csv``); texts are joined back from
the shared data folder, which the project does not copy. Labels come from the rubric cues and the data
sets' own metadata, then hand corrections in ``urgency_overrides.csv`` are applied on top.
"""

from __future__ import annotations

import csv
import hashlib
import random
import re
from dataclasses import dataclass
from pathlib import Path

from classifiers import datasets
from classifiers.rubric import matching_cues

DATA = Path(__file__).resolve().parent / "data"
SEED_FILE = DATA / "urgency_seed.csv"
OVERRIDES_FILE = DATA / "urgency_overrides.csv"
HELD_OUT_PERCENT = 20
_THANKS = re.compile(r"\b(thanks?|thank you|thx|ty|love|great|awesome|amazing|appreciate\w*|best)\b", re.I)
_PROMO = re.compile(r"\b(giveaway|win|follow us|click|promo|discount|sale|deal)\b", re.I)


@dataclass(frozen=True)
class SeedRow:
    """One labelled seed post."""

    source: str
    id: str
    label: str
    cue: str
    split: str
    text: str = ""


def held_out(source: str, ident: str) -> bool:
    """Stable 80/20 split by a hash of the post's source and id."""
    digest = hashlib.sha256(f"{source}:{ident}".encode()).digest()
    return digest[0] * 100 // 256 < HELD_OUT_PERCENT


def _row(source: str, ident: str, label: str, cue: str) -> SeedRow:
    return SeedRow(source, ident, label, cue, "heldout" if held_out(source, ident) else "train")


def _cue_label(text: str) -> tuple[str, str] | None:
    cues = matching_cues(text)
    return (cues[0][0].level, cues[0][0].name) if cues else None


def _airline_rows(data_dir: Path, rng: random.Random) -> list[SeedRow]:
    rows, pools = [], {"low": [], "normal": []}  # type: ignore[var-annotated]
    for item in datasets.airline_rows(data_dir):
        if item["split"] == "test":
            continue  # the sentiment test split stays unseen by every model
        text, ident, sentiment = item["text"], item["tweet_id"], item["airline_sentiment"]
        cue = _cue_label(text)
        if cue and cue[0] == "high" and sentiment == "positive":
            pools["low"].append(
                _row("airline", ident, "low", "sentiment:positive")
            )  # praise, e.g. "thanks ... tonight"
        elif cue:
            rows.append(_row("airline", ident, cue[0], cue[1]))
        elif sentiment == "positive" or (sentiment == "neutral" and "?" not in text):
            pools["low"].append(_row("airline", ident, "low", f"sentiment:{sentiment}"))
        else:
            pools["normal"].append(_row("airline", ident, "normal", f"sentiment:{sentiment}"))
    rows += rng.sample(pools["low"], 800) + rng.sample(pools["normal"], 900)
    return rows


def _twcs_rows(data_dir: Path, rng: random.Random) -> list[SeedRow]:
    rows, rest = [], []
    with datasets.require(data_dir / "twcs_sample.csv").open(newline="", encoding="utf-8") as handle:
        for item in csv.DictReader(handle):
            if item["inbound"] != "True":
                continue
            text, ident = item["text"], item["tweet_id"]
            cue = _cue_label(text)
            if cue:
                rows.append(_row("twcs", ident, cue[0], cue[1]))
            elif _THANKS.search(text) and "?" not in text:
                rest.append(_row("twcs", ident, "low", "thanks"))
            else:
                rest.append(_row("twcs", ident, "normal", "needs_reply"))
    return rows + rng.sample(rest, min(900, len(rest)))


def _semeval_rows(data_dir: Path, rng: random.Random) -> list[SeedRow]:
    path = datasets.require(data_dir / "semeval2017_task4a_train.tsv")
    with path.open(newline="", encoding="utf-8") as handle:
        items = [r for r in csv.DictReader(handle, delimiter="\t") if r.get("text") and not _cue_label(r["text"])]
    chosen = rng.sample(items, 500)
    return [
        _row("semeval", r["tweet_id"], "low", "promo" if _PROMO.search(r["text"]) else "chit_chat_news") for r in chosen
    ]


def read_overrides(path: Path = OVERRIDES_FILE) -> dict[tuple[str, str], str]:
    """Hand corrections: (source, id) -> label."""
    if not path.exists():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        return {(r["source"], r["id"]): r["label"] for r in csv.DictReader(handle)}


def build_seed(data_dir: Path, seed: int = 7) -> list[SeedRow]:
    """Label a seed set by the rubric and apply the hand corrections."""
    rng = random.Random(seed)
    rows = _airline_rows(data_dir, rng) + _twcs_rows(data_dir, rng) + _semeval_rows(data_dir, rng)
    overrides = read_overrides()
    fixed = [
        SeedRow(r.source, r.id, overrides[(r.source, r.id)], "reviewed", r.split)
        if (r.source, r.id) in overrides
        else r
        for r in rows
    ]
    unique = {(r.source, r.id): r for r in fixed}  # the airline file repeats a few posts
    return sorted(unique.values(), key=lambda r: (r.source, r.id))


def write_seed(rows: list[SeedRow], path: Path = SEED_FILE) -> None:
    """Write ids and labels (no texts) to the seed CSV."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["source", "id", "label", "cue", "split"])
        writer.writerows([r.source, r.id, r.label, r.cue, r.split] for r in rows)


def _texts(data_dir: Path) -> dict[tuple[str, str], str]:
    texts = {("airline", r["tweet_id"]): r["text"] for r in datasets.airline_rows(data_dir)}
    with datasets.require(data_dir / "twcs_sample.csv").open(newline="", encoding="utf-8") as handle:
        texts.update({("twcs", r["tweet_id"]): r["text"] for r in csv.DictReader(handle)})
    path = datasets.require(data_dir / "semeval2017_task4a_train.tsv")
    with path.open(newline="", encoding="utf-8") as handle:
        texts.update({("semeval", r["tweet_id"]): r["text"] for r in csv.DictReader(handle, delimiter="\t")})
    return texts


def load_seed(data_dir: Path, path: Path = SEED_FILE) -> list[SeedRow]:
    """Read the seed labels and join their texts from the shared data folder."""
    texts = _texts(data_dir)
    with datasets.require(path).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [
        SeedRow(r["source"], r["id"], r["label"], r["cue"], r["split"], texts[(r["source"], r["id"])])
        for r in rows
        if (r["source"], r["id"]) in texts
    ]
