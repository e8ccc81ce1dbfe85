"""Quality floors of the shipped default model, on the full reporting sets.

These load the real offline model (default precision: bf16 on CPUs with native bf16, else fp32)
and classify about 3,200 posts, which takes well under a minute on 2 cores. Targets from issue 4.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from classifiers import Classifier, load_classifier
from classifiers.evaluation import gold_urgency_report, reporting_sets, sentiment_report
from classifiers.minilm import SENTIMENT_WEIGHTS, URGENCY_WEIGHTS
from console.commands import classify as classify_cmd


@pytest.fixture(scope="module")
def model() -> Classifier:
    return load_classifier("default")


@pytest.fixture(scope="module")
def sets(data_dir: Path):
    return reporting_sets(data_dir)


def test_shipped_weights_are_small_safetensors():
    assert SENTIMENT_WEIGHTS.suffix == ".safetensors" and SENTIMENT_WEIGHTS.stat().st_size <= 25 * 1024 * 1024
    assert URGENCY_WEIGHTS.stat().st_size <= 1024 * 1024


# Measured for the shipped model (docs/model_card.md), bf16 / fp32: airline test macro-F1 0.814 / 0.813,
# TweetEval val 1,001-2,000 macro-recall 0.724 / 0.725, ECE 0.024 / 0.046. The floors are issue 4's targets.
AIRLINE_FLOOR, TWEETEVAL_FLOOR, ECE_CEILING = 0.80, 0.70, 0.06


@pytest.fixture(scope="module")
def airline_report(model, sets):
    return sentiment_report(model, sets["airline_test"])


@pytest.fixture(scope="module")
def tweeteval_report(model, sets):
    return sentiment_report(model, sets["tweeteval_val_1001_2000"])


def test_airline_test_macro_f1_and_calibration_floor(airline_report):
    assert airline_report.n == 1419
    assert airline_report.macro_f1 >= AIRLINE_FLOOR, airline_report.as_dict()
    assert airline_report.ece is not None and airline_report.ece <= ECE_CEILING, airline_report.as_dict()


def test_tweeteval_heldout_macro_recall_and_calibration_floor(tweeteval_report):
    assert tweeteval_report.n == 1000
    assert tweeteval_report.macro_recall >= TWEETEVAL_FLOOR, tweeteval_report.as_dict()
    assert tweeteval_report.ece is not None and tweeteval_report.ece <= ECE_CEILING


def test_urgency_on_the_gold_holdout_keeps_its_measured_floors(model, data_dir):
    """The gold hold-out (read twice, adjudicated; docs/urgency-gold.md), not the cue-labelled seed.

    Measured for the shipped head (docs/model_card.md): critical + high recall 0.886 at precision 0.479,
    critical recall 0.611 (11 of 18), macro-F1 0.618. Issue 15's targets (0.85 at 0.70, critical 0.80) are
    not met yet; these floors catch a regression.
    """
    result = gold_urgency_report(model, data_dir)
    assert result.report.n == 523
    assert result.extra["critical_high_recall"] >= 0.85, result.extra
    assert result.extra["critical_high_precision"] >= 0.45, result.extra
    assert result.extra["critical_recall"] >= 0.55, result.extra
    assert result.report.macro_f1 >= 0.58, result.report.as_dict()


def test_scores_are_complete_for_every_kind_of_input(model):
    texts = [
        "@united you lost my luggage and nobody answers",
        "",
        "   ",
        "Merci beaucoup pour votre aide, le vol était parfait",
        "I was charged twice for the same order, where is my refund?",
        "Your food gave my kids food poisoning, we were in hospital all night",
        "😍😍😍",
    ]
    scores = model.classify(texts)
    assert len(scores) == len(texts)
    for s in scores:
        assert sum((s.p_negative, s.p_neutral, s.p_positive)) == pytest.approx(1.0, abs=1e-4)
        assert 0.0 <= s.urgency_score <= 1.0
        assert [x.contribution for x in s.signals] == sorted((x.contribution for x in s.signals), reverse=True)
    luggage, empty, blank, french, billing, poisoning, emoji = scores
    assert luggage.sentiment == "negative" and "delivery_luggage" in luggage.topics and luggage.language == "en"
    assert empty.language is None and empty.topics == [] and blank.topics == []
    assert french.language == "fr"
    assert "billing" in billing.topics
    assert poisoning.urgency == "critical" and poisoning.signals[0].reason
    # Emoji are read (spelled out), not dropped: an emoji-only post leans the way its emoji do. The shipped
    # model is borderline on bare heart-eyes (positive 0.48 vs neutral 0.50, see the model card's limits).
    assert emoji.p_positive > 0.4 and emoji.p_negative < 0.1
    angry, thanks, love = model.classify(["😡😡😡", "🙏🙏 thank you", "love it 😍"])
    assert angry.sentiment == "negative" and thanks.sentiment == "positive" and love.sentiment == "positive"
    assert model.classify([]) == []


def test_batches_give_the_same_scores_as_single_posts(model):
    texts = ["love the new seats", "flight delayed 3 hours, no info at all", "ok"]
    together = model.classify(texts)
    alone = [model.classify([t])[0] for t in texts]
    for a, b in zip(together, alone, strict=True):
        assert a.sentiment == b.sentiment and a.p_negative == pytest.approx(b.p_negative, abs=0.02)


def test_bf16_and_fp32_agree_and_auto_follows_the_cpu(data_dir):
    """bf16 is the default only where the CPU multiplies it natively; it must score like fp32."""
    from classifiers.minilm import MiniLMClassifier, native_bf16, resolve_precision

    assert resolve_precision("auto") == (torch.bfloat16 if native_bf16() else torch.float32)
    assert resolve_precision("fp32") == torch.float32
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("fp8")  # type: ignore[arg-type]
    texts = reporting_sets(data_dir)["airline_test"].texts[:300]
    fp32 = MiniLMClassifier(precision="fp32", detect_language=False).run(texts)
    bf16 = MiniLMClassifier(precision="bf16", detect_language=False).run(texts)
    agree = (fp32.sentiment.argmax(1) == bf16.sentiment.argmax(1)).mean()
    assert agree >= 0.98 and np.abs(fp32.sentiment - bf16.sentiment).max() < 0.05
    cosine = (fp32.embedding * bf16.embedding).sum(1) / (
        np.linalg.norm(fp32.embedding, axis=1) * np.linalg.norm(bf16.embedding, axis=1)
    )
    assert cosine.min() > 0.99


def test_classify_file_writes_every_row(model, tmp_path, monkeypatch):
    monkeypatch.setattr(classify_cmd, "_load", lambda name: model)
    source = tmp_path / "in.csv"
    rows = [
        {"id": str(i), "body": text}
        for i, text in enumerate(["great crew!", "", "¿Dónde está mi maleta?", 'x,"y"\nz'] * 150)
    ]
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "body"])
        writer.writeheader()
        writer.writerows(rows)
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(
        classify_cmd.classify_file_command, [str(source), "--text-column", "body", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    with out.open(newline="", encoding="utf-8") as handle:
        written = list(csv.DictReader(handle))
    assert len(written) == 600 and [r["id"] for r in written] == [r["id"] for r in rows]
    assert list(written[0]) == ["id", "body", *classify_cmd.OUTPUT_COLUMNS]
    assert written[0]["sentiment"] == "positive" and written[2]["language"] == "es"
    assert written[1]["sentiment"] and written[1]["language"] == ""
    assert all(0 <= int(r["priority"]) <= 100 for r in written)
    assert written[3]["body"] == 'x,"y"\nz'
    probs = np.array([[float(r["p_negative"]), float(r["p_neutral"]), float(r["p_positive"])] for r in written])
    assert np.allclose(probs.sum(1), 1.0, atol=2e-3)


def test_commands_fail_with_one_clear_line_when_inputs_are_missing(tmp_path):
    runner = CliRunner()
    missing = tmp_path / "nowhere"
    for command, args in (
        (classify_cmd.eval_command, ["--data-dir", str(missing)]),
        (classify_cmd.train_command, ["--data-dir", str(missing)]),
        (classify_cmd.classify_file_command, [str(missing / "in.csv"), "--output", str(tmp_path / "o.csv")]),
    ):
        result = runner.invoke(command, args)
        assert result.exit_code != 0
        assert str(missing) in result.output and len(result.output.strip().splitlines()) == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(classify_cmd.eval_command, ["--data-dir", str(empty)])
    assert result.exit_code != 0 and "airline_tweets.csv" in result.output


def test_urgency_corrections_refit_the_head_and_are_judged_on_their_held_out_part(data_dir, tmp_path):
    """Urgency-only feedback: no sentiment fine-tune, the head is refitted with the corrections."""
    import shutil

    from classifiers.feedback import retrain_from_feedback
    from classifiers.urgency_model import UrgencyHead

    for weights in (SENTIMENT_WEIGHTS, URGENCY_WEIGHTS):
        shutil.copy(weights, tmp_path / weights.name)
    phrases = [
        ("my card was charged twice and the app will not let me cancel", "high"),
        ("someone logged into my account from another country", "critical"),
        ("nice video, thanks for sharing", "low"),
        ("can you tell me when the store opens tomorrow?", "normal"),
    ]
    rows = [(f"m{i}-{j}", f"{text} #{i}", label) for i in range(12) for j, (text, label) in enumerate(phrases)]
    feedback = tmp_path / "corrections.csv"
    with feedback.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["mention_id", "text", "sentiment", "urgency"])
        writer.writerows((ident, text, "", label) for ident, text, label in rows)
    before_sentiment = (tmp_path / SENTIMENT_WEIGHTS.name).read_bytes()
    outcome = retrain_from_feedback(data_dir, feedback, tmp_path)
    assert set(outcome.before) == {"urgency_seed_heldout", "feedback_urgency_heldout"}  # no sentiment rows
    assert set(outcome.after) == set(outcome.before)
    head_file = tmp_path / ("urgency-head.safetensors" if outcome.promoted else "urgency-head.candidate.safetensors")
    trained = int(UrgencyHead.load(head_file).meta["feedback_rows"])
    held = len(rows) - trained
    assert 0 < held < len(rows) and trained > held
    assert outcome.after["feedback_urgency_heldout"]["urgent_recall"] >= 0.0
    assert (tmp_path / SENTIMENT_WEIGHTS.name).read_bytes() == before_sentiment  # the network is untouched
