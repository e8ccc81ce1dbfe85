"""``mentiondesk eval``: the default report on the three reporting sets.

Airline ``test`` and TweetEval sentiment val lines 1,001-2,000 (never trained on) for sentiment,
the held-out part of the urgency seed set for urgency (silver: cue-labelled), and the 25 % hold-out of
the gold urgency set (``classifiers/gold_urgency.py``: labelled by two careful readings), where the
queue's ranking quality is measured too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from classifiers import datasets
from classifiers.base import SENTIMENTS, URGENCIES, Classifier, Scores
from classifiers.gold_urgency import GOLD_FILE, load_gold
from classifiers.metrics import Report, evaluate
from classifiers.priority import PriorityInputs, priority
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


def urgent_precision(targets: list[int], predictions: list[int]) -> float:
    """Share of posts predicted critical or high that are critical or high."""
    flagged = [t for t, p in zip(targets, predictions, strict=True) if p <= 1]
    return float(np.mean([t <= 1 for t in flagged])) if flagged else 0.0


def top_share(targets: list[int], scores: Sequence[float], share: float = 0.2) -> float:
    """Share of the critical + high posts that rank in the top ``share`` of the queue by ``scores``."""
    urgent = sum(t <= 1 for t in targets)
    if not urgent:
        return 0.0
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    top = order[: max(1, round(len(targets) * share))]
    return float(sum(targets[i] <= 1 for i in top) / urgent)


def gold_urgency_report(classifier: Classifier, data_dir: Path, progress: Progress | None = None) -> EvalResult:
    """Urgency on the gold hold-out: critical + high recall and precision, per-level F1, ranking, ECE."""
    rows = load_gold(data_dir, split="holdout")
    texts = [r.text for r in rows]
    scores = classify_all(classifier, texts, progress)
    targets = [URGENCIES.index(r.label) for r in rows]
    predicted = [URGENCIES.index(s.urgency) for s in scores]
    probs = None
    head, run = getattr(classifier, "urgency", None), getattr(classifier, "run", None)
    if head is not None and run is not None and rows:
        probs = np.asarray(head.probabilities(run(texts).urgency_features()))
    report = evaluate(targets, predicted, URGENCIES, probs)
    # the queue on text alone (no author, timing or SLA in these sets), ties broken by the text score
    ranked = [
        priority(PriorityInputs(t, s.urgency_score, s.signals)).score + s.urgency_score
        for t, s in zip(texts, scores, strict=True)
    ]
    rho = float(spearmanr([-t for t in targets], [s.urgency_score for s in scores]).statistic)
    extra = {
        "critical_high_recall": urgent_recall(targets, predicted),
        "critical_high_precision": urgent_precision(targets, predicted),
        "critical_recall": float(np.mean([p == 0 for t, p in zip(targets, predicted, strict=True) if t == 0]))
        if 0 in targets
        else 0.0,
        "top20_critical_high_share": top_share(targets, ranked),
        "spearman": rho,
    }
    return EvalResult("urgency_gold_holdout", report, extra)


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
    if GOLD_FILE.exists():
        results.append(gold_urgency_report(classifier, data_dir, progress))
    return results
