"""The classifier contract shared by the worker, the console and the CLI."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, runtime_checkable

SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")
URGENCIES: tuple[str, ...] = ("critical", "high", "normal", "low")


class Signal(NamedTuple):
    """One reason behind a score: a short name, its contribution and a sentence for agents."""

    name: str
    contribution: float
    reason: str


@dataclass(frozen=True)
class Scores:
    """Everything the classifier says about one post.

    Probabilities are calibrated (temperature-scaled) and sum to one. ``urgency_score`` is the text
    urgency in [0, 1]; ``signals`` explain it, largest contribution first.
    """

    sentiment: str
    p_negative: float
    p_neutral: float
    p_positive: float
    urgency: str
    urgency_score: float
    topics: list[str] = field(default_factory=list)
    language: str | None = None
    signals: list[Signal] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.sentiment not in SENTIMENTS:
            raise ValueError(f"sentiment must be one of {SENTIMENTS}, got {self.sentiment!r}")
        if self.urgency not in URGENCIES:
            raise ValueError(f"urgency must be one of {URGENCIES}, got {self.urgency!r}")
        if not 0.0 <= self.urgency_score <= 1.0:
            raise ValueError(f"urgency_score must be within [0, 1], got {self.urgency_score}")

    @property
    def confidence(self) -> float:
        """Probability of the chosen sentiment."""
        return max(self.p_negative, self.p_neutral, self.p_positive)


@runtime_checkable
class Classifier(Protocol):
    """Batch in, batch out: one Scores per input text, in order."""

    name: str
    version: str

    def classify(self, texts: Sequence[str]) -> list[Scores]:
        """Score every text; empty or non-English texts still get a row."""
        ...
