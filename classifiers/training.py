"""Reproducible training of the default sentiment network (``mentiondesk train``).

Method: freeze the word embeddings (and ``6 - tuned_layers`` bottom layers) of all-MiniLM-L6-v2, cache
their outputs once for every training post, then fine-tune a copy of the layers above plus three heads
(sentiment, and emotion and offensive as auxiliary signal) on the cached states. The shipped model
tunes all six layers for one epoch under bf16 autocast (where the CPU multiplies bf16 natively), with
SemEval and TweetEval examples class-balanced because their metric is macro-recall. Temperature
scaling on the dev sets calibrates the sentiment head.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from classifiers import datasets
from classifiers.metrics import evaluate
from classifiers.network import MentionNet, load_base, pad_ids
from classifiers.text import preprocess

log = logging.getLogger(__name__)

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "sentiment-minilm.safetensors"


@dataclass
class TrainConfig:
    """Hyper-parameters; the defaults reproduce the shipped model."""

    tuned_layers: int = 6
    max_length: int = 64
    epochs: int = 1
    batch_size: int = 32
    layer_lr: float = 5e-5
    head_lr: float = 1e-3
    aux_weight: float = 0.5
    airline_weight: float = 1.0
    tweeteval_weight: float = 1.0
    emotion_sample: int = 1_000_000  # all
    offensive_sample: int = 4000
    seed: int = 13
    threads: int = 2
    evals_per_epoch: int = 4
    balance_general: float = 1.0
    """Class weights (n / (k * n_class)) ** this on SemEval + TweetEval: their metric is macro-recall."""
    bf16: bool | None = None
    """Train under bf16 autocast (None: where the CPU multiplies bf16 natively, see ``minilm.native_bf16``)."""


@dataclass
class Example:
    """One cached training post: index into the state cache, task, target and loss weight."""

    cache: int
    task: str
    target: int
    weight: float = 1.0


@dataclass
class TrainingSet:
    """Texts (cache order) plus the examples and dev sets that refer to them."""

    texts: list[str] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)
    dev: dict[str, tuple[list[int], list[int]]] = field(default_factory=dict)

    def add(self, texts: Sequence[str]) -> list[int]:
        """Append preprocessed texts; return their cache indices."""
        start = len(self.texts)
        self.texts.extend(preprocess(t) for t in texts)
        return list(range(start, len(self.texts)))

    def add_task(
        self, data: datasets.Labelled, task: str, weight: float = 1.0, class_weights: Sequence[float] | None = None
    ) -> None:
        """Add labelled training examples for ``task`` (``class_weights``: one extra factor per example)."""
        factors = class_weights or [1.0] * len(data)
        for index, target, factor in zip(self.add(data.texts), data.targets, factors, strict=True):
            self.examples.append(Example(index, task, target, weight * factor))

    def add_dev(self, name: str, data: datasets.Labelled) -> None:
        """Add a named dev set used for selection and calibration."""
        self.dev[name] = (self.add(data.texts), list(data.targets))


def balanced(data: datasets.Labelled, power: float) -> list[float]:
    """Per-example weights ``(n / (k * n_class)) ** power``: 0 leaves them at 1, 1 fully balances classes."""
    counts = np.bincount(np.asarray(data.targets), minlength=len(data.labels)).astype(float)
    per_class = (len(data.targets) / (len(data.labels) * np.maximum(counts, 1.0))) ** power
    return [float(per_class[t]) for t in data.targets]


def _sample(data: datasets.Labelled, size: int, rng: random.Random) -> datasets.Labelled:
    if size >= len(data):
        return data
    keep = sorted(rng.sample(range(len(data)), min(size, len(data))))
    return datasets.Labelled([data.texts[i] for i in keep], [data.targets[i] for i in keep], data.labels)


def build_training_set(data_dir: Path, config: TrainConfig) -> TrainingSet:
    """Assemble the public training data and the two dev sets used for selection and calibration."""
    rng = random.Random(config.seed)
    data = TrainingSet()
    data.add_task(datasets.airline(data_dir, "train"), "sentiment", config.airline_weight)
    semeval = datasets.semeval(data_dir)
    data.add_task(semeval, "sentiment", 1.0, balanced(semeval, config.balance_general))
    tweeteval = datasets.tweeteval(data_dir, "sentiment", "val", 0, datasets.TWEETEVAL_TRAIN_LINES)
    data.add_task(tweeteval, "sentiment", config.tweeteval_weight, balanced(tweeteval, config.balance_general))
    emotion = datasets.tweeteval(data_dir, "emotion", "train")
    data.add_task(_sample(emotion, config.emotion_sample, rng), "emotion", config.aux_weight)
    offensive = datasets.tweeteval(data_dir, "offensive", "train")
    data.add_task(_sample(offensive, config.offensive_sample, rng), "offensive", config.aux_weight)
    data.add_dev("airline_dev", datasets.airline(data_dir, "dev"))
    tune = datasets.tweeteval(
        data_dir, "sentiment", "val", datasets.TWEETEVAL_TRAIN_LINES, datasets.TWEETEVAL_REPORT_START
    )
    data.add_dev("tweeteval_tune", tune)
    return data


def cache_bottom(net: MentionNet, tokenizer: object, texts: Sequence[str], max_length: int) -> list[torch.Tensor]:
    """Run the frozen layers once per text and keep each post's states (fp16, unpadded)."""
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]  # type: ignore[operator]
    order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
    cache: list[torch.Tensor] = [torch.empty(0)] * len(texts)
    started = time.monotonic()
    with torch.inference_mode():
        for start in range(0, len(order), 128):
            chunk = order[start : start + 128]
            ids, mask = pad_ids([encoded[i] for i in chunk])
            hidden = net.bottom(ids, mask)
            for row, index in enumerate(chunk):
                cache[index] = hidden[row, : len(encoded[index])].to(torch.float16).clone()
            if start % (128 * 40) == 0:
                log.info("cached %d/%d posts (%.0f s)", start, len(order), time.monotonic() - started)
    return cache


def pad_states(states: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad cached per-post states into a batch."""
    length = max(s.shape[0] for s in states)
    hidden = torch.zeros(len(states), length, states[0].shape[1])
    mask = torch.zeros(len(states), length, dtype=torch.long)
    for i, s in enumerate(states):
        hidden[i, : s.shape[0]] = s.float()
        mask[i, : s.shape[0]] = 1
    return hidden, mask


def batches(
    examples: list[Example], cache: list[torch.Tensor], size: int, rng: random.Random
) -> Iterator[list[Example]]:
    """Single-task batches of similar length (shuffle, then sort within windows of 50 batches)."""
    by_task: dict[str, list[Example]] = {}
    for example in examples:
        by_task.setdefault(example.task, []).append(example)
    all_batches: list[list[Example]] = []
    for group in by_task.values():
        rng.shuffle(group)
        window = size * 50
        for start in range(0, len(group), window):
            part = sorted(group[start : start + window], key=lambda e: cache[e.cache].shape[0])
            all_batches.extend(part[i : i + size] for i in range(0, len(part), size))
    rng.shuffle(all_batches)
    yield from all_batches


def dev_logits(net: MentionNet, cache: list[torch.Tensor], indices: list[int]) -> torch.Tensor:
    """Sentiment logits for cached dev posts, in the given order."""
    net.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(indices), 256):
            hidden, mask = pad_states([cache[i] for i in indices[start : start + 256]])
            out.append(net.top(hidden, mask, embed=False).logits["sentiment"])
    net.train()
    return torch.cat(out)


def fit_temperature(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Temperature scaling: the single scalar that minimises dev NLL."""
    log_t = torch.zeros(1, requires_grad=True)
    optimiser = torch.optim.LBFGS([log_t], lr=0.1, max_iter=100)

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = nn.functional.cross_entropy(logits / log_t.exp(), targets)
        loss.backward()
        return loss

    optimiser.step(closure)
    return float(log_t.exp().item())


def score_dev(net: MentionNet, cache: list[torch.Tensor], data: TrainingSet) -> dict[str, dict[str, object]]:
    """Airline dev macro-F1 and TweetEval tune macro-recall (and calibration) for model selection."""
    results: dict[str, dict[str, object]] = {}
    all_logits, all_targets = [], []
    for name, (indices, targets) in data.dev.items():
        logits = dev_logits(net, cache, indices)
        all_logits.append(logits)
        all_targets.extend(targets)
        report = evaluate(targets, logits.argmax(1).tolist(), datasets.SENTIMENT_LABELS)
        results[name] = {"macro_f1": report.macro_f1, "macro_recall": report.macro_recall}
    logits, targets_t = torch.cat(all_logits), torch.tensor(all_targets)
    temperature = fit_temperature(logits, targets_t)
    for name, (indices, targets) in data.dev.items():
        probs = torch.softmax(dev_logits(net, cache, indices) / temperature, 1).numpy()
        results[name]["ece"] = evaluate(targets, probs.argmax(1).tolist(), datasets.SENTIMENT_LABELS, probs).ece
    results["temperature"] = {"value": temperature}
    return results


def selection_score(results: dict[str, dict[str, object]]) -> float:
    """What model selection maximises: airline dev macro-F1 plus TweetEval tune macro-recall."""
    return float(results["airline_dev"]["macro_f1"]) + float(results["tweeteval_tune"]["macro_recall"])  # type: ignore[arg-type]


def save_weights(net: MentionNet, path: Path, meta: dict[str, object]) -> None:
    """Write tuned layers and heads as fp16 safetensors, with the metadata as one JSON string."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in net.trained_state().items()}
    save_file(state, str(path), metadata={"mentiondesk": json.dumps(meta, default=str)})


def make_optimiser(net: MentionNet, config: TrainConfig, total_steps: int) -> tuple[torch.optim.Optimizer, object]:
    """AdamW with a higher rate for the fresh heads, linear warm-up and decay."""
    groups = [
        {"params": list(net.tuned_top.parameters()), "lr": config.layer_lr},
        {"params": list(net.heads.parameters()), "lr": config.head_lr},
    ]
    optimiser = torch.optim.AdamW(groups, weight_decay=0.01)
    warmup = max(1, total_steps // 20)

    def factor(step: int) -> float:
        return min((step + 1) / warmup, max(0.0, (total_steps - step) / max(1, total_steps - warmup)))

    return optimiser, torch.optim.lr_scheduler.LambdaLR(optimiser, factor)


def prepare(data_dir: Path, config: TrainConfig) -> tuple[MentionNet, object, TrainingSet, list[torch.Tensor]]:
    """Load the base network, build the data and cache the frozen layers."""
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    base, tokenizer = load_base()
    net = MentionNet(base, config.tuned_layers)
    for parameter in list(net.embeddings.parameters()) + list(net.shared.parameters()):
        parameter.requires_grad_(False)
    for parameter in net.original_top.parameters():
        parameter.requires_grad_(False)
    data = build_training_set(data_dir, config)
    log.info("%d training examples, %d texts to cache", len(data.examples), len(data.texts))
    cache = cache_bottom(net, tokenizer, data.texts, config.max_length)
    return net, tokenizer, data, cache


def autocast(config: TrainConfig) -> contextlib.AbstractContextManager[object]:
    """bf16 autocast on CPUs with native bf16 matrix units (elsewhere bf16 is emulated, and slower), else nothing."""
    from classifiers.minilm import native_bf16

    enabled = native_bf16() if config.bf16 is None else config.bf16
    return torch.autocast("cpu", dtype=torch.bfloat16) if enabled else contextlib.nullcontext()


def train_steps(
    net: MentionNet,
    data: TrainingSet,
    cache: list[torch.Tensor],
    config: TrainConfig,
    on_checkpoint: Callable[[int, float], None],
) -> None:
    """The training loop; calls ``on_checkpoint(epoch, progress)`` a few times per epoch."""
    rng = random.Random(config.seed)
    steps_per_epoch = math.ceil(len(data.examples) / config.batch_size) + len({e.task for e in data.examples})
    optimiser, scheduler = make_optimiser(net, config, steps_per_epoch * config.epochs)
    net.train()
    every = max(1, steps_per_epoch // config.evals_per_epoch)
    for epoch in range(config.epochs):
        started, running = time.monotonic(), 0.0
        for step, batch in enumerate(batches(data.examples, cache, config.batch_size, rng), start=1):
            hidden, mask = pad_states([cache[e.cache] for e in batch])
            with autocast(config):
                logits = net.top(hidden, mask, embed=False).logits[batch[0].task].float()
            target = torch.tensor([e.target for e in batch])
            weights = torch.tensor([e.weight for e in batch])
            loss = (nn.functional.cross_entropy(logits, target, reduction="none") * weights).sum() / len(batch)
            loss.backward()
            nn.utils.clip_grad_norm_(net.tuned_top.parameters(), 1.0)
            optimiser.step()
            scheduler.step()  # type: ignore[attr-defined]
            optimiser.zero_grad()
            running = 0.98 * running + 0.02 * float(loss.detach())
            if step % 100 == 0:
                log.info("epoch %d step %d loss %.3f (%.0f s)", epoch + 1, step, running, time.monotonic() - started)
            if step % every == 0 and step < steps_per_epoch - every // 2:
                on_checkpoint(epoch + 1, step / steps_per_epoch)
        on_checkpoint(epoch + 1, 1.0)


def train(data_dir: Path, output: Path = DEFAULT_WEIGHTS, config: TrainConfig | None = None) -> dict[str, object]:
    """Train the sentiment network from the public data and save the best checkpoint to ``output``."""
    config = config or TrainConfig()
    net, _tokenizer, data, cache = prepare(data_dir, config)
    best: dict[str, object] = {"score": -1.0}

    def checkpoint(epoch: int, progress: float) -> None:
        results = score_dev(net, cache, data)
        score = selection_score(results)
        log.info("epoch %d (%.0f%%): %s score %.4f", epoch, progress * 100, json.dumps(results), score)
        if score > float(best["score"]):  # type: ignore[arg-type]
            best.update(score=score, epoch=epoch + progress - 1, dev=results)
            meta = {
                "version": datetime.now(UTC).strftime("%Y.%m.%d"),
                "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "config": asdict(config),
                "temperature": results["temperature"]["value"],
                "dev": results,
                "epochs_seen": round(epoch + progress - 1, 2),
                "examples": len(data.examples),
            }
            save_weights(net, output, meta)
            log.info("saved checkpoint to %s", output)

    train_steps(net, data, cache, config, checkpoint)
    return best


def main() -> None:
    """Entry point for ``python -m classifiers.training [DATA_DIR] [OUTPUT]``."""
    import sys

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    data_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else datasets.default_data_dir()
    output = Path(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_WEIGHTS
    result = train(data_dir, output)
    print(json.dumps(result, indent=2, default=str))
    np.set_printoptions()


if __name__ == "__main__":
    main()
