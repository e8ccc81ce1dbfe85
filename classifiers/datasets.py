"""Readers for the public data sets in ``../shared/data`` (see its README).

Every reader takes the data directory and fails with one clear line when a file is missing, so the
CLI can print it as is.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

SENTIMENT_LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
EMOTION_LABELS: tuple[str, ...] = ("anger", "joy", "optimism", "sadness")
DATA_DIR_ENV = "MENTIONDESK_DATA_DIR"
TWEETEVAL_TRAIN_LINES = 800  # lines 1-800 train, 801-1000 tune; 1001-2000 are reporting only
TWEETEVAL_REPORT_START = 1000


class DataMissingError(FileNotFoundError):
    """A data file the command needs is not where it was told to look."""


@dataclass(frozen=True)
class Labelled:
    """Texts with integer labels drawn from ``labels``."""

    texts: list[str]
    targets: list[int]
    labels: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.texts)


def default_data_dir() -> Path:
    """Resolve the data folder from ``MENTIONDESK_DATA_DIR`` or the sibling ``../shared/data``."""
    return Path(os.environ.get(DATA_DIR_ENV, "../shared/data"))


def require(path: Path) -> Path:
    """Return ``path`` or raise DataMissingError naming it and how to point at the data."""
    if not path.exists():
        raise DataMissingError(
            f"data file not found: {path} (pass --data-dir or set {DATA_DIR_ENV} to the shared data folder)"
        )
    return path


def airline(data_dir: Path, split: str) -> Labelled:
    """Airline tweets of one fixed split (train, dev or test)."""
    texts: list[str] = []
    targets: list[int] = []
    with require(data_dir / "airline_tweets.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["split"] == split:
                texts.append(row["text"])
                targets.append(SENTIMENT_LABELS.index(row["airline_sentiment"]))
    return Labelled(texts, targets, SENTIMENT_LABELS)


def airline_rows(data_dir: Path) -> list[dict[str, str]]:
    """All airline rows as dictionaries, for the urgency seed builder."""
    with require(data_dir / "airline_tweets.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def semeval(data_dir: Path) -> Labelled:
    """SemEval-2017 Task 4A training data (tab-separated, quoted)."""
    texts: list[str] = []
    targets: list[int] = []
    path = require(data_dir / "semeval2017_task4a_train.tsv")
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row.get("label") in SENTIMENT_LABELS and row.get("text"):
                texts.append(row["text"])
                targets.append(SENTIMENT_LABELS.index(row["label"]))
    return Labelled(texts, targets, SENTIMENT_LABELS)


def _lines(path: Path) -> list[str]:
    return require(path).read_text(encoding="utf-8").splitlines()


def tweeteval(data_dir: Path, task: str, split: str, start: int = 0, stop: int | None = None) -> Labelled:
    """TweetEval ``task`` (sentiment, emotion, offensive) ``split`` rows ``start:stop`` (0-based)."""
    folder = data_dir / "tweeteval"
    texts = _lines(folder / f"{task}_{split}_text.txt")[start:stop]
    targets = [int(x) for x in _lines(folder / f"{task}_{split}_labels.txt")[start:stop]]
    if len(texts) != len(targets):
        raise ValueError(f"tweeteval {task}_{split}: {len(texts)} texts but {len(targets)} labels")
    labels = {
        "sentiment": SENTIMENT_LABELS,
        "emotion": EMOTION_LABELS,
        "offensive": ("not-offensive", "offensive"),
    }[task]
    return Labelled(texts, targets, labels)


def tweeteval_report(data_dir: Path) -> Labelled:
    """TweetEval sentiment val lines 1,001-2,000: the reporting set, never trained on."""
    return tweeteval(data_dir, "sentiment", "val", TWEETEVAL_REPORT_START, None)
