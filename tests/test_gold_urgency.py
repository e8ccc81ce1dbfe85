"""The gold urgency set's draw and the ranking figures the gold report gives."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from classifiers import datasets
from classifiers.evaluation import top_share, urgent_precision
from classifiers.gold_urgency import PLAN, draw, held_out


def test_the_draw_is_fixed_and_never_touches_a_reporting_split(data_dir: Path) -> None:
    first, again = draw(data_dir), draw(data_dir)
    assert first == again and len(first) == sum(sum(p.values()) for p in PLAN.values())
    airline_test = {r["tweet_id"] for r in datasets.airline_rows(data_dir) if r["split"] == "test"}
    assert not [c for c in first if c.source == "airline" and c.id in airline_test]
    tweeteval = [c for c in first if c.source in ("emotion", "offensive")]
    assert tweeteval and all(c.id.split(":")[0] in ("train", "val") for c in tweeteval)  # never a test split
    assert {c.source for c in first} == set(PLAN) and "sentiment" not in {c.source for c in first}
    texts = Counter(" ".join(c.text.lower().split()) for c in first)
    assert texts.most_common(1)[0][1] == 1  # each post read once
    share = sum(held_out(c.source, c.id) for c in first) / len(first)
    assert 0.21 < share < 0.29


def test_ranking_share_and_precision_count_what_they_say() -> None:
    targets = [0, 1, 2, 3, 3, 2, 3, 3, 2, 3]  # two urgent posts among ten
    assert top_share(targets, [9, 8, 1, 1, 1, 1, 1, 1, 1, 1]) == 1.0  # both in the top 2
    assert top_share(targets, [1, 9, 8, 1, 1, 1, 1, 1, 1, 1]) == 0.5
    assert top_share(targets, [0, 0, 9, 9, 1, 1, 1, 1, 1, 1]) == 0.0
    assert urgent_precision(targets, [0, 3, 1, 3, 3, 3, 3, 3, 3, 3]) == pytest.approx(0.5)
    assert urgent_precision(targets, [3] * 10) == 0.0


def test_the_gold_file_is_consistent_and_its_agreement_is_what_the_docs_say() -> None:
    """Label = the shared reading, else the third one; κ recomputed from the file (docs/urgency-gold.md)."""
    import csv

    from sklearn.metrics import cohen_kappa_score

    from classifiers.gold_urgency import GOLD_COLUMNS, GOLD_FILE, LEVELS

    with GOLD_FILE.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2045 and tuple(rows[0]) == GOLD_COLUMNS
    assert "text" not in rows[0]  # ids only: the texts stay in ../shared/data
    for r in rows:
        assert {r["reader_a"], r["reader_b"], r["label"]} <= set(LEVELS)
        expected = r["reader_a"] if r["reader_a"] == r["reader_b"] else r["adjudicated"]
        assert r["label"] == expected, r
        assert r["split"] == ("holdout" if held_out(r["source"], r["id"]) else "dev")
    kappa = cohen_kappa_score([r["reader_a"] for r in rows], [r["reader_b"] for r in rows])
    assert round(kappa, 3) == 0.938
    assert Counter(r["label"] for r in rows) == {"low": 934, "normal": 686, "high": 378, "critical": 47}


def test_eval_prints_every_set_in_one_table() -> None:
    from rich.console import Console

    from classifiers.base import SENTIMENTS, URGENCIES
    from classifiers.evaluation import EvalResult
    from classifiers.metrics import evaluate
    from console.commands.classify import summary_table

    results = [
        EvalResult("airline_test", evaluate([0, 1, 2, 2], [0, 1, 2, 1], SENTIMENTS), {}),
        EvalResult(
            "urgency_gold_holdout",
            evaluate([0, 1, 2, 3], [0, 2, 2, 3], URGENCIES),
            {"critical_high_recall": 0.5, "critical_high_precision": 1.0, "top20_critical_high_share": 0.25},
        ),
    ]
    console = Console(width=200, record=True)
    console.print(summary_table(results))
    lines = console.export_text().splitlines()
    airline = next(line for line in lines if "airline_test" in line)
    gold = next(line for line in lines if "urgency_gold_holdout" in line)
    assert "—" in airline and "0.500" in gold and "1.000" in gold and "0.250" in gold
    assert gold.count("—") == 2  # no probabilities (ECE) and no critical recall were given
