"""Language tags with lingua (a maintained, offline detector).

The detector is limited to the languages customer-care teams commonly meet, which keeps it fast and
its memory small, and it abstains (None) when a post is too short or ambiguous to call.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

DEFAULT_LANGUAGES: tuple[str, ...] = (
    "ENGLISH",
    "SPANISH",
    "FRENCH",
    "GERMAN",
    "PORTUGUESE",
    "ITALIAN",
    "DUTCH",
    "SWEDISH",
    "POLISH",
    "TURKISH",
    "RUSSIAN",
    "ARABIC",
    "HINDI",
    "INDONESIAN",
    "JAPANESE",
    "KOREAN",
    "CHINESE",
)
_NOISE = re.compile(r"(https?://\S+|www\.\S+|[@#]\w+|\d+)")
MIN_LETTERS = 3


@lru_cache(maxsize=4)
def detector(languages: tuple[str, ...] = DEFAULT_LANGUAGES, min_distance: float = 0.1) -> LanguageDetector:
    """A cached lingua detector for the named languages (lingua ``Language`` member names)."""
    members = [getattr(Language, name.upper()) for name in languages]
    return LanguageDetectorBuilder.from_languages(*members).with_minimum_relative_distance(min_distance).build()


def _clean(text: str | None) -> str:
    return _NOISE.sub(" ", text or "").strip()


def detect_languages(texts: Sequence[str | None], languages: tuple[str, ...] = DEFAULT_LANGUAGES) -> list[str | None]:
    """ISO 639-1 code per text, or None when there is too little text or the call is ambiguous."""
    cleaned = [_clean(t) for t in texts]
    wanted = [i for i, t in enumerate(cleaned) if sum(ch.isalpha() for ch in t) >= MIN_LETTERS]
    found = detector(languages).detect_languages_in_parallel_of([cleaned[i] for i in wanted])
    result: list[str | None] = [None] * len(texts)
    for index, language in zip(wanted, found, strict=True):
        result[index] = language.iso_code_639_1.name.lower() if language is not None else None
    return result
