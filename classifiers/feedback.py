"""Retraining from agents' corrections (``mentiondesk train --from-feedback FILE``).

The console exports label feedback as CSV or JSONL with the fields ``mention_id, text, sentiment,
urgency`` (either label may be empty; extra fields are ignored). Classifiers cannot read the store,
so this file is the whole interface. Corrections are split 80/20 by a hash of their id.

* Sentiment corrections: the network is fine-tuned on the 80 % (plus a replay sample of the public
  data, so it does not forget).
* Urgency corrections: the urgency head is refitted on the seed set plus the 80 % (its features
  come from the network, so it is refitted after any sentiment change anyway).

Before and after are compared on the held-out 20 % of each kind, on the airline dev split and on the
urgency seed's held-out part. The new pair of files replaces the current one only if it is not worse
on any of them (0.005 tolerance for noise on the public sets).
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
from classifiers.urgency_model import UrgencyHead
from classifiers.urgency_seed import SeedRow, load_seed
from classifiers.urgency_training import evaluate_head, train_urgency

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


def _measure(
    weights: Path,
    sets: dict[str, tuple[list[str], list[int]]],
    urgency_weights: Path | None = None,
    urgency_sets: dict[str, list[SeedRow]] | None = None,
) -> dict[str, dict[str, float]]:
    classifier = MiniLMClassifier(weights, None, detect_language=False)
    scores = {name: _sentiment_scores(classifier, texts, targets) for name, (texts, targets) in sets.items()}
    if urgency_weights is not None and urgency_weights.exists():
        head = UrgencyHead.load(urgency_weights)
        for name, rows in (urgency_sets or {}).items():
            result = evaluate_head(head, rows, classifier.run([r.text for r in rows]).urgency_features())
            scores[name] = {"macro_f1": result.report.macro_f1, "urgent_recall": result.urgent_recall}
    return scores


def _as_seed(corrections: list[Correction], split: str) -> list[SeedRow]:
    return [SeedRow("feedback", c.mention_id, c.urgency or "", "", split, c.text) for c in corrections]


def _worse(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]) -> list[str]:
    """Sets where any metric dropped (public sets: by more than the noise tolerance)."""
    worse = []
    for name, metrics in before.items():
        tolerance = PUBLIC_TOLERANCE if name in ("airline_dev", "urgency_seed_heldout") else 0.0
        if any(value - after[name][metric] > tolerance for metric, value in metrics.items()):
            worse.append(name)
    return worse


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
    urgency_rows = [c for c in corrections if c.urgency]
    if max(len(sentiment_rows), len(urgency_rows)) < MIN_CORRECTIONS:
        raise FeedbackError(
            f"{feedback}: {len(sentiment_rows)} usable sentiment and {len(urgency_rows)} urgency corrections, "
            f"need {MIN_CORRECTIONS} of either"
        )
    current = weights_dir / "sentiment-minilm.safetensors"
    current_urgency = weights_dir / "urgency-head.safetensors"
    candidate = weights_dir / "sentiment-minilm.candidate.safetensors"
    candidate_urgency = weights_dir / "urgency-head.candidate.safetensors"
    sets: dict[str, tuple[list[str], list[int]]] = {}
    tune_sentiment = len(sentiment_rows) >= MIN_CORRECTIONS
    if tune_sentiment:
        train, held = _split(sentiment_rows)
        sets["feedback_heldout"] = ([c.text for c in held], [SENTIMENTS.index(c.sentiment or "") for c in held])
        dev = datasets.airline(data_dir, "dev")
        sets["airline_dev"] = (dev.texts, dev.targets)
    urgency_train: list[SeedRow] = []
    urgency_sets = {"urgency_seed_heldout": [r for r in load_seed(data_dir) if r.split != "train"]}
    if len(urgency_rows) >= MIN_CORRECTIONS:
        urgent_train, urgent_held = _split(urgency_rows)
        urgency_train = _as_seed(urgent_train, "train")
        urgency_sets["feedback_urgency_heldout"] = _as_seed(urgent_held, "test")
    outcome = FeedbackOutcome(before=_measure(current, sets, current_urgency, urgency_sets))
    if tune_sentiment:
        _fine_tune(data_dir, current, train, candidate)
        calibrate_weights(candidate, data_dir)
    else:
        shutil.copyfile(current, candidate)
    chosen = UrgencyHead.load(current_urgency).meta if current_urgency.exists() else {}
    train_urgency(  # its features come from the network; C and cut-off as the full training chose them
        data_dir,
        candidate,
        candidate_urgency,
        urgency_train,
        c=_number(chosen.get("C")),
        threshold=_number(chosen.get("urgent_threshold")),
    )
    outcome.after = _measure(candidate, sets, candidate_urgency, urgency_sets)
    worse = _worse(outcome.before, outcome.after)
    if worse:
        outcome.reason = f"worse on {', '.join(worse)}; candidates left at {candidate} and {candidate_urgency}"
        return outcome
    shutil.move(str(candidate), str(current))
    shutil.move(str(candidate_urgency), str(current_urgency))
    outcome.promoted = True
    trained = f"{len(sentiment_rows)} sentiment and {len(urgency_rows)} urgency corrections read"
    outcome.reason = f"not worse on {', '.join(outcome.before)}; {trained} (80 % trained, 20 % held out)"
    log.info("promoted feedback model: %s", json.dumps(outcome.after))
    return outcome


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _split(rows: list[Correction]) -> tuple[list[Correction], list[Correction]]:
    """The stable 80/20 split; a tiny file with nothing hashed out holds out its last fifth instead."""
    train = [c for c in rows if not c.held_out]
    held = [c for c in rows if c.held_out]
    if not held:
        cut = max(2, len(train) // 5)
        train, held = train[:-cut], train[-cut:]
    return train, held
