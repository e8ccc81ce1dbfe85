"""``mentiondesk eval``: the default report on the three reporting sets.

Airline ``test`` and TweetEval sentiment val lines 1,001-2,000 (never trained on) for sentiment,
and the held-out part of the urgency seed set for urgency.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classifiers import datasets
from classifiers.base import SENTIMENTS, URGENCIES, Classifier, Scores
from classifiers.metrics import Report, evaluate
from classifiers.urgency_seed import load_seed
from classifiers.urgency_training import urgent_recall

Progress = Callable[[int], None]


@dataclass(frozen=True)
class EvalResult:
    """One named report plus extra figures (such as urgent recall)."""

    name: str
    report: Report
    extra: dict[str, float]


def classify_all(classifier: Classifier, texts: Sequence[str], progress: Progress | None = None) -> list[Scores]:
    """Classify in chunks so long sets can show progress."""
    out: list[Scores] = []
    for start in range(0, len(texts), 256):
        chunk = texts[start : start + 256]
        out.extend(classifier.classify(chunk))
        if progress:
            progress(len(chunk))
    return out


def sentiment_report(classifier: Classifier, data: datasets.Labelled, progress: Progress | None = None) -> Report:
    """Macro-F1, macro-recall, per-class scores, confusion matrix and ECE for a sentiment set."""
    scores = classify_all(classifier, data.texts, progress)
    probs = np.array([[s.p_negative, s.p_neutral, s.p_positive] for s in scores])
    return evaluate(data.targets, [SENTIMENTS.index(s.sentiment) for s in scores], SENTIMENTS, probs)


def urgency_report(classifier: Classifier, data_dir: Path, progress: Progress | None = None) -> EvalResult:
    """Urgency on the held-out seed rows, with recall of critical + high."""
    rows = [r for r in load_seed(data_dir) if r.split == "heldout"]
    scores = classify_all(classifier, [r.text for r in rows], progress)
    targets = [URGENCIES.index(r.label) for r in rows]
    predicted = [URGENCIES.index(s.urgency) for s in scores]
    report = evaluate(targets, predicted, URGENCIES)
    extra = {"critical_high_recall": urgent_recall(targets, predicted)}
    head, run = getattr(classifier, "urgency", None), getattr(classifier, "run", None)
    if head is not None and run is not None and rows:  # the text model alone, without the rubric's phrase cues
        probabilities = head.probabilities(run([r.text for r in rows]).urgency_features())
        alone = [URGENCIES.index(head.decide(p)) for p in probabilities]
        extra["model_only_critical_high_recall"] = urgent_recall(targets, alone)
    return EvalResult("urgency_seed_heldout", report, extra)


def reporting_sets(data_dir: Path) -> dict[str, datasets.Labelled]:
    """The two sentiment reporting sets."""
    return {
        "airline_test": datasets.airline(data_dir, "test"),
        "tweeteval_val_1001_2000": datasets.tweeteval_report(data_dir),
    }


def run_eval(classifier: Classifier, data_dir: Path, progress: Progress | None = None) -> list[EvalResult]:
    """All three reports for ``classifier``."""
    results = [
        EvalResult(name, sentiment_report(classifier, data, progress), {})
        for name, data in reporting_sets(data_dir).items()
    ]
    results.append(urgency_report(classifier, data_dir, progress))
    return results
