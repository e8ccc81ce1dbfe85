"""Any Hugging Face sequence-classification model as the sentiment classifier.

Labels are mapped from the model's ``id2label`` (negative/neutral/positive names, star ratings, or
generic ``LABEL_i`` in the usual negative-neutral-positive order); ``label_map`` overrides it. Urgency,
topics and language come from an optional companion classifier (the default MiniLM), or, without
one, from the rubric cues and the language detector alone.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from classifiers.base import SENTIMENTS, Classifier, Scores, Signal
from classifiers.language import detect_languages
from classifiers.rubric import matching_cues
from classifiers.text import preprocess

_GENERIC = re.compile(r"^label_?\d+$")
_STARS = re.compile(r"^([1-5])\s*stars?$")


def map_labels(id2label: Mapping[int, str], overrides: Mapping[str, str] | None = None) -> list[str]:
    """Sentiment name for each model output index, or ValueError naming the labels it cannot map."""
    names = [str(id2label[i]).strip().lower() for i in range(len(id2label))]
    if overrides:
        lowered = {k.lower(): v for k, v in overrides.items()}
        mapped = [lowered.get(n, "") for n in names]
    elif all(_GENERIC.match(n) for n in names) and len(names) in (2, 3):
        mapped = ["negative", "positive"] if len(names) == 2 else list(SENTIMENTS)
    else:
        mapped = [_by_name(n) for n in names]
    if any(m not in SENTIMENTS for m in mapped):
        raise ValueError(f"cannot map model labels {names} to {SENTIMENTS}; pass label_map={{label: sentiment}}")
    return mapped


def _by_name(name: str) -> str:
    stars = _STARS.match(name)
    if stars:
        return ("negative", "negative", "neutral", "positive", "positive")[int(stars.group(1)) - 1]
    for prefix, sentiment in (("neg", "negative"), ("neu", "neutral"), ("pos", "positive")):
        if name.startswith(prefix):
            return sentiment
    return ""


def model_version(model: str, config: object) -> str:
    """A version that changes when the weights change: a hash of the local files, or the hub commit."""
    path = Path(model)
    if path.is_dir():
        digest = hashlib.sha256()
        for file in sorted(path.glob("*")):
            if file.suffix in {".json", ".safetensors", ".bin"}:
                digest.update(file.name.encode())
                digest.update(file.read_bytes()[: 1 << 20])
        return digest.hexdigest()[:12]
    return str(getattr(config, "_commit_hash", None) or "hub")


class HFClassifier:
    """Sentiment from a transformers sequence-classification model."""

    def __init__(
        self,
        model: str,
        *,
        label_map: Mapping[str, str] | None = None,
        companion: Classifier | None = None,
        batch_size: int = 32,
        max_length: int = 128,
        detect_language: bool = True,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model)
        self.model = AutoModelForSequenceClassification.from_pretrained(model).eval()
        self.labels = map_labels(self.model.config.id2label, label_map)
        self.name = f"hf:{model}"
        self.version = model_version(model, self.model.config)
        self.companion = companion
        self.batch_size, self.max_length = batch_size, max_length
        self.detect_language = detect_language

    def probabilities(self, texts: Sequence[str | None]) -> np.ndarray:
        """(n, 3) negative/neutral/positive probabilities, summing the model's classes per sentiment."""
        cleaned = [preprocess(t, spell=False) for t in texts]
        rows = []
        with torch.inference_mode():
            for start in range(0, len(cleaned), self.batch_size):
                encoded = self.tokenizer(
                    cleaned[start : start + self.batch_size],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                rows.append(torch.softmax(self.model(**encoded).logits, -1).numpy())
        raw = np.concatenate(rows) if rows else np.zeros((0, len(self.labels)))
        out = np.zeros((len(cleaned), 3))
        for index, label in enumerate(self.labels):
            out[:, SENTIMENTS.index(label)] += raw[:, index]
        return out

    def classify(self, texts: Sequence[str]) -> list[Scores]:
        """Sentiment from the model; urgency, topics and language from the companion or the rubric."""
        if not texts:
            return []
        probs = self.probabilities(texts)
        extra = self.companion.classify(texts) if self.companion else None
        languages = detect_languages(texts) if self.detect_language and not extra else None
        results = []
        for i, text in enumerate(texts):
            p = probs[i]
            if extra:
                base = extra[i]
                urgency, score, topics, language, signals = (
                    base.urgency,
                    base.urgency_score,
                    base.topics,
                    base.language,
                    base.signals,
                )
            else:
                urgency, score, signals = cue_urgency(text or "", float(p[0]))
                topics, language = [], languages[i] if languages else None
            results.append(
                Scores(
                    SENTIMENTS[int(np.argmax(p))],
                    float(p[0]),
                    float(p[1]),
                    float(p[2]),
                    urgency,
                    score,
                    topics,
                    language,
                    signals,
                )
            )
        return results


def cue_urgency(text: str, p_negative: float) -> tuple[str, float, list[Signal]]:
    """Urgency without a text model: rubric cues, else a complaint (normal) or not (low)."""
    cues = matching_cues(text)
    if cues:
        cue, phrase = cues[0]
        score = 0.85 if cue.level == "critical" else 0.6
        return cue.level, score, [Signal(f"rubric:{cue.name}", score, f'{cue.reason} ("{phrase}")')]
    if p_negative >= 0.5:
        return "normal", 0.35, [Signal("text:sentiment", 0.35, "the tone is negative")]
    return "low", 0.1, [Signal("text:sentiment", 0.1, "no sign of a problem")]
