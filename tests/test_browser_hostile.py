"""Hostile mentions in a real browser: Debian's headless chromium on ``mentiondesk serve`` over a SQLite store.

Mentions stored through the real ingest path (:func:`storage.ingest.ingest_batch`), and one row of a CSV file
through ``mentiondesk import``'s path, carry script tags, markdown links in the handle, display name, brand
and platform, bare ``https://…``, ``www.…`` and e-mail addresses, ``javascript:`` and markdown URLs, bidi
overrides and zero-width characters, and one 1 MB text.  The Inbox (table and preview) and the Conversation
page must show all of it as text: no ``<a>`` to a host we did not allow, no injected script or image, the
invisible characters shown as ``⟨U+XXXX⟩``, and each page within 3 s.  Screenshots go to /tmp/hostile_*.png.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from connectors.base import Author, Mention
from console.config import load_config
from console.services.demo_seed import seed_demo
from console.services.importer import import_file
from console.services.store import open_store
from storage.ingest import ingest_batch
from storage.models import Brand
from storage.models import Mention as StoredMention
from tests.test_browser import ARGS, CHROMIUM, ROOT, _free_port, _sign_in, _wait_for, _wait_for_cookie

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no chromium at {CHROMIUM}: install Debian's `chromium` (apt-get) to run this"
)

SHOTS = Path("/tmp")
ALLOWED_HOSTS = {"x.com"}
"""Hosts a link may go to besides the console itself: the benign mention's own post, opened with its host shown."""
EVIL = ("evil.example", "ev.il")
BUDGET_S = 3.0
MEGABYTE = 1_048_576
SCRIPT = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
LINKS = "[win a prize](https://evil.example/prize) https://evil.example/x www.evil.example mail a@evil.example"
BIDI = "ad\u200bmin\u202e \u2066gpj.exe\u2069 \ufeff\u2060\u200f\u061c"
RAW_CONTROLS = "\u202e\u200b\u2066\u2069\ufeff\u200f\u061c"
"""Characters that must never reach the page as they are (the console's own word joiners, U+2060, may)."""


IMPORTED_ROW = [
    "hostile-import",
    f"imported {SCRIPT} {LINKS} \u202eevil",
    datetime.now(UTC).isoformat(timespec="seconds"),
    "x",
    "[imp](https://evil.example/i)",
    "[ib](https://evil.example/ib)",
    "https://evil.example/post",
]
"""A row of a CSV file, through ``mentiondesk import``'s own path (import_file)."""


@dataclass(frozen=True)
class Hostile:
    """The stored ids of the hostile mentions."""

    links: int
    bidi: int
    huge: int
    imported: int


def _mentions(now: datetime) -> list[Mention]:
    """Three hostile posts; the huge one has links at both ends, so cutting it must not make them live."""
    huge = f"{LINKS} " + ("lorem ipsum dolor sit amet " * (MEGABYTE // 27 + 1))[: MEGABYTE - 200] + f" {LINKS}"
    huge = huge[:MEGABYTE]
    return [
        Mention(
            platform="x",
            external_id="hostile-links",
            text=f"{SCRIPT} {LINKS} **bold** :red[red] $x^2$",
            created_at=now - timedelta(minutes=3),
            author=Author("x", "h1", "[x](https://evil.example/phish)", "**[Support](https://evil.example/s)**"),
            url="javascript:alert(1)",
            replyable=False,
            replyable_reason="[listen](https://evil.example/r) www.evil.example",
        ),
        Mention(
            platform="[p](//ev.il/a)",
            external_id="hostile-bidi",
            text=f"Refund to {BIDI} now",
            created_at=now - timedelta(minutes=2),
            author=Author("[p](//ev.il/a)", "h2", "ad\u200bmin\u202e", "www.evil.example"),
            url="[open](https://evil.example/u)",
        ),
        Mention(
            platform="x",
            external_id="hostile-huge",
            text=huge,
            created_at=now - timedelta(minutes=1),
            author=Author("x", "h3", "bigpost", "Big Post"),
            url="https://x.com/bigpost/status/1",
        ),
    ]


@pytest.fixture(scope="module")
def hostile_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Hostile]]:
    """A small demo store plus the hostile mentions (ingested for a brand with a markdown-link name), served."""
    db = tmp_path_factory.mktemp("browser_hostile") / "hostile.db"
    url = f"sqlite:///{db}"
    store = open_store(url, upgrade=True)
    seed_demo(store, load_config(), mentions=12, seed=7, days=2)
    now = datetime.now(UTC)
    with store.transaction() as session:
        brand = Brand(name="[brand](https://evil.example/b) www.evil.example\u202e")
        session.add(brand)
        session.flush()
        result = ingest_batch(session, _mentions(now), brand_id=brand.id)
    assert result.new == 3
    csv_file = db.parent / "hostile.csv"
    with csv_file.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["id", "text", "created_at", "platform", "author", "brand", "url"])
        out.writerow(IMPORTED_ROW)
    report = import_file(store, csv_file)
    assert report.result.new == 1 and not report.errors, report.errors
    with store.read() as session:
        ids = {
            m.external_id: m.id
            for m in session.query(StoredMention).filter(StoredMention.external_id.like("hostile-%"))
        }
        assert len(session.get(StoredMention, ids["hostile-huge"]).text) == MEGABYTE  # type: ignore[union-attr]
    store.dispose()
    port = _free_port()
    log = open(db.parent / "serve.log", "wb")  # noqa: SIM115 - closed below
    cmd = [sys.executable, "-m", "console.cli", "serve", "--port", str(port), "--database-url", url]
    env = {**os.environ, "CI": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)  # noqa: S603
    try:
        _wait_for(port, proc)
        found = Hostile(ids["hostile-links"], ids["hostile-bidi"], ids["hostile-huge"], ids["hostile-import"])
        yield f"http://127.0.0.1:{port}", found
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def page(hostile_console: tuple[str, Hostile]) -> Iterator[Any]:
    """Jamie (an agent) signed in, in a 1440×1000 window."""
    from playwright.sync_api import sync_playwright

    base, _ = hostile_console
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            tab = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
            _sign_in(tab, base, "jamie")
            _wait_for_cookie(tab)
            yield tab
        finally:
            browser.close()


def _links(page: Any) -> list[str]:
    """Every link's target, resolved against the page (a relative ``conversation?mention=3`` is the console)."""
    return [str(h) for h in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")]


def _assert_only_text(page: Any, base: str) -> None:
    """No link off the allowed hosts, nothing pointing at the evil hosts, no script ran, no control char shown raw."""
    own = urlsplit(base).netloc
    for href in _links(page):
        parts = urlsplit(href)
        ok = parts.scheme in ("http", "https") and (parts.netloc == own or parts.hostname in ALLOWED_HOSTS)
        assert ok, f"a link to an unexpected place: {href!r}"
    pointing = page.eval_on_selector_all(
        "[href], [src], [action], [formaction]",
        "els => els.map(e => ['href','src','action','formaction'].map(a => e.getAttribute(a) || '').join(' '))",
    )
    assert not [p for p in pointing if any(evil in p for evil in EVIL)], pointing
    assert page.evaluate("() => window.__pwned") is None, "a script from a mention ran"
    scripts = page.eval_on_selector_all("script", "els => els.map(e => e.textContent + ' ' + (e.src || ''))")
    assert not [s for s in scripts if "__pwned" in s], "a script element from a mention is in the page"
    assert page.locator('img[src="x"]').count() == 0
    shown = page.evaluate("() => document.body.innerText")
    raw = sorted({f"U+{ord(c):04X}" for c in shown if c in RAW_CONTROLS})
    assert not raw, f"invisible or direction-changing characters reached the page as they are: {raw}"


def _shows(where: Any, text: str, timeout: float = 30) -> None:
    """``where`` shows ``text`` as text (the word joiners that keep autolinks off are not part of what it says)."""
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        seen = where.inner_text().replace("\u2060", "")
        if text in seen:
            return
        time.sleep(0.25)
    raise AssertionError(f"{text!r} is not shown; the page says {seen[:2_000]!r}")


def _timed(page: Any, go: Any, ready: Any) -> float:
    start = time.monotonic()
    go()
    ready.wait_for(timeout=60_000)
    return time.monotonic() - start


def test_the_inbox_shows_hostile_mentions_as_text(page: Any, hostile_console: tuple[str, Hostile]) -> None:
    from playwright.sync_api import expect

    base, ids = hostile_console
    preview = page.locator(".st-key-inbox_preview")
    page.goto(f"{base}/?sel={ids.links}")  # warm: the app's code is cached, as for an agent at work
    preview.wait_for(timeout=60_000)
    _shows(preview, "[x](https://evil.example/phish)", timeout=60)
    seconds = _timed(page, lambda: page.goto(f"{base}/?sel={ids.bidi}"), preview.get_by_text("⟨U+202E⟩").first)
    _shows(preview, "ad⟨U+200B⟩min⟨U+202E⟩")
    _shows(preview, "[p](//ev.il/a)")  # an unknown platform, named as text
    page.wait_for_load_state("networkidle")
    table = page.locator('[data-testid="stDataFrame"]').first
    expect(table).to_contain_text("@ad⟨U+200B⟩min⟨U+202E⟩", timeout=30_000)  # the grid's accessible table
    expect(table).to_contain_text("⟨U+2066⟩gpj.exe⟨U+2069⟩")
    _assert_only_text(page, base)
    page.screenshot(path=str(SHOTS / "hostile_inbox.png"))
    huge = _timed(page, lambda: page.goto(f"{base}/?sel={ids.huge}"), preview.get_by_text("bigpost").first)
    _shows(preview, "[win a prize](https://evil.example/prize)")
    _assert_only_text(page, base)
    page.goto(f"{base}/?sel={ids.links}")
    _shows(preview, "<script>window.__pwned = 1</script>")
    _shows(preview, "[brand](https://evil.example/b) www.evil.example⟨U+202E⟩")
    _assert_only_text(page, base)
    page.goto(f"{base}/?sel={ids.imported}")  # the row imported from a CSV file
    _shows(preview, "@[imp](https://evil.example/i)")
    _shows(preview, "[ib](https://evil.example/ib)")
    _shows(preview, "imported <script>window.__pwned = 1</script>")
    _shows(preview, "⟨U+202E⟩evil")
    _assert_only_text(page, base)
    print(f"inbox: {seconds:.2f} s, with the 1 MB post selected {huge:.2f} s")
    assert seconds < BUDGET_S and huge < BUDGET_S, f"the Inbox took {seconds:.1f} s, {huge:.1f} s with the 1 MB post"


def test_the_conversation_shows_hostile_mentions_as_text(page: Any, hostile_console: tuple[str, Hostile]) -> None:
    from playwright.sync_api import expect

    base, ids = hostile_console
    main = page.locator('[data-testid="stMain"]')
    page.goto(f"{base}/conversation?mention={ids.links}")
    heading = page.get_by_role("heading", level=1)
    heading.wait_for(timeout=60_000)
    _shows(heading, "@[x](https://evil.example/phish)", timeout=60)
    _shows(main, "<script>window.__pwned = 1</script>")
    _shows(main, LINKS)
    _shows(main, "**[Support](https://evil.example/s)**")  # the display name
    _shows(main, "[brand](https://evil.example/b)")
    _shows(main, "[listen](https://evil.example/r) www.evil.example")  # why it cannot be answered
    _shows(main, "Link not opened")  # javascript: is never a link
    _shows(page.locator('[data-testid="stCode"]').first, "javascript:alert(1)")  # but shown, to copy
    page.wait_for_load_state("networkidle")
    _assert_only_text(page, base)
    page.screenshot(path=str(SHOTS / "hostile_conversation_links.png"), full_page=True)

    page.goto(f"{base}/conversation?mention={ids.bidi}")
    _shows(heading, "[p](//ev.il/a) @ad⟨U+200B⟩min⟨U+202E⟩", timeout=60)
    _shows(main, "Refund to ad⟨U+200B⟩min⟨U+202E⟩ ⟨U+2066⟩gpj.exe⟨U+2069⟩ ⟨U+FEFF⟩⟨U+2060⟩⟨U+200F⟩⟨U+061C⟩ now")
    _shows(main, "[open](https://evil.example/u)")  # a markdown "URL" is shown, never opened
    page.wait_for_load_state("networkidle")
    _assert_only_text(page, base)
    page.screenshot(path=str(SHOTS / "hostile_conversation.png"), full_page=True)

    show_all = page.get_by_text("Show all 1,048,576 characters")
    seconds = _timed(page, lambda: page.goto(f"{base}/conversation?mention={ids.huge}"), show_all)
    _shows(main, "[win a prize](https://evil.example/prize)")
    page.wait_for_load_state("networkidle")
    _assert_only_text(page, base)
    expect(page.get_by_role("link", name="Open on x.com")).to_have_attribute("href", "https://x.com/bigpost/status/1")
    page.screenshot(path=str(SHOTS / "hostile_conversation_huge.png"))
    revealed = _timed(page, show_all.click, page.get_by_role("combobox", name="Part"))
    _shows(main, "lorem ipsum dolor sit amet lorem")
    _assert_only_text(page, base)
    print(f"conversation with the 1 MB post: {seconds:.2f} s, show all: {revealed:.2f} s")
    assert seconds < BUDGET_S, f"the 1 MB conversation took {seconds:.1f} s"
    assert revealed < BUDGET_S, f"showing all of it took {revealed:.1f} s"
