"""Topic and intent tags from few-shot prototypes on the encoder's sentence embeddings.

Each tag is defined by a handful of example posts (in config, with defaults for customer care below).
A post's affinity to a tag is its highest cosine similarity to any of the tag's examples (nearest
example, which keeps diverse examples sharp instead of averaging them away); it gets every tag whose
affinity reaches the threshold, best first, at most ``max_tags``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_TOPICS: dict[str, list[str]] = {
    "complaint": [
        "this is the worst service I have ever had",
        "really disappointed, you ruined my trip",
        "terrible experience, nobody cares about customers",
        "I am so angry with how I was treated",
        "your staff was rude and unhelpful",
        "delayed again, this always happens with you",
    ],
    "question": [
        "how do I change my reservation?",
        "can you tell me when my order will arrive?",
        "is there a way to get a refund for this?",
        "what time does the store open?",
        "do you allow pets in the cabin?",
        "does this plan include international calls?",
    ],
    "praise": [
        "thank you so much, your team was amazing",
        "great service today, love you guys",
        "the crew was fantastic, best experience ever",
        "shout out to the agent who helped me",
        "thanks, problem solved!",
        "thank you!",
        "love it",
    ],
    "request": [
        "please send me a DM so we can sort this out",
        "can someone call me back please",
        "I need you to fix my booking",
        "please reinstate my account",
        "please rebook me on the next flight",
        "I need help, nobody is answering the phone",
    ],
    "outage": [
        "the app is down and nothing loads",
        "website not working again, error page",
        "no internet service in my area since this morning",
        "your system crashed and I cannot check in",
        "is the server down? nothing works",
    ],
    "billing": [
        "I was charged twice for the same order",
        "where is my refund, it has been weeks",
        "why did my bill go up this month",
        "unexpected fee on my credit card",
        "you charged me for a bag fee I already paid",
    ],
    "delivery_luggage": [
        "you lost my luggage and nobody knows where my bag is",
        "my package never arrived",
        "my suitcase came back damaged",
        "the delivery is late and tracking shows nothing",
        "my bag did not arrive at baggage claim",
        "still waiting for my order to be delivered",
    ],
    "account_security": [
        "my account was hacked and someone changed my password",
        "I am locked out of my account",
        "I got a phishing email pretending to be you",
        "there are charges I did not make on my account",
        "I can't log in, password reset email never comes",
    ],
    "spam": [
        "follow us for a chance to win a free iPhone giveaway",
        "click this link for cheap followers",
        "earn money from home fast, DM me",
        "best deals on sunglasses, 90% off today only",
        "check out my new music video, link in bio",
    ],
}
DEFAULT_THRESHOLD = 0.4

Embedder = Callable[[Sequence[str]], np.ndarray]


@dataclass
class TopicTagger:
    """Tags posts by cosine similarity to per-tag prototype embeddings."""

    names: list[str]
    prototypes: np.ndarray  # (examples, dim), unit rows
    owners: np.ndarray  # (examples,) index into ``names``
    threshold: float = DEFAULT_THRESHOLD
    max_tags: int = 2

    @classmethod
    def from_examples(
        cls, examples: Mapping[str, Sequence[str]], embed: Embedder, threshold: float = DEFAULT_THRESHOLD
    ) -> TopicTagger:
        """Embed every tag's examples with ``embed``."""
        if not examples or any(not texts for texts in examples.values()):
            raise ValueError("every topic needs at least one example text")
        names = list(examples)
        texts = [text for name in names for text in examples[name]]
        owners = np.array([i for i, name in enumerate(names) for _ in examples[name]])
        return cls(names, unit(np.asarray(embed(texts), dtype=np.float32)), owners, threshold)

    def affinities(self, embeddings: np.ndarray) -> np.ndarray:
        """(posts, tags) highest similarity to each tag's examples."""
        similarity = unit(embeddings) @ self.prototypes.T
        out = np.full((len(embeddings), len(self.names)), -1.0)
        for tag in range(len(self.names)):
            out[:, tag] = similarity[:, self.owners == tag].max(axis=1)
        return out

    def tag(self, embeddings: np.ndarray) -> list[list[str]]:
        """Tags per post (embeddings need not be normalised)."""
        similarity = self.affinities(embeddings)
        tags = []
        for row in similarity:
            best = [i for i in np.argsort(-row)[: self.max_tags] if row[i] >= self.threshold]
            tags.append([self.names[i] for i in best])
        return tags


def unit(matrix: np.ndarray) -> np.ndarray:
    """Scale rows to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)
