"""The real browser: Debian's headless chromium drives ``mentiondesk demo`` on a free port.

An agent signs in (and stays signed in across a reload), opens the most urgent replyable
mention, replies from a template and sees it sent by the demo network; a second agent in another
browser context sees the claim and gets no Send button.  Screenshots go to docs/screenshots/.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("MENTIONDESK_CHROMIUM", "/usr/bin/chromium"))
ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "docs" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no chromium at {CHROMIUM}: install Debian's `chromium` (apt-get) to run this"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(port: int, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mentiondesk demo exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"the console did not listen on {port} within {timeout:.0f} s")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    db = tmp_path_factory.mktemp("browser") / "demo.db"
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


def _sign_in(page, base: str, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base)
    user = page.get_by_role("textbox", name="Username")
    user.wait_for(timeout=60_000)
    page.wait_for_load_state("networkidle")
    user.fill(username)
    page.get_by_role("textbox", name="Password").fill(f"{username}-demo-2026")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Inbox").wait_for(timeout=60_000)


def test_agent_replies_from_a_template_and_a_second_agent_sees_the_claim(demo: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        jamie = browser.new_context(viewport={"width": 1500, "height": 1000}).new_page()
        try:
            _journey(browser, jamie, demo, tmp_path)
        except Exception:
            jamie.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            print(f"failure screenshot: {tmp_path / 'failure.png'}")
            raise
        finally:
            browser.close()


def _journey(browser, jamie, demo: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    if True:
        _sign_in(jamie, demo, "jamie")
        _wait_for_cookie(jamie)
        jamie.reload()  # the session cookie keeps jamie signed in
        jamie.get_by_role("heading", name="Inbox").wait_for(timeout=60_000)
        # the most urgent replyable Skyline Air mention
        jamie.get_by_text("replyable", exact=True).click()
        jamie.get_by_role("button", name="Open most urgent").wait_for(timeout=30_000)
        jamie.wait_for_timeout(1500)
        jamie.screenshot(path=str(tmp_path / "inbox.png"))  # docs/screenshots/inbox.png: test_browser_inbox
        jamie.get_by_role("button", name="Open most urgent").click()
        expect(jamie.get_by_text("You are handling this mention")).to_be_visible(timeout=60_000)
        mention_url = jamie.url
        assert re.search(r"mention=\d+", mention_url), mention_url
        # reply from a template (a brand-less one, signed in the brand's sign-off style)
        search = jamie.get_by_role("textbox", name="Search saved replies")
        search.fill("Apology")
        search.press("Enter")
        jamie.get_by_role("button", name="Use this reply").click()
        reply_box = jamie.get_by_role("textbox", name="Reply", exact=True)
        expect(reply_box).not_to_have_value("", timeout=30_000)
        draft = reply_box.input_value()
        fixed = _sign_off_for(jamie, draft)
        reply_box.fill(fixed)
        reply_box.press("Control+Enter")
        jamie.wait_for_timeout(1500)
        confirm = jamie.get_by_text("I have read the warnings; send anyway")
        if confirm.count():
            confirm.click()
        jamie.get_by_role("button", name="Send reply").click()
        expect(jamie.get_by_text("✅ sent").first).to_be_visible(timeout=90_000)
        jamie.wait_for_load_state("networkidle")
        jamie.wait_for_timeout(2500)  # let the rerun settle before the screenshot
        jamie.screenshot(path=str(tmp_path / "conversation.png"), full_page=True)  # docs: test_browser_desk

        # a second agent, in a separate browser context, sees the claim and cannot send
        sam = browser.new_context(viewport={"width": 1500, "height": 1000}).new_page()
        _sign_in(sam, demo, "priya")
        _wait_for_cookie(sam)
        sam.goto(mention_url)
        expect(sam.get_by_text("is handling this mention")).to_be_visible(timeout=60_000)
        expect(sam.get_by_text("jamie", exact=True)).to_be_visible()
        expect(sam.get_by_role("button", name="Take over")).to_be_visible()
        assert sam.get_by_role("button", name="Send reply").count() == 0


def _wait_for_cookie(page, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(c["name"] == "mentiondesk_session" for c in page.context.cookies()):
            return
        page.wait_for_timeout(250)
    raise AssertionError("the session cookie was never set")


def _sign_off_for(page, draft: str) -> str:  # type: ignore[no-untyped-def]
    """Each demo brand has its own sign-off; add it if the template's plain initials do not match."""
    page.wait_for_timeout(1000)
    blocked = page.get_by_text("does not end with the brand's sign-off")
    if not blocked.count():
        return draft
    example = re.search(r'such as "([^"]+)"', page.get_by_text("end the reply with your sign-off").first.inner_text())
    body = draft.rsplit(" ", 1)[0]
    return f"{body} {example.group(1) if example else '^JK'}"


def test_manager_opens_the_dashboard_and_changes_the_date_range(demo: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        maya = browser.new_context(viewport={"width": 1500, "height": 1200}).new_page()
        try:
            _sign_in(maya, demo, "maya")
            _wait_for_cookie(maya)
            maya.goto(f"{demo}/dashboard")  # the session cookie keeps maya signed in
            maya.get_by_role("heading", name="Dashboard").wait_for(timeout=120_000)
            expect(maya.get_by_text("(30 days)")).to_be_visible(timeout=60_000)
            maya.get_by_role("heading", name="Volume by sentiment").wait_for(timeout=120_000)
            maya.get_by_role("button", name="7d", exact=True).click()
            expect(maya.get_by_text("(7 days)")).to_be_visible(timeout=60_000)
            maya.get_by_role("heading", name="Volume by sentiment").wait_for(timeout=120_000)
            maya.wait_for_load_state("networkidle")
            maya.wait_for_timeout(2500)  # charts finish drawing
            maya.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)
        except Exception:
            maya.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            print(f"failure screenshot: {tmp_path / 'failure.png'}")
            raise
        finally:
            browser.close()
