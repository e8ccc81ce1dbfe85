"""Text clean-up shared by every connector: make untrusted platform text storable, keep what people wrote."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Final

_CONTROL_CHARS: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LONE_SURROGATE: Final = re.compile(r"[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Lone surrogates become U+FFFD and control characters other than tab/newline go (databases reject them).

    Emoji, combining marks and right-to-left text are kept as they are.
    """
    return _CONTROL_CHARS.sub("", _LONE_SURROGATE.sub("\ufffd", text))


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, _attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(content: str) -> str:
    """Mastodon and feeds send HTML; keep its text and line breaks, drop the markup (never render it)."""
    parser = _TextExtractor()
    parser.feed(content)
    parser.close()
    return "".join(parser.parts).strip()
