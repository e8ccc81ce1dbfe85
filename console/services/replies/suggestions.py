"""Suggested replies: approved (sent) past replies whose mentions were most like this one.

Similarity goes through a small :class:`Encoder` interface.  The console uses the classifier's
sentence embeddings (:class:`EmbeddingEncoder` over a :class:`MemoizedEmbedder`, so each past
mention is embedded once per server); TF-IDF (word and character n-grams) is the fallback when no
model can be loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion
from sqlalchemy import select
from sqlalchemy.orm import Session

from console.services.permissions import Actor, Permission, require
from storage.enums import ReplyState
from storage.models import Author, Mention, Reply

POOL_SIZE = 2_000
EMBEDDING_POOL_SIZE = 400
"""Past replies compared by embeddings: embedding them is the first look's slow part, so it is capped; later looks hit
the memo."""


class Encoder(Protocol):
    """Turns texts into vectors; row ``i`` of the result belongs to ``texts[i]``."""

    def encode(self, query: str, candidates: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Vectors for the query (1 x d) and the candidates (n x d)."""
        ...


class TfidfEncoder:
    """Word and character n-gram TF-IDF, fitted on the candidates at hand (no model to download)."""

    def encode(self, query: str, candidates: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Fit on candidates plus query, then transform both (sparse rows are densified per call)."""
        union = FeatureUnion(
            [
                ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
                ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)),
            ]
        )
        matrix = union.fit_transform([*candidates, query])
        return matrix[-1].toarray(), matrix[:-1].toarray()


class SupportsEmbed(Protocol):
    """Anything with ``embed(texts) -> array``, like the classifier's MiniLM encoder."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One vector per text."""
        ...


class EmbeddingEncoder:
    """Adapts a sentence encoder (``embed``) to :class:`Encoder`."""

    def __init__(self, model: SupportsEmbed) -> None:
        self.model = model

    def encode(self, query: str, candidates: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Embed the query and the candidates in one batch."""
        vectors = np.asarray(self.model.embed([query, *candidates]), dtype=np.float32)
        return vectors[:1], vectors[1:]


class MemoizedEmbedder:
    """Embeds each distinct text once; past mentions do not change, so their vectors are reused."""

    def __init__(self, model: SupportsEmbed, max_items: int = 20_000) -> None:
        self.model = model
        self.max_items = max_items
        self._memo: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for ``texts``, computing only the ones not seen before."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if missing:
            if len(self._memo) + len(missing) > self.max_items:
                self._memo.clear()
            for text, vector in zip(missing, np.asarray(self.model.embed(missing)), strict=True):
                self._memo[text] = vector
        return np.stack([self._memo[t] for t in texts]) if texts else np.zeros((0, 1), dtype=np.float32)


@dataclass(frozen=True)
class Suggestion:
    """A past reply worth re-using, with the mention it answered and how similar that was."""

    reply_text: str
    answered: str
    score: float
    reply_id: int
    customer_names: tuple[str, ...] = ()
    """The past customer's display name and handle, to be replaced by this customer's (see composer.personalise)."""


def cosine(query: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Cosine similarity of one vector against each row (zero rows score 0)."""
    norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(query) or 1.0)
    dots = matrix @ query.reshape(-1)
    return np.divide(dots, norms, out=np.zeros_like(dots, dtype=float), where=norms > 0)


def _pool(session: Session, mention: Mention, size: int) -> list[tuple[int, str, str, tuple[str, ...]]]:
    query = (
        select(Reply.id, Mention.text, Reply.text, Author.display_name, Author.handle)
        .join(Mention, Mention.id == Reply.mention_id)
        .outerjoin(Author, Author.id == Mention.author_id)
        .where(Reply.state == ReplyState.SENT, Reply.mention_id != mention.id)
        .order_by(Reply.sent_at.desc().nulls_last(), Reply.id.desc())
        .limit(size)
    )
    if mention.brand_id is not None:
        query = query.where(Mention.brand_id == mention.brand_id)
    return [
        (rid, asked, answer, tuple(n for n in (name, handle) if n))
        for rid, asked, answer, name, handle in session.execute(query)
    ]


def suggest_replies(
    session: Session,
    actor: Actor,
    mention: Mention,
    *,
    encoder: Encoder | None = None,
    k: int = 3,
    pool_size: int = POOL_SIZE,
) -> list[Suggestion]:
    """Up to ``k`` distinct past replies, best first, whose mentions were most similar to this one (for repliers)."""
    require(actor, Permission.REPLY)
    pool = _pool(session, mention, pool_size)
    if not pool or not mention.text.strip():
        return []
    query_vec, matrix = (encoder or TfidfEncoder()).encode(mention.text, [asked for _, asked, _, _ in pool])
    scores = cosine(query_vec, matrix)
    out: list[Suggestion] = []
    seen: set[str] = set()
    for i in np.argsort(-scores):
        reply_id, asked, answer, names = pool[int(i)]
        if scores[i] <= 0 or answer in seen:
            continue
        seen.add(answer)
        out.append(Suggestion(answer, asked, float(scores[i]), reply_id, names))
        if len(out) == k:
            break
    return out
