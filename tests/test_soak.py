"""The soak as a long test (``bench/soak.py``), and the classify race it found between two workers.

The soak test is skipped unless ``MENTIONDESK_SOAK=1``: it runs real workers, the real model and a throwaway
PostgreSQL cluster for a few minutes (``MENTIONDESK_SOAK_MINUTES``, default 2), so it is not part of
``make test``.  Run it with ``MENTIONDESK_SOAK=1 .venv/bin/pytest -m soak tests/test_soak.py``; ``make soak``
runs the full 15-minute bench.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Sequence

import pytest

from classifiers.base import Scores
from console.services.store import Store
from console.worker.classify_step import classify_new
from storage.ingest import ingest_batch
from tests.factories import make_batch


class SlowClassifier:
    """Takes a while per batch, as the real model does, and remembers every text it was given."""

    name = "test-slow"
    version = "1"

    def __init__(self) -> None:
        self.texts: list[str] = []

    def classify(self, texts: Sequence[str]) -> list[Scores]:
        time.sleep(0.2)
        self.texts += texts
        return [Scores("neutral", 0.2, 0.6, 0.2, "normal", 0.3, [], "en", []) for _ in texts]


@pytest.mark.pg
def test_two_workers_on_postgresql_classify_disjoint_batches(pg_store: Store) -> None:
    with pg_store.transaction() as session:
        ingest_batch(session, make_batch(48))
    models = [SlowClassifier(), SlowClassifier()]
    threads = [threading.Thread(target=classify_new, args=(pg_store, model, 8)) for model in models]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    scored = Counter(text for model in models for text in model.texts)
    assert len(scored) == 48 and max(scored.values()) == 1  # each mention went through the model once
    assert all(model.texts for model in models)  # and both workers took part


@pytest.mark.soak
@pytest.mark.timeout(1800)
@pytest.mark.skipif(not os.environ.get("MENTIONDESK_SOAK"), reason="a long test: set MENTIONDESK_SOAK=1 to run it")
def test_minutes_of_load_with_faults_lose_duplicate_and_double_post_nothing() -> None:
    from bench.soak import Options, report, run

    minutes = float(os.environ.get("MENTIONDESK_SOAK_MINUTES", "2"))
    options = Options(minutes, 1_000_000, 3, 2, 0.1, 7.0, 2026, None, None, keep=False, model_baseline=False)
    outcome = run(options)
    report(outcome)
    assert outcome.failures() == {}
    assert outcome.drained, "the backlog did not clear after the sources stopped"
    c = outcome.counts
    assert c.published >= 0.9 * minutes * 60 * 11.57 and c.stored == c.published and c.lost == 0
    assert outcome.soak_faults["kill_9"] == 1 and outcome.soak_faults["pg_restart"] == 1
    assert outcome.soak_faults["pg_terminate_backend"] > 0
    kinds = ("read_429", "read_5xx", "read_hang", "reply_429", "reply_5xx_before", "reply_5xx_after")
    assert all(outcome.source_faults[kind] > 0 for kind in kinds), outcome.source_faults
    assert outcome.malformed_served > 0 and outcome.hostile_served > 0 and c.unexpected == 0
    assert c.replies["sent"] >= 0.05 * c.published and c.double_posted == 0 and c.posted_not_recorded == 0
