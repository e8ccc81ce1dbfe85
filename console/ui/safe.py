"""Mention text is untrusted: render it as text, never as markdown or HTML."""

from __future__ import annotations

import html
import re

_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<$:])")


def escape_markdown(text: str) -> str:
    """Backslash-escape markdown syntax and HTML-escape angle brackets and ampersands.

    Streamlit never renders raw HTML without ``unsafe_allow_html``, but it does render markdown
    links, images and emphasis: a post must not be able to draw a link or a fake button.
    """
    escaped = html.escape(text, quote=False)
    escaped = _MARKDOWN_SPECIALS.sub(r"\\\1", escaped)
    return escaped.replace("\n", "  \n")


def excerpt(text: str, limit: int = 140) -> str:
    """A one-line excerpt for tables (tables render text as plain text already)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
