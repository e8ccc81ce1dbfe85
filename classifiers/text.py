"""Tweet preprocessing shared by training and inference.

Handles and links carry no sentiment but many distinct tokens, so they are masked the way the
TweetEval models do (``@user``, ``http``). Emoji carry strong sentiment, but the MiniLM vocabulary
maps most of them to ``[UNK]``; they are spelled out with their Unicode names so the signal survives.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_HANDLE = re.compile(r"(?<![\w@])@\w{1,50}")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
_SKIN_TONE = range(0x1F3FB, 0x1F400)
_JOINERS = {"\u200d", "\ufe0f", "\ufe0e"}


@lru_cache(maxsize=4096)
def _emoji_word(char: str) -> str | None:
    """Return the spelled-out name of an emoji-like symbol, or None for ordinary characters."""
    code = ord(char)
    if char in _JOINERS or code in _SKIN_TONE:
        return ""
    if code < 0x2100 or unicodedata.category(char) != "So":
        return None
    name = unicodedata.name(char, "")
    return f" {name.lower()} " if name else ""


def spell_emoji(text: str) -> str:
    """Replace emoji with their lower-case Unicode names, keeping every other character."""
    if text.isascii():
        return text
    parts: list[str] = []
    for char in text:
        word = _emoji_word(char)
        parts.append(char if word is None else word)
    return "".join(parts)


def preprocess(text: str | None, *, spell: bool = True) -> str:
    """Normalise one post: mask handles and links, spell emoji (unless ``spell=False``), squeeze spaces."""
    if not text:
        return ""
    text = _URL.sub("http", text)
    text = _HANDLE.sub("@user", text)
    text = text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    return _SPACES.sub(" ", spell_emoji(text) if spell else text).strip()
