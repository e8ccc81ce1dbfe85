"""Evaluation metrics: macro-F1, macro-recall, per-class scores, confusion matrix and ECE."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Report:
    """Scores of one labelled set."""

    labels: tuple[str, ...]
    n: int
    accuracy: float
    macro_f1: float
    macro_recall: float
    per_class: dict[str, dict[str, float]]
    confusion: list[list[int]]
    ece: float | None

    def as_dict(self) -> dict[str, object]:
        """Plain-data form for JSON output."""
        return {
            "n": self.n,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "macro_recall": round(self.macro_recall, 4),
            "ece": None if self.ece is None else round(self.ece, 4),
            "per_class": self.per_class,
            "confusion": self.confusion,
            "labels": list(self.labels),
        }


def expected_calibration_error(probs: np.ndarray, targets: np.ndarray, bins: int = 15) -> float:
    """Top-label ECE with equal-width confidence bins (Guo et al., 2017)."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == targets
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            total += inside.mean() * abs(confidence[inside].mean() - correct[inside].mean())
    return float(total)


def evaluate(
    targets: Sequence[int], predictions: Sequence[int], labels: tuple[str, ...], probs: np.ndarray | None = None
) -> Report:
    """Compute the full report; ``probs`` (n, classes) enables ECE."""
    y = np.asarray(targets)
    p = np.asarray(predictions)
    k = len(labels)
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (y, p), 1)
    per_class: dict[str, dict[str, float]] = {}
    for i, label in enumerate(labels):
        tp = confusion[i, i]
        precision = tp / confusion[:, i].sum() if confusion[:, i].sum() else 0.0
        recall = tp / confusion[i].sum() if confusion[i].sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {
            "precision": round(float(precision), 4),
            "recall": round(float(recall), 4),
            "f1": round(float(f1), 4),
            "support": int(confusion[i].sum()),
        }
    present = [c for c in per_class.values() if c["support"] > 0]
    return Report(
        labels=labels,
        n=len(y),
        accuracy=float((y == p).mean()) if len(y) else 0.0,
        macro_f1=float(np.mean([c["f1"] for c in present])) if present else 0.0,
        macro_recall=float(np.mean([c["recall"] for c in present])) if present else 0.0,
        per_class=per_class,
        confusion=confusion.tolist(),
        ece=None if probs is None else expected_calibration_error(probs, y),
    )
