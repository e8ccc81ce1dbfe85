"""The rendering helper for untrusted mention text (:mod:`console.ui.safe`), and the pages that use it.

The markdown checks decode what the helper produces the way Streamlit's markdown does (backslash escapes and
character references resolved) and then run GFM's autolink-literal patterns on the result, because that is
where a bare ``https://…`` becomes a link (the browser test checks the same in chromium).
"""

from __future__ import annotations

import html
import random
import re
import sys
import time
import unicodedata
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from console.ui.safe import (
    SHOWN_CHARS,
    WORD_JOINER,
    escape_markdown,
    excerpt,
    http_url,
    md,
    plain,
    plain_frame,
    url_host,
    visible,
)

BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f"]
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u061c"]
PREPENDED_MARKS = {0x600, 0x601, 0x602, 0x603, 0x604, 0x605, 0x6DD, 0x70F, 0x890, 0x891, 0x8E2, 0x110BD, 0x110CD}
"""Format characters that draw a visible sign (Arabic number signs and the like): shown as they are."""
URL_LITERAL = re.compile(r"(https?://|www(?=\.))([-.\w]+)([^ \t\r\n]*)", re.IGNORECASE)
EMAIL_LITERAL = re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)")
"""mdast-util-gfm-autolink-literal's patterns, run on the decoded text."""
HOSTILE = (
    "<script>alert(1)</script> [win](https://evil.example/p) ![i](https://evil.example/i.png) "
    "https://evil.example/x www.evil.example a@evil.example mailto:a@evil.example xmpp:a@evil.example "
    "**bold** _it_ `code` ~~s~~ :red[red] :material/home: $x^2$ <b>b</b> &amp; | a | b | [^1] # h"
)


def _decoded(markdown: str) -> str:
    """What markdown shows for ``markdown`` when no syntax applies: escapes and references resolved."""
    return html.unescape(re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown))


def test_bidi_and_zero_width_characters_are_shown_not_obeyed() -> None:
    assert visible("ad\u200bmin\u202e") == "ad⟨U+200B⟩min⟨U+202E⟩"
    for char in BIDI + ZERO_WIDTH:
        shown = visible(f"a{char}b")
        assert char not in shown and f"⟨U+{ord(char):04X}⟩" in shown
    assert visible("line one\n\tline two") == "line one\n\tline two"  # newlines and tabs are text
    assert visible("a\r\nb\rc") == "a\nb\nc"
    assert visible("\x00\x1b[31m\x7f\x85") == "⟨U+0000⟩⟨U+001B⟩[31m⟨U+007F⟩⟨U+0085⟩"


def test_every_invisible_format_character_is_shown() -> None:
    """Every format character (Cf) of this Python's Unicode is marked, except those that draw a sign."""
    missed = [
        f"U+{cp:04X}"
        for cp in range(sys.maxunicode + 1)
        if unicodedata.category(chr(cp)) == "Cf" and cp not in PREPENDED_MARKS and chr(cp) in visible(chr(cp))
    ]
    assert missed == []
    assert visible("\u3164\u115f\uffa0") == "⟨U+3164⟩⟨U+115F⟩⟨U+FFA0⟩"  # blank "letters" that pass for a name


def test_a_joiner_inside_an_emoji_stays_but_not_between_letters() -> None:
    assert visible("👩\u200d💻 and ❤\ufe0f\u200d🔥") == "👩\u200d💻 and ❤\ufe0f\u200d🔥"
    assert visible("a\u200db") == "a⟨U+200D⟩b"
    assert visible("\u200d👩") == "⟨U+200D⟩👩"


@pytest.mark.parametrize("render", [md, escape_markdown])
def test_markdown_output_draws_no_link_html_or_formatting(render: object) -> None:
    out = render(HOSTILE)  # type: ignore[operator]
    shown = _decoded(out).replace(WORD_JOINER, "")
    assert shown == HOSTILE  # it reads exactly as the post, once markdown has done with it
    decoded = _decoded(out)
    assert not URL_LITERAL.search(decoded) and not EMAIL_LITERAL.search(decoded)
    assert "<" not in out and "](" not in out and "**" not in out
    unescaped = re.sub(r"\\.", "", out)  # drop every escaped character: no syntax character may remain
    assert re.search(r"[\[\]()*_`~|$#:!<>]", unescaped) is None, unescaped


def test_escaping_is_lossless_for_any_text() -> None:
    """Random punctuation soup: what markdown shows is the visible text, nothing more, nothing less."""
    rng = random.Random(14)
    alphabet = "abc wx.:/@\\`*_{}[]()#+-.!|>~<$=^\"'&;%\n1 "
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert _decoded(md(text)).replace(WORD_JOINER, "") == plain(text)
        block = _decoded(escape_markdown(text)).replace(WORD_JOINER, "").replace("  \n", "\n")
        assert block == re.sub(r"(?m)^[ \t]+", "", text)  # indentation would make a code block: dropped


def test_one_line_helpers_cut_and_stay_fast_on_huge_text() -> None:
    assert plain("a \n\n b\t c") == "a b c"
    assert plain("x" * 50, 10) == "x" * 9 + "…"
    assert md("www.x.example " * 100, 20).endswith("…")
    assert plain(None) == "" and md("") == ""
    huge = "word \u202e " * 1_000_000  # 8 MB
    start = time.perf_counter()
    for _ in range(50):  # a page of the Inbox
        excerpt(huge, 140)
        md(huge, 320)
    assert time.perf_counter() - start < 0.5
    assert escape_markdown("x" * 5_000, 100).endswith("…") and len(escape_markdown("x" * 5_000, 100)) == 100


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "[x](https://evil.example/p)",
        "//evil.example/p",
        "https:///no-host",
        "https://x.com@evil.example/",
        "https://evil.example/\u202e/moc.x",
        "https://x.com/a b",
        "https://x.com\\@evil.example",
        "ftp://x.com/a",
        "",
        None,
    ],
)
def test_only_plain_http_urls_become_links(url: str | None) -> None:
    assert http_url(url) is None


def test_a_plain_url_is_kept_and_its_host_shown() -> None:
    assert http_url("https://x.com/skyline/status/1?s=20#r") == "https://x.com/skyline/status/1?s=20#r"
    assert http_url("http://blog.example.org/post") == "http://blog.example.org/post"
    assert url_host("https://Mastodon.Social:443/@a/1") == "mastodon.social"


def test_plain_frame_shows_controls_in_text_cells_and_leaves_the_rest() -> None:
    frame = pd.DataFrame({"handle": ["ad\u200bmin\u202e", None], "followers": [3, 4], "text": ["x" * 5_000, "a"]})
    shown = plain_frame(frame)
    assert shown["handle"].tolist()[0] == "ad⟨U+200B⟩min⟨U+202E⟩" and shown["handle"].isna().tolist()[1]
    assert shown["followers"].tolist() == [3, 4] and len(shown["text"][0]) == SHOWN_CHARS
    assert frame["handle"][0] == "ad\u200bmin\u202e"  # the caller's frame is untouched


def _long_post_app() -> None:
    import streamlit as st

    from console.ui.safe import show_text

    show_text(st.session_state["post"], key="post_all")


def test_show_text_cuts_a_long_post_and_pages_through_all_of_it() -> None:
    post = "[x](https://evil.example) \u202e" + "y" * 1_048_576 + "THE END"
    at = AppTest.from_function(_long_post_app, default_timeout=30)
    at.session_state["post"] = post
    at.run()
    assert not at.exception
    assert [t.value for t in at.text] == [visible(post[:SHOWN_CHARS]) + "…"]
    assert not at.markdown  # plain text: no markdown at all
    at.toggle(key="post_all").set_value(True).run()
    part = at.selectbox(key="post_all_part")
    assert len(part.options) == 5
    assert at.text[0].value.startswith("[x](https://evil.example) ⟨U+202E⟩") and len(at.text[0].value) <= 250_010
    part.set_value(4).run()
    assert at.text[0].value.endswith("THE END")
    shown = "".join(
        at.selectbox(key="post_all_part").set_value(i).run().text[0].value for i in range(5)
    )  # every character is reachable, in order
    assert shown == visible(post)


def test_a_short_post_is_one_plain_text() -> None:
    at = AppTest.from_function(_long_post_app, default_timeout=30)
    at.session_state["post"] = "hi **there** https://x.com"
    at.run()
    assert [t.value for t in at.text] == ["hi **there** https://x.com"] and not at.toggle


HOSTILE_HANDLE = "[x](https://evil.example/phish)\u202e"


@pytest.fixture
def hostile_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The AppTest world with one mention made hostile everywhere a page shows it."""
    import streamlit as st
    from sqlalchemy import update

    from console.config import load_config
    from console.services.catalog import sync_config
    from console.services.store import open_store
    from storage.models import Author, Mention
    from tests.triage_data import build_world

    url = f"sqlite:///{tmp_path / 'safe.db'}"
    store = open_store(url, upgrade=True)
    with store.transaction() as s:
        sync_config(s, load_config())
    world = build_world(store)
    m = world.mention_ids[0]
    with store.transaction() as s:
        mention = s.get(Mention, m)
        assert mention is not None and mention.author_id is not None
        s.execute(
            update(Author)
            .where(Author.id == mention.author_id)
            .values(handle=HOSTILE_HANDLE, display_name="**[Support](https://evil.example/s)**")
        )
        mention.text = "ad\u200bmin\u202e " + "z" * 100_000
        mention.url = "javascript:alert(1)"
        mention.replyable = False
    monkeypatch.setenv("MENTIONDESK_DATABASE_URL", url)
    st.cache_resource.clear()
    yield store, m
    st.cache_resource.clear()
    store.dispose()


def test_the_conversation_page_routes_mention_fields_through_the_helper(hostile_store) -> None:  # type: ignore[no-untyped-def]
    from console.services.auth import authenticate
    from tests.triage_data import PASSWORD

    store, mention_id = hostile_store
    page = Path(__file__).resolve().parents[1] / "console" / "app_pages" / "conversation.py"
    at = AppTest.from_file(str(page), default_timeout=60)
    at.session_state["auth_token"] = authenticate(store, "jamie", PASSWORD).token
    at.session_state["open_mention_id"] = mention_id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == [f"𝕏 @{md(HOSTILE_HANDLE, 80)}"]
    assert at.title[0].proto.anchor == "" and at.title[0].proto.hide_anchor  # no anchor made from the handle
    posts = [t.value for t in at.text]
    assert posts and posts[0] == visible(("ad\u200bmin\u202e " + "z" * 100_000)[:SHOWN_CHARS]) + "…"
    assert any(t.label.startswith("Show all 100,00") for t in at.toggle)
    markdown = [*at.markdown, *at.caption, *at.info, *at.warning, *at.error, *at.success]
    for element in markdown:
        if element.value.startswith("[Back to the Inbox](/?"):  # the console's own link (the page runs alone)
            continue
        assert "\u202e" not in element.value and "](" not in element.value and "**[" not in element.value
    assert not [b for b in at.get("link_button")], "javascript: never becomes a button"
    assert any("Link not opened" in c.value for c in at.caption)
