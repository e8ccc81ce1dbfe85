"""The text urgency model: a linear head over the network's features, with explanations.

Features are the sentence embedding, the tuned sentiment representation and the sentiment, emotion
and offensive probabilities. A standardised multinomial logistic regression, trained on the gold set's
dev part plus the cue-labelled seed (docs/urgency-gold.md), maps them to critical / high / normal / low.
Rubric cues of the head's ``cue_levels`` found in the text can only raise the result, and each raise is
reported as a signal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from classifiers.base import URGENCIES, Signal
from classifiers.rubric import matching_cues

LEVEL_VALUE: dict[str, float] = {"critical": 1.0, "high": 0.7, "normal": 0.35, "low": 0.0}
CUE_FLOOR: dict[str, float] = {"critical": 0.85, "high": 0.6}
FEATURE_GROUPS: tuple[tuple[str, str], ...] = (
    ("embedding", "the wording resembles {label} posts it was trained on"),
    ("tuned", "the phrasing reads as {label} to the sentiment model"),
    ("sentiment", "the tone is {sentiment}"),
    ("emotion", "the post sounds {emotion}"),
    ("offensive", "the language is {offensive}"),
)
GROUP_SIZES: dict[str, int] = {"embedding": 384, "tuned": 384, "sentiment": 3, "emotion": 4, "offensive": 2}
EMOTIONS = ("angry", "joyful", "optimistic", "sad")


@dataclass(frozen=True)
class UrgencyResult:
    """Label, 0-1 score and explanation for one post."""

    label: str
    score: float
    signals: list[Signal]


@dataclass
class UrgencyHead:
    """Standardiser plus linear weights for the four urgency levels (order of ``URGENCIES``)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    meta: dict[str, object]

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Softmax over levels, one row per post."""
        logits = ((features - self.mean) / self.scale) @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def decide(self, probs: np.ndarray) -> str:
        """Level for one probability row: urgent when P(critical)+P(high) reaches the tuned cut-off."""
        threshold = float(self.meta.get("urgent_threshold", 0.5))  # type: ignore[arg-type]
        if probs[0] + probs[1] >= threshold:
            return URGENCIES[int(np.argmax(probs[:2]))]
        return URGENCIES[2 + int(np.argmax(probs[2:]))]

    def save(self, path: Path) -> None:
        """Write the head as safetensors with JSON metadata."""
        tensors = {"mean": self.mean, "scale": self.scale, "coef": self.coef, "intercept": self.intercept}
        save_file(
            # C order: safetensors writes the raw buffer, and sklearn's coef_ can be Fortran-ordered.
            {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()},
            str(path),
            {"mentiondesk": json.dumps(self.meta)},
        )

    @classmethod
    def load(cls, path: Path) -> UrgencyHead:
        """Read a head written by ``save``."""
        from safetensors import safe_open

        tensors = load_file(str(path))
        with safe_open(str(path), framework="numpy") as handle:
            meta = json.loads((handle.metadata() or {}).get("mentiondesk", "{}"))
        return cls(tensors["mean"], tensors["scale"], tensors["coef"], tensors["intercept"], meta)


def expected_score(probs: np.ndarray) -> np.ndarray:
    """Probability-weighted level value in [0, 1]."""
    values = np.array([LEVEL_VALUE[level] for level in URGENCIES])
    return np.clip(probs @ values, 0.0, 1.0)


def _group_reason(group: str, label: str, row: np.ndarray, offset: int) -> str:
    template = dict(FEATURE_GROUPS)[group]
    part = row[offset : offset + GROUP_SIZES[group]]
    return template.format(
        label=label,
        sentiment=("negative", "neutral", "positive")[int(np.argmax(part))] if group == "sentiment" else "",
        emotion=EMOTIONS[int(np.argmax(part))] if group == "emotion" else "",
        offensive=("offensive" if group == "offensive" and part[-1] > 0.5 else "not offensive"),
    )


def model_signals(head: UrgencyHead, row: np.ndarray, label: str, score: float) -> list[Signal]:
    """Split the model's score above an average post among the feature groups."""
    direction = (head.coef[0] + head.coef[1] - head.coef[2] - head.coef[3]) / 2
    z = (row - head.mean) / head.scale
    pushes, offset = {}, 0
    for group, _ in FEATURE_GROUPS:
        size = GROUP_SIZES[group]
        pushes[group] = (float(z[offset : offset + size] @ direction[offset : offset + size]), offset)
        offset += size
    baseline = float(expected_score(head.probabilities(head.mean[None, :]))[0])
    total = sum(abs(p) for p, _ in pushes.values()) or 1.0
    return [
        Signal(f"text:{group}", round((score - baseline) * push / total, 3), _group_reason(group, label, row, at))
        for group, (push, at) in pushes.items()
    ]


def explain(
    head: UrgencyHead, text: str, row: np.ndarray, probs: np.ndarray, *, use_cues: bool = True
) -> UrgencyResult:
    """Combine model probabilities with rubric cues into a label, score and ranked signals.

    Only cues of the levels in the head's ``cue_levels`` (default both) raise the label and the score;
    the others are left to the model (and to the priority's keyword rules).
    """
    levels = head.meta.get("cue_levels")
    raising = tuple(str(x) for x in levels) if isinstance(levels, list | tuple) else ("critical", "high")
    label = head.decide(probs)
    score = float(expected_score(probs[None, :])[0])
    if label in ("critical", "high"):
        score = max(score, CUE_FLOOR["high"])  # an urgent decision always ranks above any normal post
    signals = model_signals(head, row, label, score)
    for cue, phrase in matching_cues(text) if use_cues else []:
        if cue.level not in raising:
            continue  # on the gold set, high cues raised far more normal posts than they caught
        floor = CUE_FLOOR.get(cue.level, 0.0)
        if floor > score:
            signals.append(Signal(f"rubric:{cue.name}", round(floor - score, 3), f'{cue.reason} ("{phrase}")'))
            score = floor
        if cue.level in raising and URGENCIES.index(cue.level) < URGENCIES.index(label):
            label = cue.level
    signals.sort(key=lambda s: -s.contribution)
    return UrgencyResult(label, round(score, 4), signals[:4])
