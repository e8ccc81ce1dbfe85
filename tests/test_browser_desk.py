"""The live desk in Debian's chromium: Send & next, a takeover with a kept draft, and the thread's brand reply.

The real ``mentiondesk demo`` runs on a free port; the test picks its mentions from the store the demo
writes and checks every outcome there too, not only on the screen.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select

from console.services.inbox import InboxFilters, list_queue, next_in_view
from console.services.permissions import Actor
from console.services.store import Store, open_store
from console.ui.query_state import parse_query, read_view
from storage.enums import ReplyState
from storage.models import Mention, Reply, User
from tests.test_browser import ARGS, CHROMIUM, SHOTS, _free_port, _sign_in, _wait_for, _wait_for_cookie

ROOT = Path(__file__).resolve().parents[1]
VIEW = "reply=yes&platform=x"
"""The agent's Inbox view: replyable X posts, open statuses, most urgent first."""

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no chromium at {CHROMIUM}")


@dataclass
class Demo:
    url: str
    store: Store


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    tmp = tmp_path_factory.mktemp("browser_desk")
    port, db = _free_port(), tmp / "demo.db"
    log = open(tmp / "demo.log", "wb")  # noqa: SIM115 - closed below
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
    store: Store | None = None
    try:
        _wait_for(port, proc)
        store = open_store(f"sqlite:///{db}")
        yield Demo(f"http://127.0.0.1:{port}", store)
    finally:
        if store is not None:
            store.dispose()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _user_id(store: Store, username: str) -> int:
    with store.read() as session:
        return int(session.scalar(select(User.id).where(User.username == username)))


def _actor(store: Store, username: str) -> Actor:
    with store.read() as session:
        return Actor.of(session.scalars(select(User).where(User.username == username)).one())


def _view_filters(store: Store, username: str) -> InboxFilters:
    return parse_query(VIEW, _user_id(store, username)).filters


def _free_mentions(store: Store, username: str, n: int) -> list[int]:
    """The first ``n`` mentions of the view that nobody has claimed."""
    with store.read() as session:
        rows = list_queue(session, _actor(store, username), _view_filters(store, username))
        ids = [r.id for r in rows]
        free = session.scalars(select(Mention.id).where(Mention.id.in_(ids), Mention.assignee_id.is_(None))).all()
    order = {mid: i for i, mid in enumerate(ids)}
    return sorted(free, key=order.__getitem__)[:n]


def _mention_of(url: str) -> int:
    found = re.search(r"[?&]mention=(\d+)", url)
    assert found, url
    return int(found.group(1))


def _write_signed(page, body: str) -> None:  # type: ignore[no-untyped-def]
    """Type ``body``, then end it with the sign-off the voice check asks this agent for."""
    from playwright.sync_api import expect

    box = page.get_by_role("textbox", name="Reply", exact=True)
    box.fill(body)
    box.press("Control+Enter")
    hint = page.get_by_text("end the reply with your sign-off")
    expect(hint.first).to_be_visible(timeout=30_000)
    example = re.search(r'sign-off "([^"]+)"', hint.first.inner_text())
    assert example, hint.first.inner_text()
    box.fill(f"{body} {example.group(1)}")
    box.press("Control+Enter")
    expect(page.get_by_text("end the reply with your sign-off")).to_have_count(0, timeout=30_000)
    confirm = page.get_by_text("I have read the warnings; send anyway")
    if confirm.count():
        confirm.click()


def _browser(p):  # type: ignore[no-untyped-def]
    return p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)


def test_send_and_next_opens_the_next_mention_of_the_view_and_the_thread_shows_the_reply(
    demo: Demo, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    first = _free_mentions(demo.store, "jamie", 1)[0]
    with sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
        try:
            _sign_in(page, demo.url, "jamie")
            _wait_for_cookie(page)
            page.goto(f"{demo.url}/conversation?mention={first}&{VIEW}")
            expect(page.get_by_text("You are handling this mention")).to_be_visible(timeout=60_000)
            body = f"Sorry for the trouble here, we are checking your booking now and will DM you (case {first})."
            _write_signed(page, body)
            jamie = _actor(demo.store, "jamie")
            with demo.store.read() as session:
                before = next_in_view(session, jamie, _view_filters(demo.store, "jamie"), first)
            page.get_by_role("button", name="Send & next", disabled=False).click()
            page.wait_for_url(lambda url: "mention=" in url and _mention_of(url) != first, timeout=60_000)
            landed = _mention_of(page.url)
            expect(page.get_by_text("You are handling this mention")).to_be_visible(timeout=60_000)
            with demo.store.read() as session:
                after = next_in_view(session, jamie, _view_filters(demo.store, "jamie"), first)
                matches = session.scalar(
                    select(Mention.id).where(Mention.id == landed, Mention.replyable.is_(True), Mention.platform == "x")
                )
            assert landed in {before, after}, (landed, before, after)
            assert matches == landed
            query = parse_qs(urlparse(page.url).query)
            assert query.get("reply") == ["yes"] and query.get("platform") == ["x"], page.url  # the view travels
            assert read_view(query, jamie.id).filters.platforms == ("x",)

            # the first mention's reply went out once, and its thread shows it as ours and sent
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                with demo.store.read() as session:
                    replies = session.scalars(select(Reply).where(Reply.mention_id == first)).all()
                if replies and all(r.state is ReplyState.SENT for r in replies):
                    break
                time.sleep(1)
            assert len(replies) == 1 and replies[0].state is ReplyState.SENT, [(r.id, r.state) for r in replies]
            page.goto(f"{demo.url}/conversation?mention={first}&{VIEW}")
            expect(page.get_by_text(f"case {first})").first).to_be_visible(timeout=60_000)
            expect(page.get_by_text("✅ sent").first).to_be_visible(timeout=60_000)
            page.wait_for_timeout(2000)
            page.screenshot(path=str(SHOTS / "conversation.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            print(f"failure screenshot: {tmp_path / 'failure.png'}")
            raise
        finally:
            browser.close()


def test_a_takeover_tells_the_first_agent_and_keeps_their_draft(demo: Demo, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    mention = _free_mentions(demo.store, "jamie", 3)[-1]
    draft = f"Draft for case {mention}: checking the refund with the team"
    with sync_playwright() as p:
        browser = _browser(p)
        jamie = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
        priya = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
        try:
            _sign_in(jamie, demo.url, "jamie")
            _wait_for_cookie(jamie)
            jamie.goto(f"{demo.url}/conversation?mention={mention}")
            expect(jamie.get_by_text("You are handling this mention")).to_be_visible(timeout=60_000)
            box = jamie.get_by_role("textbox", name="Reply", exact=True)
            box.fill(draft)
            box.press("Control+Enter")  # commits the box: the draft is kept in the store
            expect(jamie.get_by_text("end the reply with your sign-off").first).to_be_visible(timeout=30_000)

            _sign_in(priya, demo.url, "priya")
            _wait_for_cookie(priya)
            priya.goto(f"{demo.url}/conversation?mention={mention}")
            expect(priya.get_by_text("is handling this mention")).to_be_visible(timeout=60_000)
            expect(priya.get_by_text("Also viewing").first).to_be_visible(timeout=60_000)
            priya.get_by_role("button", name="Take over").click()
            expect(priya.get_by_text("You are handling this mention")).to_be_visible(timeout=60_000)

            # jamie's page tells them without a click (it refreshes every 15 s) ...
            expect(jamie.get_by_text("Your draft is kept: it shows here when you next click")).to_be_visible(
                timeout=45_000
            )
            # ... and their next interaction shows the draft they had written
            jamie.get_by_role("textbox", name="Search saved replies").fill("thanks")
            jamie.get_by_role("textbox", name="Search saved replies").press("Enter")
            expect(jamie.get_by_text("took over at").first).to_be_visible(timeout=60_000)
            expect(jamie.get_by_text("your draft is kept below")).to_be_visible(timeout=30_000)
            expect(jamie.get_by_text(draft).first).to_be_visible(timeout=30_000)
            assert jamie.get_by_role("button", name="Send reply").count() == 0
            jamie.screenshot(path=str(SHOTS / "takeover.png"), full_page=True)
        except Exception:
            jamie.screenshot(path=str(tmp_path / "failure_jamie.png"), full_page=True)
            priya.screenshot(path=str(tmp_path / "failure_priya.png"), full_page=True)
            print(f"failure screenshots in {tmp_path}")
            raise
        finally:
            browser.close()
