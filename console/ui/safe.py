"""Mention data is untrusted: every string that comes from a post reaches the page through this module.

A handle, display name, platform, brand, URL, topic or post text is shown as text and only as text:

- **Markdown places** (``st.title``/``header``/``subheader``/``caption``/``markdown``/``write``/``info``/
  ``warning``/``error``/``success``/``toast``, widget and button labels, radio options, tabs, expander and
  metric labels): :func:`md` for one line, :func:`escape_markdown` for several.  Markdown syntax is escaped,
  and Streamlit's GFM *autolink literals* (``https://…``, ``www.…``, ``a@b.example``) are broken with a word
  joiner (U+2060): the autolinker runs on the parsed text, after backslash escapes and character references
  are decoded, so escaping ``:`` or ``.`` does not stop it (checked in chromium).
- **Plain-text places** (``st.text``, ``st.code``, dataframe cells, selectbox/multiselect options):
  :func:`plain` for one line, :func:`visible` for several, :func:`plain_frame` for a table.
- **Bodies** (a post, a note): :func:`show_text` shows the first :data:`SHOWN_CHARS` characters and a
  "Show all" toggle that pages through the rest, so a huge post never freezes the page.
- **Links** the console makes from mention data: :func:`http_url` accepts http(s) only, and
  :func:`link_button` labels the button with the host it goes to.

Everywhere, invisible and direction-changing characters (bidi overrides and isolates, zero-width spaces and
joiners, BOM, other format controls, C0/C1 controls) are shown as ``⟨U+202E⟩`` rather than obeyed: a handle
with a zero-width space and a right-to-left override reads ``ad⟨U+200B⟩min⟨U+202E⟩``, never "admin".  Only what
is rendered changes: stored text keeps the original.
"""

from __future__ import annotations

import html
import re
import unicodedata
from urllib.parse import urlsplit

import pandas as pd
import streamlit as st

SHOWN_CHARS = 2_000
"""A body longer than this shows its first characters and a "Show all" toggle."""
PART_CHARS = 250_000
""""Show all" renders at most this many characters per run (one ``st.text``: well under a second)."""
WORD_JOINER = "\u2060"
"""Breaks an autolink literal without a visible change (it also keeps the line from breaking there)."""

_MARKED_RANGES = [
    (0x00, 0x08),  # C0 controls, except tab (09) and line feed (0A)
    (0x0B, 0x1F),
    (0x7F, 0x9F),  # DEL and C1 controls
    (0xAD, 0xAD),  # soft hyphen
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x061C, 0x061C),  # Arabic letter mark
    (0x115F, 0x1160),  # Hangul fillers: blank, but letters to a parser
    (0x17B4, 0x17B5),  # Khmer inherent vowels (invisible)
    (0x180B, 0x180F),  # Mongolian free variation selectors and vowel separator
    (0x200B, 0x200F),  # zero-width space, non-joiner, joiner; LRM, RLM
    (0x2028, 0x202E),  # line/paragraph separators; bidi embeddings and overrides
    (0x2060, 0x206F),  # word joiner, invisible operators, bidi isolates, deprecated format controls
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0E),  # variation selectors 1-15 (VS16, U+FE0F, asks for emoji presentation and stays)
    (0xFEFF, 0xFEFF),  # BOM / zero-width no-break space
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xFFF9, 0xFFFB),  # interlinear annotation
    (0x13430, 0x1343F),  # Egyptian hieroglyph format controls
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical format controls
    (0xE0000, 0xE0FFF),  # tags (ASCII smuggling) and variation selectors supplement
]
"""Characters shown as ``⟨U+XXXX⟩``.  Every format character (category Cf) is here except the prepended
concatenation marks (Arabic number signs and the like), which draw a visible sign; a test keeps it so."""
_MARKED = re.compile(
    "[" + "".join(f"\\U{a:08x}-\\U{b:08x}" if a != b else f"\\U{a:08x}" for a, b in _MARKED_RANGES) + "]"
)
_ZWJ = "\u200d"
_SCHEME = re.compile(r"(?i)(https?|ftp|mailto|xmpp)(?=:)")
_WWW = re.compile(r"(?i)(www)(?=\.)")
_EMAIL_AT = re.compile(r"(?<=[\w.+-])@(?=[\w-])")
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<$:=^\"'])")
_INDENT = re.compile(r"(?m)^[ \t]+")
_SPACES = re.compile(r"\s+")


def _emoji_side(char: str) -> bool:
    """Part of an emoji sequence: a pictograph, a skin tone, or the emoji variation selector."""
    return unicodedata.category(char) == "So" or char == "\ufe0f" or 0x1F3FB <= ord(char) <= 0x1F3FF


def _mark(match: re.Match[str]) -> str:
    char = match.group()
    text, at = match.string, match.start()
    if char == _ZWJ and 0 < at < len(text) - 1 and _emoji_side(text[at - 1]) and _emoji_side(text[at + 1]):
        return char  # 👩‍💻: a joiner inside an emoji sequence draws one emoji, it hides nothing
    return f"⟨U+{ord(char):04X}⟩"


def visible(text: str) -> str:
    """``text`` with every invisible or direction-changing character shown as ``⟨U+XXXX⟩``; newlines kept."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _MARKED.sub(_mark, text)


def plain(text: str | None, limit: int | None = None) -> str:
    """One line of plain text (runs of whitespace become one space), cut to ``limit`` characters with ``…``.

    Fast on any length: only the first few ``limit`` characters are looked at.
    """
    if not text:
        return ""
    if limit is not None:
        text = text[: limit * 4 + 16]  # enough to fill ``limit`` after whitespace collapses
    flat = _SPACES.sub(" ", text).strip()
    if limit is not None and len(flat) > limit:
        flat = flat[: max(limit - 1, 0)] + "…"
    return visible(flat)


def excerpt(text: str, limit: int = 140) -> str:
    """A one-line plain-text excerpt for tables and options (they render text as text already)."""
    return plain(text, limit)


def _no_autolinks(text: str) -> str:
    """Put a word joiner where GFM's autolinker would start a link: ``https:``, ``www.``, ``name@host``."""
    text = _SCHEME.sub(r"\1" + WORD_JOINER, text)
    text = _WWW.sub(r"\1" + WORD_JOINER, text)
    return _EMAIL_AT.sub("@" + WORD_JOINER, text)


def _escape(text: str) -> str:
    """Markdown-safe: HTML-escaped, every ASCII punctuation mark that means syntax backslash-escaped."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", html.escape(_no_autolinks(text), quote=False))


def escape_markdown(text: str | None, limit: int | None = None) -> str:
    """Several lines of untrusted text for a markdown place: visible controls, no syntax, no links.

    ``limit`` cuts the text first (with ``…``).  Streamlit never renders raw HTML without
    ``unsafe_allow_html``, but it renders links, images, emphasis, colours and icons: a post must draw none.
    """
    if not text:
        return ""
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)] + "…"
    return _escape(_INDENT.sub("", visible(text))).replace("\n", "  \n")  # no indented code block


def md(text: str | None, limit: int | None = None) -> str:
    """One line of untrusted text for a markdown place (a title, caption, label, toast or option)."""
    return _escape(plain(text, limit))


def plain_frame(frame: pd.DataFrame, limit: int = SHOWN_CHARS) -> pd.DataFrame:
    """A table's text cells as one visible line each (the grid shows text as text, but obeys bidi controls)."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_object_dtype(out[column]) or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(lambda v: plain(v, limit) if isinstance(v, str) else v)
    return out


def show_text(text: str, *, key: str, limit: int = SHOWN_CHARS, part: int = PART_CHARS) -> None:
    """A post or note as plain text (no markdown at all); a long one is cut, with "Show all" below it.

    "Show all" pages through the full text ``part`` characters at a time, so even a 5 MB post stored before
    the ingest cap renders at once and never holds the page.
    """
    if len(text) <= limit:
        st.text(visible(text))
        return
    box = st.container()
    everything = st.toggle(f"Show all {len(text):,} characters", key=key)
    with box:
        if not everything:
            st.text(visible(text[:limit]) + "…")
            return
        parts = -(-len(text) // part)
        n = 0
        if parts > 1:
            n = st.selectbox(
                "Part",
                range(parts),
                key=f"{key}_part",
                format_func=lambda i: f"characters {i * part + 1:,}–{min(len(text), (i + 1) * part):,}",
            )
        st.text(visible(text[n * part : (n + 1) * part]))


def http_url(url: str | None) -> str | None:
    """``url`` when it is an absolute http(s) URL with a host and nothing odd in it, else None.

    ``javascript:``, ``data:``, markdown, whitespace or control characters, and ``user@host`` (which hides
    the real host behind a familiar name) never become a link.
    """
    if not url or len(url) > 2_048 or any(c.isspace() or unicodedata.category(c)[0] == "C" for c in url):
        return None
    if "\\" in url:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host or "@" in parts.netloc:
        return None
    return url


def url_host(url: str) -> str:
    """The host a valid :func:`http_url` goes to, as shown to staff (``x.com``)."""
    return urlsplit(url).hostname or ""


def link_button(url: str | None, *, what: str = "Open") -> None:
    """A button to the mention on its network, labelled with the host; an unsafe URL is shown as text only."""
    safe = http_url(url)
    if safe is None:
        if url:
            st.caption(f"Link not opened (not a plain web address): {md(url, 200)}")
        return
    st.link_button(f"{what} on {md(url_host(safe))}", safe, icon=":material/open_in_new:")
