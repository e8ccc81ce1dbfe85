"""Retraining from agents' corrections (``mentiondesk train --from-feedback FILE``).

The console exports label feedback as CSV or JSONL with the fields ``mention_id, text, sentiment,
urgency`` (either label may be empty; extra fields are ignored). Classifiers cannot read the store,
so this file is the whole interface. Corrections are split 80/20 by a hash of their id; the model is
fine-tuned on the 80 % (plus a replay sample of the public data, so it does not forget), and before
and after are compared on the held-out 20 % and on the airline dev split. The new model replaces the
current one only if it is not worse on any of them (0.005 tolerance for noise on the public set).
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file

from classifiers import datasets
from classifiers.base import SENTIMENTS, URGENCIES
from classifiers.calibration import calibrate_weights
from classifiers.metrics import evaluate
from classifiers.minilm import MiniLMClassifier, read_meta
from classifiers.urgency_training import train_urgency

log = logging.getLogger(__name__)
MIN_CORRECTIONS = 10
PUBLIC_TOLERANCE = 0.005


class FeedbackError(ValueError):
    """The feedback file cannot be used (missing, unreadable, or too few usable rows)."""


@dataclass(frozen=True)
class Correction:
    """One agent correction."""

    mention_id: str
    text: str
    sentiment: str | None
    urgency: str | None

    @property
    def held_out(self) -> bool:
        """Stable 20 % hold-out by id."""
        return hashlib.sha256(self.mention_id.encode()).digest()[0] * 100 // 256 < 20


@dataclass
class FeedbackOutcome:
    """Before/after metrics per held-out set and the promotion decision."""

    before: dict[str, dict[str, float]] = field(default_factory=dict)
    after: dict[str, dict[str, float]] = field(default_factory=dict)
    promoted: bool = False
    reason: str = ""

    def rows(self) -> list[tuple[str, str, float, float]]:
        """(set, metric, before, after) for printing."""
        return [
            (name, metric, value, self.after[name][metric])
            for name, metrics in self.before.items()
            for metric, value in metrics.items()
        ]


def _parse(record: dict[str, object], where: str) -> Correction:
    text = str(record.get("text") or "").strip()
    sentiment = str(record.get("sentiment") or "").strip().lower() or None
    urgency = str(record.get("urgency") or "").strip().lower() or None
    if not text:
        raise ValueError(f"{where}: empty text")
    if sentiment is not None and sentiment not in SENTIMENTS:
        raise ValueError(f"{where}: sentiment {sentiment!r} is not one of {', '.join(SENTIMENTS)}")
    if urgency is not None and urgency not in URGENCIES:
        raise ValueError(f"{where}: urgency {urgency!r} is not one of {', '.join(URGENCIES)}")
    if sentiment is None and urgency is None:
        raise ValueError(f"{where}: neither sentiment nor urgency given")
    ident = str(record.get("mention_id") or hashlib.sha256(text.encode()).hexdigest()[:16])
    return Correction(ident, text, sentiment, urgency)


def read_feedback(path: Path) -> tuple[list[Correction], list[str]]:
    """Read corrections; bad rows are skipped and returned as ``"line N: reason"`` problems."""
    if not path.exists():
        raise FeedbackError(f"feedback file not found: {path}")
    records: list[tuple[str, dict[str, object]]] = []
    problems: list[str] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        if path.suffix.lower() in {".jsonl", ".ndjson", ".json"}:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        records.append((f"line {number}", json.loads(line)))
                    except json.JSONDecodeError as error:
                        problems.append(f"line {number}: invalid JSON ({error.msg})")
        else:
            records = [(f"line {i}", dict(row)) for i, row in enumerate(csv.DictReader(handle), start=2)]
    corrections = []
    for where, record in records:
        try:
            corrections.append(_parse(record, where))
        except (ValueError, AttributeError) as error:
            problems.append(str(error))
    latest = {c.mention_id: c for c in corrections}  # the last correction of a mention wins
    return list(latest.values()), problems


def _sentiment_scores(classifier: MiniLMClassifier, texts: list[str], targets: list[int]) -> dict[str, float]:
    probs = classifier.run(texts).sentiment
    report = evaluate(targets, probs.argmax(1).tolist(), SENTIMENTS, probs)
    return {"macro_f1": report.macro_f1, "accuracy": report.accuracy}


def _measure(weights: Path, sets: dict[str, tuple[list[str], list[int]]]) -> dict[str, dict[str, float]]:
    classifier = MiniLMClassifier(weights, None, detect_language=False)
    return {name: _sentiment_scores(classifier, texts, targets) for name, (texts, targets) in sets.items()}


def _fine_tune(data_dir: Path, weights: Path, train: list[Correction], output: Path) -> None:
    """One pass over the corrections (weighted x3) plus a replay sample, from the current weights."""
    from classifiers import training

    config = training.TrainConfig(**read_meta(weights).get("config", {}))  # type: ignore[arg-type]
    config.epochs, config.layer_lr, config.head_lr, config.evals_per_epoch = 1, 3e-5, 1e-4, 1
    torch.manual_seed(config.seed)
    base, tokenizer = training.load_base()
    net = training.MentionNet(base, config.tuned_layers)
    net.load_state_dict({k: v.float() for k, v in load_file(str(weights)).items()}, strict=False)
    data = training.TrainingSet()
    rng = random.Random(config.seed)
    public = datasets.airline(data_dir, "train")
    keep = rng.sample(range(len(public)), min(3000, len(public)))
    data.add_task(
        datasets.Labelled([public.texts[i] for i in keep], [public.targets[i] for i in keep], SENTIMENTS), "sentiment"
    )
    rows = [c for c in train if c.sentiment]
    labelled = datasets.Labelled(
        [c.text for c in rows], [SENTIMENTS.index(c.sentiment or "") for c in rows], SENTIMENTS
    )
    for _ in range(3):
        data.add_task(labelled, "sentiment")
    data.add_dev("airline_dev", datasets.airline(data_dir, "dev"))
    cache = training.cache_bottom(net, tokenizer, data.texts, config.max_length)
    for p in list(net.embeddings.parameters()) + list(net.shared.parameters()) + list(net.original_top.parameters()):
        p.requires_grad_(False)

    def checkpoint(epoch: int, progress: float) -> None:
        if progress >= 1.0:
            results = training.score_dev(net, cache, data)
            meta = {**read_meta(weights), "temperature": results["temperature"]["value"], "feedback_rows": len(rows)}
            meta["version"] = f"{meta.get('version', 'unknown')}+fb{len(rows)}"
            training.save_weights(net, output, meta)

    training.train_steps(net, data, cache, config, checkpoint)


def retrain_from_feedback(data_dir: Path, feedback: Path, weights_dir: Path) -> FeedbackOutcome:
    """Fine-tune on corrections and promote the result into ``weights_dir`` only if it is not worse."""
    corrections, problems = read_feedback(feedback)
    for problem in problems:
        log.warning("skipped feedback %s", problem)
    sentiment_rows = [c for c in corrections if c.sentiment]
    if len(sentiment_rows) < MIN_CORRECTIONS:
        raise FeedbackError(f"{feedback}: {len(sentiment_rows)} usable sentiment corrections, need {MIN_CORRECTIONS}")
    train = [c for c in sentiment_rows if not c.held_out]
    held = [c for c in sentiment_rows if c.held_out] or train[-max(2, len(train) // 5) :]
    current = weights_dir / "sentiment-minilm.safetensors"
    candidate = weights_dir / "sentiment-minilm.candidate.safetensors"
    dev = datasets.airline(data_dir, "dev")
    sets = {
        "feedback_heldout": ([c.text for c in held], [SENTIMENTS.index(c.sentiment or "") for c in held]),
        "airline_dev": (dev.texts, dev.targets),
    }
    outcome = FeedbackOutcome(before=_measure(current, sets))
    _fine_tune(data_dir, current, train, candidate)
    calibrate_weights(candidate, data_dir)
    outcome.after = _measure(candidate, sets)
    drops = {name: outcome.before[name]["macro_f1"] - outcome.after[name]["macro_f1"] for name in sets}
    worse = [n for n, d in drops.items() if d > (PUBLIC_TOLERANCE if n == "airline_dev" else 0.0)]
    if worse:
        outcome.reason = f"worse on {', '.join(worse)}; candidate left at {candidate}"
        return outcome
    shutil.move(str(candidate), str(current))
    train_urgency(data_dir, current, weights_dir / "urgency-head.safetensors")  # its features moved
    outcome.promoted = True
    outcome.reason = f"not worse on {', '.join(sets)}; {len(train)} corrections trained, {len(held)} held out"
    log.info("promoted feedback model: %s", json.dumps(outcome.after))
    return outcome
