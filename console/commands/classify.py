"""``mentiondesk train``, ``eval`` and ``classify-file``: the classifier's command-line side."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from classifiers.datasets import DATA_DIR_ENV, DataMissingError

OUTPUT_COLUMNS = ("sentiment", "p_negative", "p_neutral", "p_positive", "urgency", "priority", "topics", "language")
CHUNK_ROWS = 512

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default="../shared/data",
    envvar=DATA_DIR_ENV,
    show_default=True,
    help=f"Folder with the public data sets (env {DATA_DIR_ENV}).",
)
model_option = click.option(
    "--model",
    default="default",
    envvar="MENTIONDESK_MODEL",
    show_default=True,
    help="'default' (shipped MiniLM) or a Hugging Face model id / local path.",
)


def _fail(message: str) -> click.ClickException:
    from console.cli import UserFacingError

    return UserFacingError(message)


def _require_dir(data_dir: Path) -> None:
    if not data_dir.is_dir():
        raise _fail(f"data folder not found: {data_dir} (pass --data-dir or set {DATA_DIR_ENV})")


def _load(model: str) -> Any:
    from classifiers import load_classifier

    try:
        return load_classifier(model)
    except (OSError, ValueError) as error:
        raise _fail(f"cannot load model {model!r}: {str(error).splitlines()[0]}") from error


def _bar(label: str) -> Progress:
    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True)


@click.command("train")
@data_dir_option
@click.option(
    "--output-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Where to write the weights (default: the shipped classifiers/weights).",
)
@click.option("--epochs", type=click.IntRange(1, 20), default=None, help="Default: the shipped recipe's (1).")
@click.option("--urgency-only", is_flag=True, help="Refit only the urgency head (gold dev set plus the seed).")
@click.option(
    "--from-feedback",
    "feedback",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="CSV/JSONL of agents' corrections (mention_id,text,sentiment,urgency): retrain, "
    "compare before/after on held-out data, promote only if not worse.",
)
def train_command(
    data_dir: Path, output_dir: Path | None, epochs: int | None, urgency_only: bool, feedback: Path | None
) -> None:
    """Reproduce the default model from the public data (sentiment network, then urgency head)."""
    import logging

    from classifiers.minilm import WEIGHTS_DIR

    _require_dir(data_dir)
    logging.getLogger("classifiers").setLevel(logging.INFO)
    out = output_dir or WEIGHTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    try:
        if feedback is not None:
            _train_feedback(data_dir, feedback, out)
            return
        if not urgency_only:
            from classifiers.calibration import calibrate_weights
            from classifiers.training import TrainConfig, train

            weights = out / "sentiment-minilm.safetensors"
            best = train(data_dir, weights, TrainConfig(epochs=epochs) if epochs else TrainConfig())
            click.echo(f"sentiment: best dev {json.dumps(best.get('dev'), default=str)}")
            meta = calibrate_weights(weights, data_dir)
            click.echo(f"calibrated: logit bias {meta['logit_bias']}, temperature {meta['temperature']:.3f}")
        from classifiers.urgency_training import train_urgency

        result = train_urgency(data_dir, out / "sentiment-minilm.safetensors", out / "urgency-head.safetensors")
        click.echo(
            f"urgency held-out: macro-F1 {result.report.macro_f1:.3f}, "
            f"critical+high recall {result.urgent_recall:.3f} (model only {result.model_only_urgent_recall:.3f})"
        )
    except DataMissingError as error:
        raise _fail(str(error)) from error


def _train_feedback(data_dir: Path, feedback: Path, out: Path) -> None:
    from classifiers.feedback import FeedbackError, retrain_from_feedback

    if not feedback.exists():
        raise _fail(f"feedback file not found: {feedback}")
    try:
        outcome = retrain_from_feedback(data_dir, feedback, out)
    except FeedbackError as error:
        raise _fail(str(error)) from error
    table = Table("held-out set", "metric", "before", "after")
    for name, metric, before, after in outcome.rows():
        table.add_row(name, metric, f"{before:.4f}", f"{after:.4f}")
    Console().print(table)
    click.echo(("promoted: " if outcome.promoted else "kept the current model: ") + outcome.reason)


@click.command("eval")
@data_dir_option
@model_option
@click.option("--json", "as_json", is_flag=True, help="Print the full reports as JSON.")
def eval_command(data_dir: Path, model: str, as_json: bool) -> None:
    """Macro-F1, macro-recall, per-class scores, confusion matrix and ECE on the reporting sets."""
    from classifiers.evaluation import run_eval

    _require_dir(data_dir)
    classifier = _load(model)
    try:
        with _bar("evaluating") as bar:
            task = bar.add_task("posts", total=None)
            results = run_eval(classifier, data_dir, lambda n: bar.advance(task, n))
    except DataMissingError as error:
        raise _fail(str(error)) from error
    if as_json:
        payload = {r.name: {**r.report.as_dict(), **r.extra} for r in results}
        click.echo(json.dumps({"model": classifier.name, "version": classifier.version, "results": payload}, indent=2))
        return
    console = Console(width=None if sys.stdout.isatty() else 160)  # piped to a file: keep the names whole
    console.print(f"model {classifier.name} {classifier.version}")
    for r in results:
        _print_report(console, r)
    console.print(summary_table(results))


SUMMARY_EXTRAS = (
    ("critical_high_recall", "C+H recall"),
    ("critical_high_precision", "C+H precision"),
    ("critical_recall", "critical recall"),
    ("top20_critical_high_share", "top 20 %"),
)


def summary_table(results: list[Any]) -> Table:
    """Every reporting set in one table, as the model card copies it."""
    table = Table("set", "n", "macro-F1", "macro-recall", "ECE", *[label for _, label in SUMMARY_EXTRAS])
    for r in results:
        report = r.report
        ece = "—" if report.ece is None else f"{report.ece:.3f}"
        extras = [f"{r.extra[key]:.3f}" if key in r.extra else "—" for key, _ in SUMMARY_EXTRAS]
        table.add_row(r.name, str(report.n), f"{report.macro_f1:.3f}", f"{report.macro_recall:.3f}", ece, *extras)
    return table


def _print_report(console: Console, result: Any) -> None:
    report = result.report
    extra = "".join(f", {k} {v:.4f}" for k, v in result.extra.items())
    ece = "" if report.ece is None else f", ECE {report.ece:.4f}"
    console.print(
        f"\n[bold]{result.name}[/] (n={report.n}): macro-F1 {report.macro_f1:.4f}, "
        f"macro-recall {report.macro_recall:.4f}, accuracy {report.accuracy:.4f}{ece}{extra}"
    )
    table = Table("class", "precision", "recall", "f1", "support", *[f"→{x}" for x in report.labels])
    for label, row in zip(report.labels, report.confusion, strict=True):
        c = report.per_class[label]
        table.add_row(
            label, f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['f1']:.3f}", str(c["support"]), *map(str, row)
        )
    console.print(table)


def _chunks(reader: Iterator[dict[str, str]], size: int) -> Iterator[list[dict[str, str]]]:
    chunk: list[dict[str, str]] = []
    for row in reader:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _count_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return max(0, sum(1 for _ in csv.reader(handle)) - 1)


def score_rows(classifier: Any, rows: list[dict[str, str]], text_column: str) -> list[dict[str, str]]:
    """Add the classifier columns to each row (empty texts still get a row)."""
    from classifiers.priority import PriorityInputs, priority

    scores = classifier.classify([row.get(text_column) or "" for row in rows])
    for row, s in zip(rows, scores, strict=True):
        rank = priority(PriorityInputs(row.get(text_column) or "", s.urgency_score, s.signals))
        row.update(
            sentiment=s.sentiment,
            p_negative=f"{s.p_negative:.4f}",
            p_neutral=f"{s.p_neutral:.4f}",
            p_positive=f"{s.p_positive:.4f}",
            urgency=s.urgency,
            priority=str(rank.score),
            topics="|".join(s.topics),
            language=s.language or "",
        )
    return rows


@click.command("classify-file")
@click.argument("input_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--text-column", default="text", show_default=True)
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), required=True)
@model_option
def classify_file_command(input_file: Path, text_column: str, output: Path, model: str) -> None:
    """Add sentiment, probabilities, urgency, priority, topics and language columns to a CSV."""
    if not input_file.exists():
        raise _fail(f"input file not found: {input_file}")
    csv.field_size_limit(sys.maxsize)
    total = _count_rows(input_file)
    with input_file.open(newline="", encoding="utf-8-sig") as source:
        reader = csv.DictReader(source)
        fields = list(reader.fieldnames or [])
        if text_column not in fields:
            raise _fail(f"{input_file}: no column {text_column!r} (columns: {', '.join(fields) or 'none'})")
        classifier = _load(model)
        columns = fields + [c for c in OUTPUT_COLUMNS if c not in fields]
        with output.open("w", newline="", encoding="utf-8") as sink, _bar("classifying") as bar:
            writer = csv.DictWriter(sink, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            task = bar.add_task("rows", total=total)
            written = 0
            for chunk in _chunks(reader, CHUNK_ROWS):
                writer.writerows(score_rows(classifier, chunk, text_column))
                written += len(chunk)
                bar.advance(task, len(chunk))
    click.echo(f"wrote {written} rows to {output}")
