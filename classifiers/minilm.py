"""The default classifier: the adapted MiniLM shipped in ``classifiers/weights``.

One forward pass per batch gives calibrated sentiment, the urgency features and the sentence
embedding for topic prototypes. Posts are sorted by length and padded per batch.

``precision="auto"`` (the default) runs the transformer layers in bfloat16 where the CPU multiplies
bf16 natively (Intel AMX or AVX512-BF16; its speed-up is measured in docs/benchmarks.md)
and in fp32 elsewhere; pooling and heads stay fp32, and a post scores the same in any batch in both.
``quantized=True``
runs the linear layers as int8 (dynamic quantisation, faster on CPU) but activation scales are then
computed per batch, so a post's scores, and some urgency labels, shift with its batch neighbours; the
default is therefore fp32, where a post scores the same in any batch.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from classifiers.base import SENTIMENTS, Scores
from classifiers.language import detect_languages
from classifiers.network import MentionNet, load_base, pad_ids
from classifiers.text import preprocess
from classifiers.topics import DEFAULT_THRESHOLD, DEFAULT_TOPICS, TopicTagger
from classifiers.urgency_model import UrgencyHead, explain

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
SENTIMENT_WEIGHTS = WEIGHTS_DIR / "sentiment-minilm.safetensors"
URGENCY_WEIGHTS = WEIGHTS_DIR / "urgency-head.safetensors"
MODEL_NAME = "mentiondesk-minilm"
Precision = Literal["auto", "fp32", "bf16"]


def native_bf16() -> bool:
    """Whether this CPU has bf16 matrix instructions (AMX tiles or AVX512-BF16)."""
    cpu = torch.cpu
    return bool(cpu._is_amx_tile_supported() or cpu._is_avx512_bf16_supported())


def resolve_precision(precision: Precision) -> torch.dtype:
    """The encoder dtype for ``precision``; ``auto`` picks bf16 only where it is native (else it is slower)."""
    if precision == "auto":
        return torch.bfloat16 if native_bf16() else torch.float32
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be auto, fp32 or bf16, not {precision!r}")
    return torch.bfloat16 if precision == "bf16" else torch.float32


@dataclass
class Batch:
    """Network outputs for a list of posts, as numpy arrays in input order."""

    sentiment: np.ndarray
    sentiment_logits: np.ndarray
    emotion: np.ndarray
    offensive: np.ndarray
    tuned: np.ndarray
    embedding: np.ndarray

    def urgency_features(self) -> np.ndarray:
        """Feature rows for the urgency head (see ``urgency_model.GROUP_SIZES`` for the order)."""
        return np.hstack([self.embedding, self.tuned, self.sentiment, self.emotion, self.offensive])


def read_meta(path: Path) -> dict[str, object]:
    """The JSON metadata stored in a safetensors file by training."""
    with safe_open(str(path), framework="pt") as handle:
        return json.loads((handle.metadata() or {}).get("mentiondesk", "{}"))


def quantize(net: torch.nn.Module) -> torch.nn.Module:
    """int8 dynamic quantisation of the linear layers, per output channel: faster on CPU, but batch-dependent."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qconfig = torch.ao.quantization.per_channel_dynamic_qconfig
        return torch.ao.quantization.quantize_dynamic(net, {torch.nn.Linear: qconfig}, dtype=torch.qint8)


class MiniLMClassifier:
    """Sentiment, urgency, topics and language from one MiniLM pass."""

    name = MODEL_NAME

    def __init__(
        self,
        weights: Path = SENTIMENT_WEIGHTS,
        urgency_weights: Path | None = URGENCY_WEIGHTS,
        *,
        quantized: bool = False,
        precision: Precision = "auto",
        batch_size: int = 64,
        threads: int | None = None,
        topics: Mapping[str, Sequence[str]] | None = None,
        topic_threshold: float = DEFAULT_THRESHOLD,
        detect_language: bool = True,
    ) -> None:
        if threads:
            torch.set_num_threads(threads)
        self.meta = read_meta(weights)
        config: dict[str, Any] = dict(self.meta.get("config") or {})  # type: ignore[call-overload]
        self.max_length = int(config.get("max_length", 64))
        self.temperature = float(self.meta.get("temperature", 1.0))  # type: ignore[arg-type]
        self.logit_bias = torch.tensor(self.meta.get("logit_bias", [0.0, 0.0, 0.0]), dtype=torch.float32)
        self.version = str(self.meta.get("version", "unknown"))
        base, self.tokenizer = load_base()
        net = MentionNet(base, int(config.get("tuned_layers", 3)))
        state = {k: v.float() for k, v in load_file(str(weights)).items()}
        missing = net.load_state_dict(state, strict=False)
        if missing.unexpected_keys:
            raise ValueError(f"{weights} holds unknown tensors: {missing.unexpected_keys[:3]}")
        self.dtype = torch.float32 if quantized else resolve_precision(precision)
        if quantized:
            self.net: torch.nn.Module = quantize(net.eval())
        else:
            self.net = net.encoder_to(self.dtype).eval()
        self.batch_size = batch_size
        self.urgency = UrgencyHead.load(urgency_weights) if urgency_weights and urgency_weights.exists() else None
        self.detect_language = detect_language
        self.topics = TopicTagger.from_examples(topics or DEFAULT_TOPICS, self.embed, topic_threshold)

    def run(self, texts: Sequence[str | None]) -> Batch:
        """Forward every post (length-sorted batches) and return outputs in input order."""
        cleaned = [preprocess(t) for t in texts]
        ids = self.tokenizer(cleaned, truncation=True, max_length=self.max_length)["input_ids"]  # type: ignore[operator]
        order = sorted(range(len(cleaned)), key=lambda i: len(ids[i]))
        parts: dict[str, list[np.ndarray]] = {
            k: [] for k in ("sentiment", "sentiment_logits", "emotion", "offensive", "tuned", "embedding")
        }
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                rows = [ids[i] for i in order[start : start + self.batch_size]]
                input_ids, mask = pad_ids(rows)
                out = self.net(input_ids, mask)
                logits = out.logits["sentiment"]
                parts["sentiment_logits"].append(logits.numpy())
                parts["sentiment"].append(torch.softmax((logits + self.logit_bias) / self.temperature, 1).numpy())
                parts["emotion"].append(torch.softmax(out.logits["emotion"], 1).numpy())
                parts["offensive"].append(torch.softmax(out.logits["offensive"], 1).numpy())
                parts["tuned"].append(out.tuned.numpy())
                parts["embedding"].append(out.embedding.numpy())
        inverse = np.argsort(np.asarray(order, dtype=np.int64))
        return Batch(**{k: np.concatenate(v)[inverse] if v else np.zeros((0, 1)) for k, v in parts.items()})

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """General-purpose sentence embeddings (mean-pooled original MiniLM top)."""
        return self.run(texts).embedding

    def classify(self, texts: Sequence[str]) -> list[Scores]:
        """Score a batch of posts; empty posts get neutral scores and no language."""
        if not texts:
            return []
        batch = self.run(texts)
        features = batch.urgency_features()
        urgency_probs = self.urgency.probabilities(features) if self.urgency else None
        languages = detect_languages(texts) if self.detect_language else [None] * len(texts)
        topics = self.topics.tag(batch.embedding)
        results = []
        for i, text in enumerate(texts):
            p = batch.sentiment[i]
            if urgency_probs is not None and self.urgency is not None:
                urgency = explain(self.urgency, text or "", features[i], urgency_probs[i])
                label, score, signals = urgency.label, urgency.score, urgency.signals
            else:
                label, score, signals = "normal", 0.35, []
            results.append(
                Scores(
                    sentiment=SENTIMENTS[int(np.argmax(p))],
                    p_negative=float(p[0]),
                    p_neutral=float(p[1]),
                    p_positive=float(p[2]),
                    urgency=label,
                    urgency_score=score,
                    topics=topics[i] if (text or "").strip() else [],
                    language=languages[i],
                    signals=signals,
                )
            )
        return results
