"""Benchmark: the default classifier vs a roberta-base-sized transformers pipeline on 5,000 real posts.

Ours is the full ``classify`` call the worker makes (preprocessing, sentiment, urgency, topics and
language). The baseline is ``transformers.pipeline("text-classification")`` over a RoBERTa-base
config with random weights (speed does not depend on the weights). No RoBERTa tokenizer is available
offline, so the baseline uses the MiniLM WordPiece tokenizer with the vocabulary size set to match;
tokenisation is a small share of the baseline's time. Both run on the same posts, in the same process,
with the same thread count.

    .venv/bin/python bench/classify.py [--data-dir ../shared/data] [--posts 5000] [--threads 2]
        [--baseline-posts N] [--int8]

Prints ``RESULT <name> <value> <unit>`` lines.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def load_posts(data_dir: Path, count: int) -> list[str]:
    """``count`` posts from the sample, cycled; rows without text are left out.

    The sample holds a broken row whose text is missing: the worker never classifies an empty mention, and
    transformers 5's pipeline refuses one (``You need to specify either text or text_target``).
    """
    path = data_dir / "twcs_sample.csv"
    if not path.exists():
        sys.exit(f"bench: data file not found: {path} (pass --data-dir or set MENTIONDESK_DATA_DIR)")
    with path.open(newline="", encoding="utf-8") as handle:
        posts = [text for row in csv.DictReader(handle) if (text := row.get("text")) and text.strip()]
    if not posts:
        sys.exit(f"bench: no posts with text in {path}")
    return (posts * (count // len(posts) + 1))[:count]


def time_ours(posts: list[str], batch: int, **options: object) -> tuple[float, float]:
    from classifiers import load_classifier

    started = time.perf_counter()
    classifier = load_classifier("default", **options)
    load_s = time.perf_counter() - started
    classifier.classify(posts[:64])  # warm-up
    started = time.perf_counter()
    for start in range(0, len(posts), batch):
        classifier.classify(posts[start : start + batch])
    return len(posts) / (time.perf_counter() - started), load_s


def time_baseline(posts: list[str], batch: int, bf16: bool = False) -> float:
    import torch
    from transformers import AutoTokenizer, RobertaConfig, RobertaForSequenceClassification, pipeline

    from classifiers.network import base_model_dir

    tokenizer = AutoTokenizer.from_pretrained(base_model_dir())
    torch.manual_seed(0)
    config = RobertaConfig(vocab_size=tokenizer.vocab_size, num_labels=3, max_position_embeddings=514)
    model = RobertaForSequenceClassification(config).eval()
    if bf16:
        model = model.to(torch.bfloat16)
    classify = pipeline("text-classification", model=model, tokenizer=tokenizer, device=-1)
    kwargs = {"batch_size": batch, "truncation": True, "max_length": 128}
    classify(posts[:16], **kwargs)  # warm-up
    started = time.perf_counter()
    classify(posts, **kwargs)
    return len(posts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("MENTIONDESK_DATA_DIR", "../shared/data")))
    parser.add_argument("--posts", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=256, help="posts per classify() call (ours)")
    parser.add_argument("--baseline-batch", type=int, default=8, help="pipeline batch_size (baseline)")
    parser.add_argument("--int8", action="store_true", help="also time the opt-in int8 mode")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"], help="ours (default auto)")
    parser.add_argument("--fp32", action="store_true", help="also time ours in fp32 (when auto picked bf16)")
    parser.add_argument(
        "--baseline-bf16", action="store_true", help="also time the RoBERTa pipeline cast to bf16 (a fairer rival)"
    )
    parser.add_argument(
        "--baseline-posts", type=int, default=None, help="time the baseline on the first N of the posts (default: all)"
    )
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    posts = load_posts(args.data_dir, args.posts)
    from classifiers.minilm import native_bf16, resolve_precision

    dtype = resolve_precision(args.precision)
    print(f"# torch {torch.__version__}, {args.threads} threads, native bf16: {native_bf16()}, ours in {dtype}")
    ours, load_s = time_ours(posts, args.batch, precision=args.precision)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"RESULT classify_default {ours:.1f} mentions/s")
    print(f"RESULT classify_model_load {load_s:.2f} s")
    print(f"RESULT classify_peak_rss {rss_mb:.0f} MB")
    if args.fp32:
        plain, _ = time_ours(posts, args.batch, precision="fp32")
        print(f"RESULT classify_fp32 {plain:.1f} mentions/s")
    if args.int8:
        fast, _ = time_ours(posts, args.batch, quantized=True)
        print(f"RESULT classify_int8_opt_in {fast:.1f} mentions/s")
    baseline = time_baseline(posts[: args.baseline_posts or len(posts)], args.baseline_batch)
    print(f"RESULT classify_roberta_base_pipeline {baseline:.1f} mentions/s")
    print(f"RESULT classify_speedup_vs_roberta {ours / baseline:.1f} x")
    if args.baseline_bf16:
        rival = time_baseline(posts[: args.baseline_posts or len(posts)], args.baseline_batch, bf16=True)
        print(f"RESULT classify_roberta_base_pipeline_bf16 {rival:.1f} mentions/s")
        print(f"RESULT classify_speedup_vs_roberta_bf16 {ours / rival:.1f} x")


if __name__ == "__main__":
    main()
