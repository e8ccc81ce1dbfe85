"""The Inbox in a real browser: Debian's headless chromium drives ``mentiondesk demo`` on a free port.

An agent filters and sorts the Inbox, selects a mention, opens its conversation, comes back with the browser's
back button and finds the same filters and selection; a reload and a shared link keep them too, and the filters
can be saved as a view with its count.  The layout checks: 20 rows at 1440×1000, every column inside 1280 px,
and a card list at 390×844.  Screenshots go to docs/screenshots/inbox.png and inbox_narrow.png.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from console.ui.format import PLATFORM_ICONS
from console.ui.inbox_table import ROW_HEIGHT
from console.ui.query_state import InboxView, inbox_view, saved_query
from tests.test_browser import ARGS, CHROMIUM, ROOT, SHOTS, _free_port, _sign_in, _wait_for, _wait_for_cookie

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no chromium at {CHROMIUM}: install Debian's `chromium` (apt-get) to run this"
)

HEADERS = ["", "Author", "Post", "Sent.", "Urgency · why", "SLA", "Assignee", "Status"]
"""The table's headers; the first, 28 px wide, holds the platform's icon (its name is the header's tooltip)."""
SLA_WORDS = re.compile(r"on time|at risk|breached|paused|answered|no SLA")
FILTERED = "sentiment=negative&urgency=high&sort=due"
"""What the agent picks below, as the Inbox writes it."""
TABLE = '[data-testid="stDataFrame"]'


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo console and worker on their own SQLite store (the worker keeps adding mentions)."""
    port = _free_port()
    db = tmp_path_factory.mktemp("browser_inbox") / "demo.db"
    log = open(db.parent / "demo.log", "wb")  # noqa: SIM115 - closed below
    cmd = [
        sys.executable,
        "-m",
        "console.cli",
        "demo",
        "--port",
        str(port),
        "--database-url",
        f"sqlite:///{db}",
        "--mentions",
        "800",
    ]
    env = {**os.environ, "CI": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)  # noqa: S603
    try:
        _wait_for(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """Headless chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@contextmanager
def _screenshots_on_failure(browser: Any, folder: Path) -> Iterator[None]:
    """On a failure, save every open page as failure-<n>.png in ``folder`` (the test's tmp_path)."""
    try:
        yield
    except Exception:
        for n, page in enumerate(pg for ctx in browser.contexts for pg in ctx.pages):
            page.screenshot(path=str(folder / f"failure-{n}.png"), full_page=True)
        print(f"failure screenshots in {folder}")
        raise


def _signed_in(browser: Any, base: str, user: str, width: int, height: int) -> Any:
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    _sign_in(page, base, user)
    _wait_for_cookie(page)
    page.locator(TABLE if width > 640 else ".st-key-inbox_cards").first.wait_for(timeout=60_000)
    page.wait_for_load_state("networkidle")
    return page


def _sign_in_here(page: Any, username: str) -> None:
    user = page.get_by_role("textbox", name="Username")
    user.wait_for(timeout=60_000)
    page.wait_for_load_state("networkidle")
    user.fill(username)
    page.get_by_role("textbox", name="Password").fill(f"{username}-demo-2026")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Inbox").wait_for(timeout=60_000)


def _view_in(url: str) -> InboxView:
    """The view the Inbox shows for ``url`` (it reads a stray ``mention=`` as the selection)."""
    return inbox_view(parse_qs(urlsplit(url).query), None)


def _wait_for_view(page: Any, query: str, selected: tuple[int, ...] | None = None, *, tries: int = 120) -> InboxView:
    """Wait until the address bar holds the view ``query`` (and, if given, that selection)."""

    def matches() -> bool:
        view = _view_in(page.url)
        return saved_query(view) == query and (selected is None or view.selected == selected)

    for _ in range(tries):
        if urlsplit(page.url).path == "/" and matches():
            return _view_in(page.url)
        page.wait_for_timeout(250)
    raise AssertionError(f"the Inbox URL never showed {query!r} with {selected}: {page.url}")


def _sidebar_widget(page: Any, kind: str, label: str) -> Any:
    return page.locator(f'[data-testid="stSidebar"] [data-testid="{kind}"]').filter(has_text=label)


def _pick(page: Any, label: str, option: str) -> None:
    """Add ``option`` to the sidebar multiselect ``label``."""
    _sidebar_widget(page, "stMultiSelect", label).click()
    page.get_by_role("option", name=option).click()
    page.keyboard.press("Escape")


def _sort_by(page: Any, words: str) -> None:
    _sidebar_widget(page, "stSelectbox", "Sort").locator("input").click()
    page.keyboard.type(words)
    page.keyboard.press("Enter")


def _click_row(page: Any, index: int) -> None:
    """Tick a table row's checkbox (the grid is a canvas: click where the row is drawn)."""
    box = page.locator(TABLE).first.bounding_box()
    page.mouse.click(box["x"] + 15, box["y"] + 40 + index * ROW_HEIGHT + ROW_HEIGHT / 2)  # header is 32–40 px


def _selected_handles(page: Any) -> list[str]:
    """The Author cells of the rows the grid marks selected (from its accessible table)."""
    cells = page.locator(f'{TABLE} tr[aria-selected="true"] td[aria-colindex="2"]')
    return [t.strip() for t in cells.all_inner_texts()]


def _assert_shows(page: Any, handle: str) -> None:
    """The filters are in the widgets, the preview shows ``handle``, and its row is ticked."""
    from playwright.sync_api import expect

    expect(_sidebar_widget(page, "stMultiSelect", "Urgency")).to_contain_text("high", timeout=30_000)
    expect(_sidebar_widget(page, "stMultiSelect", "Sentiment")).to_contain_text("negative")
    expect(_sidebar_widget(page, "stMultiSelect", "Status")).to_contain_text("pending")  # the default statuses
    sort = page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name="Sort")
    expect(sort).to_have_value("SLA due soonest")
    expect(page.locator(".st-key-inbox_preview")).to_contain_text(handle, timeout=30_000)
    for _ in range(40):
        if _selected_handles(page) == [handle]:
            return
        page.wait_for_timeout(250)
    assert _selected_handles(page) == [handle]


def test_filters_and_selection_survive_a_conversation_the_back_button_a_reload_and_a_shared_link(
    demo: str, browser: Any, tmp_path: Path
) -> None:
    with _screenshots_on_failure(browser, tmp_path):
        _journey(browser, demo)


def _journey(browser: Any, demo: str) -> None:
    from playwright.sync_api import expect

    page = _signed_in(browser, demo, "jamie", 1440, 1000)
    _pick(page, "Urgency", "🟠 high")
    _wait_for_view(page, "urgency=high")
    _pick(page, "Sentiment", "🔴 negative")
    _wait_for_view(page, "sentiment=negative&urgency=high")
    page.go_back()  # each change is a history entry
    _wait_for_view(page, "urgency=high")
    expect(_sidebar_widget(page, "stMultiSelect", "Sentiment")).not_to_contain_text("negative", timeout=30_000)
    page.go_forward()
    _wait_for_view(page, "sentiment=negative&urgency=high")
    # the address bar changes before the page reruns: wait for the widgets, or the next pick races the rerun
    expect(_sidebar_widget(page, "stMultiSelect", "Sentiment")).to_contain_text("negative", timeout=30_000)
    for attempt in range(3):  # a pick made while the forward navigation's rerun is still running can be lost
        _sort_by(page, "SLA due")
        try:
            _wait_for_view(page, FILTERED, tries=40)
            break
        except AssertionError:
            if attempt == 2:
                raise

    _click_row(page, 2)
    for _ in range(80):
        if len(_view_in(page.url).selected) == 1 and _selected_handles(page):
            break
        page.wait_for_timeout(250)
    mention_id = _view_in(page.url).selected[0]
    assert mention_id is not None, page.url
    (handle,) = _selected_handles(page)
    _assert_shows(page, handle)

    page.locator(".st-key-inbox_preview").get_by_role("link", name="Open conversation").click()
    expect(page.get_by_text(f"case MD-{mention_id}")).to_be_visible(timeout=60_000)
    conversation = urlsplit(page.url)
    assert conversation.path == "/conversation" and parse_qs(conversation.query)["mention"] == [str(mention_id)]
    assert saved_query(_view_in(page.url)) == FILTERED  # the conversation knows the view it came from

    page.go_back()
    _wait_for_view(page, FILTERED, (mention_id,))
    _assert_shows(page, handle)

    page.reload()
    _wait_for_view(page, FILTERED, (mention_id,))
    _assert_shows(page, handle)

    shared = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    shared_path = f"/?{urlsplit(page.url).query}"
    shared.goto(demo + shared_path)
    _sign_in_here(shared, "priya")  # a colleague opens the link, signs in and sees the same queue
    _wait_for_view(shared, FILTERED, (mention_id,))
    _assert_shows(shared, handle)

    page.get_by_role("button", name="Views").click()
    page.get_by_role("textbox", name="Save this view as").fill("High negative by due")
    page.get_by_role("button", name="Save view").click()
    expect(page.get_by_role("combobox", name="Your views")).to_have_value("High negative by due", timeout=30_000)
    page.keyboard.press("Escape")  # close the popover (while open, the rest of the page is hidden from roles)
    pill = page.locator(".st-key-inbox_head").get_by_role("radio", name=re.compile(r"^High negative by due · "))
    expect(pill).to_be_visible(timeout=30_000)
    _assert_pill_counts_the_list(page, pill, "High negative by due")
    page.locator(".st-key-inbox_head").get_by_role("radio", name=re.compile(r"^All open · ")).click()
    _wait_for_view(page, "")  # all open: every filter off
    pill.click()  # the saved view brings the filters back
    _wait_for_view(page, FILTERED)


def _assert_pill_counts_the_list(page: Any, pill: Any, name: str) -> None:
    """The view's count is the list's total (polled: the demo keeps adding mentions, and counts are cached 30 s)."""
    seen = ("", "")
    for _ in range(90):
        pager = re.search(r"([\d,]+) mentions · sorted by", page.get_by_text("mentions · sorted by").inner_text())
        seen = (pill.inner_text().strip(), f"{name} · {pager.group(1) if pager else '?'}")
        if seen[0] == seen[1]:
            return
        page.wait_for_timeout(500)
    raise AssertionError(f"the view's pill says {seen[0]!r}, the list {seen[1]!r}")


def _visible_rows(page: Any, height: int) -> int:
    """How many whole table rows are on screen, under the header."""
    box = page.locator(TABLE).first.bounding_box()
    bottom = min(box["y"] + box["height"], height)
    return int((bottom - box["y"]) // ROW_HEIGHT) - 1


def test_twenty_rows_at_1440_every_column_inside_1280_and_cards_at_390(demo: str, browser: Any, tmp_path: Path) -> None:
    with _screenshots_on_failure(browser, tmp_path):
        _layout(browser, demo)


def _layout(browser: Any, demo: str) -> None:
    from playwright.sync_api import expect

    page = _signed_in(browser, demo, "jamie", 1440, 1000)
    assert int(page.locator(f"{TABLE} table").get_attribute("aria-rowcount")) > 21
    _click_row(page, 1)  # an agent works with the preview open
    expect(page.locator(".st-key-inbox_preview")).to_be_visible(timeout=30_000)
    page.wait_for_timeout(1500)
    assert _visible_rows(page, 1000) >= 20
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "inbox.png"))

    page.set_viewport_size({"width": 1280, "height": 900})
    page.wait_for_timeout(1500)
    headers = page.locator(f'{TABLE} [role="columnheader"]').all_inner_texts()
    assert [h.strip() for h in headers] == HEADERS
    box = page.locator(TABLE).first.bounding_box()
    assert box["x"] > 0 and box["x"] + box["width"] <= 1280
    scroll, client = page.evaluate(
        f"""() => {{ const s = document.querySelector('{TABLE} .dvn-scroller');
                    return [s.scrollWidth, s.clientWidth]; }}"""
    )
    assert scroll <= client, "the table scrolls sideways at 1280 px"
    first = [page.locator(f'{TABLE} td[aria-colindex="{i}"]').first.inner_text() for i in (1, 5, 6)]
    assert first[0] in PLATFORM_ICONS.values()
    assert " · " in first[1]  # urgency · why
    assert SLA_WORDS.search(first[2]), first[2]

    phone = _signed_in(browser, demo, "jamie", 390, 844)
    cards = phone.locator('[class*="st-key-card_"]')
    expect(cards.first).to_be_visible(timeout=30_000)
    assert not phone.locator(TABLE).first.is_visible()
    on_screen = [b for b in (cards.nth(i).bounding_box() for i in range(6)) if b and b["y"] < 844]
    assert len(on_screen) >= 3 and all(b["x"] >= 0 and b["x"] + b["width"] <= 390 for b in on_screen)
    expect(cards.first.get_by_role("link", name=re.compile(r"^Open · "))).to_be_visible()
    pills = phone.locator(".st-key-inbox_head [data-testid='stButtonGroup'] button")
    assert all(b["x"] + b["width"] <= 390 for b in (pills.nth(i).bounding_box() for i in range(pills.count())))
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= 390
    phone.wait_for_timeout(1000)
    phone.screenshot(path=str(SHOTS / "inbox_narrow.png"))
