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
from classifiers.gold_urgency import GOLD_FILE, load_gold
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


GOLD_C_GRID = (0.003, 0.01, 0.03, 0.1)
SILVER_WEIGHT = 0.3
"""Weight of a cue-labelled seed post beside a read one: best on gold dev out-of-fold (docs/model_card.md)."""
GOLD_CUE_LEVELS = ("critical",)
"""Cue levels that raise the label: on gold dev, high cues raised far more normal posts than they caught."""


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _fit_weighted(features: np.ndarray, targets: np.ndarray, weights: np.ndarray, c: float) -> LogisticRegression:
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
    return model.fit(features, targets, sample_weight=weights)


def choose_on_gold(
    z_gold: np.ndarray, y_gold: np.ndarray, z_silver: np.ndarray, y_silver: np.ndarray, silver_weight: float
) -> tuple[float, float]:
    """C and cut-off by 4-fold CV on gold dev (silver always in training): best precision at the target recall."""
    best: tuple[float, float, float] | None = None
    folds = list(StratifiedKFold(n_splits=4, shuffle=True, random_state=0).split(z_gold, y_gold))
    urgent = y_gold <= 1
    for c in GOLD_C_GRID:
        mass = np.zeros(len(y_gold))
        for train, test in folds:
            x = np.vstack([z_gold[train], z_silver])
            y = np.concatenate([y_gold[train], y_silver])
            w = np.concatenate([np.ones(len(train)), np.full(len(y_silver), silver_weight)])
            mass[test] = _fit_weighted(x, y, w, c).predict_proba(z_gold[test])[:, :2].sum(1)
        for threshold in np.arange(0.9, 0.04, -0.01):
            if (mass[urgent] >= threshold).mean() >= TARGET_URGENT_RECALL:
                precision = float((y_gold[mass >= threshold] <= 1).mean())
                log.info("urgency C=%s cut-off %.2f: out-of-fold precision %.3f", c, threshold, precision)
                if best is None or precision > best[0]:
                    best = (precision, c, round(float(threshold), 2))
                break
    return (best[1], best[2]) if best else (GOLD_C_GRID[0], 0.05)


def train_urgency(
    data_dir: Path,
    weights: Path = SENTIMENT_WEIGHTS,
    output: Path = URGENCY_WEIGHTS,
    extra: Sequence[SeedRow] = (),
    *,
    c: float | None = None,
    threshold: float | None = None,
) -> UrgencyEval:
    """Fit the urgency head on the gold set's dev part plus the silver seed, and report on the gold hold-out.

    Without the gold file it falls back to the seed alone (its training part), as before the gold set.
    Seed posts whose text is in the gold set are left out, so no hold-out post is trained on.  ``extra``
    rows with split ``train`` (agents' corrections) join with full weight.  ``c`` and ``threshold`` skip
    their cross-validated choice (a refit keeps the full training's choices).
    """
    if not GOLD_FILE.exists():
        return _train_on_seed(data_dir, weights, output, extra, c=c, threshold=threshold)
    gold = load_gold(data_dir)
    in_gold = {_norm(r.text) for r in gold}
    seed = load_seed(data_dir)
    silver = [r for r in seed if r.split == "train" and _norm(r.text) not in in_gold]
    corrections = [r for r in extra if r.split == "train"]
    dev = [r for r in gold if r.split == "dev"]
    holdout = [r for r in gold if r.split == "holdout"]
    texts = [r.text for r in dev] + [r.text for r in silver] + [r.text for r in corrections]
    texts += [r.text for r in holdout]
    classifier = MiniLMClassifier(weights, None, detect_language=False)
    features = classifier.run(texts).urgency_features()
    n_dev, n_silver, n_extra = len(dev), len(silver), len(corrections)
    n_train = n_dev + n_silver + n_extra
    labels = [r.label for r in dev] + [r.label for r in silver] + [r.label for r in corrections]
    targets = np.array([URGENCIES.index(x) for x in labels])
    sample_weights = np.concatenate([np.ones(n_dev), np.full(n_silver, SILVER_WEIGHT), np.ones(n_extra)])
    mean, scale = features[:n_train].mean(0), features[:n_train].std(0) + 1e-6
    z = (features - mean) / scale
    if c is None or threshold is None:
        chosen_c, chosen_threshold = choose_on_gold(
            z[:n_dev], targets[:n_dev], z[n_dev:n_train], targets[n_dev:n_train], SILVER_WEIGHT
        )
        c = chosen_c if c is None else c
        threshold = chosen_threshold if threshold is None else threshold
    model = _fit_weighted(z[:n_train], targets, sample_weights, c)
    meta: dict[str, object] = {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "C": c,
        "urgent_threshold": threshold,
        "cue_levels": list(GOLD_CUE_LEVELS),
        "rows": n_train,
        "gold_rows": n_dev,
        "silver_rows": n_silver,
        "silver_weight": SILVER_WEIGHT,
        "feedback_rows": n_extra,
    }
    head = to_head(model, mean.astype(np.float32), scale.astype(np.float32), meta)
    held = [SeedRow(r.source, r.id, r.label, r.stratum, "holdout", r.text) for r in holdout]
    result = evaluate_head(head, held, features[n_train:])
    head.meta.update(gold_holdout_urgent_recall=result.urgent_recall, gold_holdout_macro_f1=result.report.macro_f1)
    head.save(output)
    return result


def _train_on_seed(
    data_dir: Path,
    weights: Path,
    output: Path,
    extra: Sequence[SeedRow],
    *,
    c: float | None,
    threshold: float | None,
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
