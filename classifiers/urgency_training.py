"""Train and evaluate the urgency head on the seed set (part of ``mentiondesk train``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from classifiers.base import URGENCIES
from classifiers.metrics import Report, evaluate
from classifiers.minilm import SENTIMENT_WEIGHTS, URGENCY_WEIGHTS, MiniLMClassifier
from classifiers.urgency_model import UrgencyHead, explain
from classifiers.urgency_seed import SeedRow, load_seed

log = logging.getLogger(__name__)
C_GRID = (0.003, 0.01)
TARGET_URGENT_RECALL = 0.85


@dataclass(frozen=True)
class UrgencyEval:
    """Held-out results: the 4-level report and recall of critical + high as urgent."""

    report: Report
    urgent_recall: float
    model_only_urgent_recall: float


def urgent_recall(targets: list[int], predictions: list[int]) -> float:
    """Share of critical/high posts predicted as critical or high."""
    urgent = [p for t, p in zip(targets, predictions, strict=True) if t <= 1]
    return float(np.mean([p <= 1 for p in urgent])) if urgent else 0.0


def _fit(features: np.ndarray, targets: np.ndarray, c: float) -> LogisticRegression:
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    return model.fit(features, targets)


def choose_c(features: np.ndarray, targets: np.ndarray) -> float:
    """Pick the regularisation by 4-fold CV on the training part: macro-F1 plus urgent recall."""
    folds = StratifiedKFold(n_splits=4, shuffle=True, random_state=0)
    best, best_score = C_GRID[0], -1.0
    for c in C_GRID:
        scores = []
        for train, test in folds.split(features, targets):
            predicted = _fit(features[train], targets[train], c).predict(features[test]).tolist()
            report = evaluate(targets[test].tolist(), predicted, URGENCIES)
            scores.append(report.macro_f1 + urgent_recall(targets[test].tolist(), predicted))
        log.info("urgency C=%s cv score %.4f", c, float(np.mean(scores)))
        if np.mean(scores) > best_score:
            best, best_score = c, float(np.mean(scores))
    return best


def choose_threshold(features: np.ndarray, targets: np.ndarray, c: float) -> float:
    """Largest P(critical)+P(high) cut-off whose out-of-fold urgent recall reaches the target.

    Missing an urgent post costs more than a false alarm, so the decision favours recall; the
    cut-off is chosen on the training part only, by cross-validation.
    """
    folds = StratifiedKFold(n_splits=4, shuffle=True, random_state=1)
    urgent_mass = np.zeros(len(targets))
    for train, test in folds.split(features, targets):
        urgent_mass[test] = _fit(features[train], targets[train], c).predict_proba(features[test])[:, :2].sum(1)
    urgent = targets <= 1
    for threshold in np.arange(0.6, 0.05, -0.01):
        if (urgent_mass[urgent] >= threshold).mean() >= TARGET_URGENT_RECALL:
            return round(float(threshold), 2)
    return 0.05


def to_head(model: LogisticRegression, mean: np.ndarray, scale: np.ndarray, meta: dict[str, object]) -> UrgencyHead:
    """Convert a fitted sklearn model (classes 0..3 = URGENCIES order) into an UrgencyHead."""
    return UrgencyHead(mean, scale, model.coef_.astype(np.float32), model.intercept_.astype(np.float32), meta)


def evaluate_head(head: UrgencyHead, rows: list[SeedRow], features: np.ndarray) -> UrgencyEval:
    """Score held-out seed rows with and without rubric cues."""
    targets = [URGENCIES.index(r.label) for r in rows]
    probs = head.probabilities(features)
    model_only = [URGENCIES.index(head.decide(p)) for p in probs]
    full = [URGENCIES.index(explain(head, r.text, features[i], probs[i]).label) for i, r in enumerate(rows)]
    return UrgencyEval(
        evaluate(targets, full, URGENCIES), urgent_recall(targets, full), urgent_recall(targets, model_only)
    )


def train_urgency(
    data_dir: Path,
    weights: Path = SENTIMENT_WEIGHTS,
    output: Path = URGENCY_WEIGHTS,
    extra: Sequence[SeedRow] = (),
    *,
    c: float | None = None,
    threshold: float | None = None,
) -> UrgencyEval:
    """Fit the urgency head on the seed's training part and report on its held-out part.

    ``extra`` rows with split ``train`` (agents' corrections) join the training part. ``c`` and
    ``threshold`` skip their cross-validated choice (a refit keeps the full training's choices).
    """
    seed = load_seed(data_dir) + [row for row in extra if row.split == "train"]
    classifier = MiniLMClassifier(weights, None, detect_language=False)
    features = classifier.run([r.text for r in seed]).urgency_features()
    is_train = np.array([r.split == "train" for r in seed])
    targets = np.array([URGENCIES.index(r.label) for r in seed])
    mean, scale = features[is_train].mean(0), features[is_train].std(0) + 1e-6
    z = (features - mean) / scale
    c = choose_c(z[is_train], targets[is_train]) if c is None else c
    model = _fit(z[is_train], targets[is_train], c)
    threshold = choose_threshold(z[is_train], targets[is_train], c) if threshold is None else threshold
    meta = {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "C": c,
        "urgent_threshold": threshold,
        "rows": int(is_train.sum()),
        "feedback_rows": sum(1 for row in extra if row.split == "train"),
    }
    head = to_head(model, mean.astype(np.float32), scale.astype(np.float32), meta)
    held = [r for r, t in zip(seed, is_train, strict=True) if not t]
    result = evaluate_head(head, held, features[~is_train])
    head.meta.update(heldout_urgent_recall=result.urgent_recall, heldout_macro_f1=result.report.macro_f1)
    head.save(output)
    return result
