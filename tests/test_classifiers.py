"""Fast tests of the classifier package: contract, preprocessing, metrics, priority, rubric,
topics, language, the Hugging Face path (tiny random model) and the feedback file format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from classifiers import Classifier, Scores, Signal, load_classifier
from classifiers.feedback import FeedbackError, read_feedback
from classifiers.hf import HFClassifier, map_labels
from classifiers.language import detect_languages
from classifiers.metrics import evaluate, expected_calibration_error
from classifiers.priority import KeywordRule, PriorityInputs, priority
from classifiers.rubric import matching_cues
from classifiers.text import preprocess
from classifiers.topics import TopicTagger

# --- contract -----------------------------------------------------------------------------------


def test_scores_rejects_unknown_labels_and_out_of_range_scores():
    with pytest.raises(ValueError, match="sentiment"):
        Scores("angry", 1, 0, 0, "low", 0.1)
    with pytest.raises(ValueError, match="urgency"):
        Scores("negative", 1, 0, 0, "urgent", 0.1)
    with pytest.raises(ValueError, match="urgency_score"):
        Scores("negative", 1, 0, 0, "low", 1.5)
    s = Scores("negative", 0.7, 0.2, 0.1, "high", 0.6, signals=[Signal("x", 0.1, "why")])
    assert s.confidence == 0.7 and s.signals[0].reason == "why"


# --- preprocessing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("@united lost my bag https://t.co/abc", "@user lost my bag http"),
        ("mail me at a@b.com", "mail me at a@b.com"),
        ("great 😍😍", "great smiling face with heart-shaped eyes smiling face with heart-shaped eyes"),
        ("ok 👍🏽", "ok thumbs up sign"),
        ("Q&amp;A   www.x.org", "Q&A http"),
        ("", ""),
        (None, ""),
    ],
)
def test_preprocess_masks_handles_and_links_and_keeps_emoji(raw, expected):
    assert preprocess(raw) == expected


def test_preprocess_can_keep_emoji_characters_for_models_that_know_them():
    assert preprocess("@a nice 😍", spell=False) == "@user nice 😍"


# --- metrics ------------------------------------------------------------------------------------


def test_metrics_match_hand_computed_values():
    labels = ("negative", "neutral", "positive")
    report = evaluate([0, 0, 1, 2], [0, 1, 1, 0], labels)
    assert report.confusion == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]
    assert report.per_class["negative"]["f1"] == pytest.approx(0.5)
    assert report.per_class["neutral"]["f1"] == pytest.approx(2 / 3, abs=1e-4)
    assert report.macro_recall == pytest.approx((0.5 + 1 + 0) / 3)
    assert report.accuracy == 0.5


def test_ece_is_zero_when_confidence_matches_accuracy_and_large_when_overconfident():
    probs = np.array([[0.5, 0.5], [0.5, 0.5]])
    assert expected_calibration_error(probs, np.array([0, 1])) == pytest.approx(0.0)
    overconfident = np.array([[0.99, 0.01]] * 4)
    assert expected_calibration_error(overconfident, np.array([1, 1, 1, 0])) == pytest.approx(0.74)


# --- rubric and priority ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("Your burrito gave me food poisoning", "safety_health"),
        ("my account was hacked last night", "security_fraud"),
        ("I will talk to my lawyer", "legal_threat"),
        ("stranded at ORD with no hotel", "blocked_now"),
        ("on hold for 2 hours again", "repeat_contact"),
    ],
)
def test_rubric_cues_find_the_documented_situations(text, cue):
    assert matching_cues(text)[0][0].name == cue


def test_rubric_cues_need_whole_words():
    assert matching_cues("amazing hospitality from the crew") == []


def test_priority_combines_signals_and_explains_the_top_ones():
    calm = priority(PriorityInputs("thanks!", 0.05))
    hot = priority(
        PriorityInputs(
            "I got food poisoning, calling my lawyer",
            0.9,
            [Signal("rubric:safety_health", 0.5, "reports a safety or health risk")],
            followers=250_000,
            verified=True,
            engagement_per_hour=300,
            minutes_waiting=90,
            sla_minutes=60,
            repeat_contacts_24h=2,
        )
    )
    assert calm.score < 10 <= 90 <= hot.score <= 100
    names = [s.name for s in hot.signals]
    assert names[0] == "text_urgency" and len(names) == 3
    assert "reports a safety or health risk" in hot.why
    assert all(s.contribution >= hot.signals[-1].contribution for s in hot.signals)


def test_priority_sla_and_repeat_contacts_raise_the_score_monotonically():
    base = PriorityInputs("where is my refund", 0.35, sla_minutes=60)
    scores = [
        priority(PriorityInputs(base.text, 0.35, minutes_waiting=m, sla_minutes=60)).score for m in (0, 30, 60, 120)
    ]
    assert scores == sorted(scores) and scores[0] < scores[2] == scores[3]
    repeat = priority(PriorityInputs(base.text, 0.35, repeat_contacts_24h=3))
    assert any("3 earlier contact" in s.reason for s in repeat.signals)


def test_custom_keyword_rules_match_phrases_and_are_validated():
    rules = [KeywordRule("recall notice", 30, "product recall")]
    result = priority(PriorityInputs("Got a RECALL   notice today", 0.2), rules=rules)
    assert result.signals[0].name == "keyword:recall notice" and result.signals[0].contribution == 25.0
    assert priority(PriorityInputs("recalled", 0.2), rules=rules).score == 11
    with pytest.raises(ValueError, match="points"):
        KeywordRule("x", 500)


# --- topics and language ------------------------------------------------------------------------


def test_topic_tagger_picks_nearest_prototypes_above_threshold():
    vectors = {"bag": [1.0, 0.0, 0.0], "bill": [0.0, 1.0, 0.0]}

    def embed(texts):
        return np.array([vectors.get(t.split()[0], [0.0, 0.0, 1.0]) for t in texts])

    tagger = TopicTagger.from_examples({"luggage": ["bag lost"], "billing": ["bill wrong"]}, embed, 0.5)
    assert tagger.tag(np.array([[0.9, 0.1, 0.0], [0.0, 0.0, 1.0], [0.6, 0.6, 0.0]])) == [
        ["luggage"],
        [],
        ["luggage", "billing"],
    ]
    with pytest.raises(ValueError):
        TopicTagger.from_examples({"empty": []}, embed)


def test_language_detection_abstains_on_short_or_empty_text():
    found = detect_languages(
        ["@united you lost my bag again today", "gracias por nada, mi vuelo fue cancelado", "", None, "ok 👍"]
    )
    assert found == ["en", "es", None, None, None]


# --- Hugging Face path --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A randomly initialised BERT sequence classifier with its own tokenizer, saved to a temp dir."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-sentiment")
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "@", "user", "bag", "lost", "great", "http", "my"]
    (folder / "vocab.txt").write_text("\n".join(words) + "\n")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(words),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        num_labels=3,
        id2label={0: "Negative", 1: "Neutral", 2: "Positive"},
        label2id={"Negative": 0, "Neutral": 1, "Positive": 2},
    )
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    return folder


def test_load_classifier_accepts_a_local_sequence_classification_model(tiny_model_dir):
    classifier = load_classifier(str(tiny_model_dir))
    assert isinstance(classifier, HFClassifier) and isinstance(classifier, Classifier)
    assert classifier.labels == ["negative", "neutral", "positive"]
    scores = classifier.classify(["@x lost my bag", "", "great great", "hacked account, call my lawyer"])
    assert len(scores) == 4
    for s in scores:
        assert s.p_negative + s.p_neutral + s.p_positive == pytest.approx(1.0, abs=1e-5)
        assert (
            s.sentiment
            == ("negative", "neutral", "positive")[int(np.argmax([s.p_negative, s.p_neutral, s.p_positive]))]
        )
    assert scores[3].urgency == "critical" and scores[3].signals[0].name.startswith("rubric:")
    assert classifier.version == load_classifier(str(tiny_model_dir)).version
    assert classifier.classify([]) == []


def test_label_mapping_handles_common_conventions_and_rejects_unknown_labels():
    assert map_labels({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}) == ["negative", "neutral", "positive"]
    assert map_labels({0: "NEG", 1: "POS"}) == ["negative", "positive"]
    assert map_labels({i: f"{i + 1} stars" for i in range(5)}) == [
        "negative",
        "negative",
        "neutral",
        "positive",
        "positive",
    ]
    assert map_labels({0: "bad", 1: "good"}, {"bad": "negative", "good": "positive"}) == ["negative", "positive"]
    with pytest.raises(ValueError, match="label_map"):
        map_labels({0: "joy", 1: "anger", 2: "fear", 3: "x"})


def test_unknown_model_path_fails_clearly(tmp_path):
    with pytest.raises(OSError):
        load_classifier(str(tmp_path / "nope"))


# --- feedback file format -----------------------------------------------------------------------


def test_feedback_reader_accepts_csv_and_jsonl_and_reports_bad_rows(tmp_path):
    csv_file = tmp_path / "fb.csv"
    csv_file.write_text(
        "mention_id,text,sentiment,urgency\n"
        "1,lost my bag,negative,high\n"
        "2,,negative,\n"
        "3,thanks,happy,\n"
        "1,lost my bag again,negative,critical\n"
        "4,where is it,,normal\n"
    )
    rows, problems = read_feedback(csv_file)
    assert [(r.mention_id, r.urgency) for r in rows] == [("1", "critical"), ("4", "normal")]
    assert problems == ["line 3: empty text", "line 4: sentiment 'happy' is not one of negative, neutral, positive"]
    jsonl = tmp_path / "fb.jsonl"
    jsonl.write_text(json.dumps({"mention_id": "9", "text": "ok", "sentiment": "Neutral"}) + "\n{oops\n")
    rows, problems = read_feedback(jsonl)
    assert rows[0].sentiment == "neutral" and problems[0].startswith("line 2: invalid JSON")
    with pytest.raises(FeedbackError, match="not found"):
        read_feedback(tmp_path / "missing.csv")


# --- calibration --------------------------------------------------------------------------------


def test_bias_search_helps_the_minority_class_without_hurting_either_dev_set():
    from classifiers.calibration import _scores, fit_bias

    rng = np.random.default_rng(0)
    targets = {"airline_dev": rng.integers(0, 3, 300).tolist(), "tweeteval_tune": rng.integers(0, 3, 200).tolist()}
    logits = {}
    for name, y in targets.items():
        base = np.eye(3)[y] * 2.0 + rng.normal(0, 1.0, (len(y), 3))
        base[:, 1] -= 1.0  # the model under-predicts neutral
        logits[name] = base
    bias, score = fit_bias(logits, targets)
    before = _scores(logits, targets, np.zeros(3))
    after = _scores(logits, targets, bias)
    assert bias[1] > 0 and score == pytest.approx(sum(after)) and sum(after) > sum(before)
    assert after[0] >= before[0] and after[1] >= before[1]


def test_urgency_head_round_trips_fortran_ordered_weights(tmp_path):
    """sklearn can hand back a Fortran-ordered coef_; the saved head must still score the same."""
    from classifiers.urgency_model import UrgencyHead

    rng = np.random.default_rng(3)
    coef = np.asfortranarray(rng.normal(size=(4, 7)).astype(np.float32))
    head = UrgencyHead(np.zeros(7, np.float32), np.ones(7, np.float32), coef, np.zeros(4, np.float32), {"x": 1})
    head.save(tmp_path / "head.safetensors")
    loaded = UrgencyHead.load(tmp_path / "head.safetensors")
    features = rng.normal(size=(5, 7))
    assert np.array_equal(loaded.coef, coef) and loaded.meta == {"x": 1}
    assert np.allclose(loaded.probabilities(features), head.probabilities(features))
