"""Mention classifiers: sentiment, urgency, topics and language.

``load_classifier("default")`` gives the shipped, offline MiniLM; any other value is a Hugging Face
sequence-classification model id or local path.
"""

from __future__ import annotations

from typing import Any

from classifiers.base import SENTIMENTS, URGENCIES, Classifier, Scores, Signal

__all__ = ["SENTIMENTS", "URGENCIES", "Classifier", "Scores", "Signal", "load_classifier"]
DEFAULT_MODEL = "default"


def load_classifier(model: str = DEFAULT_MODEL, **options: Any) -> Classifier:
    """Build a classifier by name.

    Args:
        model: ``"default"`` (or ``"mentiondesk-minilm"``) for the shipped model; otherwise a Hugging
            Face model id (already in the local cache; HF_HUB_OFFLINE=1) or a local directory.
        **options: passed to ``MiniLMClassifier`` or ``HFClassifier`` (e.g. ``quantized``,
            ``label_map``, ``companion``, ``batch_size``).
    """
    if model in (DEFAULT_MODEL, "mentiondesk-minilm"):
        from classifiers.minilm import MiniLMClassifier

        return MiniLMClassifier(**options)
    from classifiers.hf import HFClassifier

    return HFClassifier(model, **options)
