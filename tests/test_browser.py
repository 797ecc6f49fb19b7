"""The web widget and the toolbar page in Debian's headless Chromium, against running
servers. Screenshots go to test-artifacts/ for a person to look at."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.server import Servers, free_port, running

pytestmark = pytest.mark.servers
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


CARD_SHOWS = "(document.querySelector('#card h2')?.textContent || '').includes('{name}')"


def chromium() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("Chromium is missing: make test installs Debian's chromium package")
    pytest.skip("Chromium is not installed here")


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, trained_model: Path
) -> Iterator[tuple[Servers, str, str]]:
    from bot import demo
    from bot.advisors import issue_token, upsert_advisor
    from bot.cards import db
    from bot.cards.models import Client

    folder = tmp_path_factory.mktemp("browser")
    url = f"sqlite:///{folder / 'copilot.db'}"
    db.upgrade(url)
    with db.session_scope(url) as session:
        demo.load_if_empty(session)
        token = issue_token(
            session, upsert_advisor(session, "A001", "李娜", "上海恒隆店", "advisor")
        )
        external = session.get(Client, "C0001").wecom_external_userid
    with running(
        url, free_port(), free_port(), "127.0.0.1", folder / "log", nlu_port=free_port()
    ) as servers:
        yield servers, token, external


@pytest.fixture(scope="module")
def browser(stack: tuple[Servers, str, str]) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    path = chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=path, headless=True, args=CHROMIUM_FLAGS
        )
        yield instance
        instance.close()


def say(page: object, text: str) -> None:
    page.fill("#message", text)  # type: ignore[attr-defined]
    count = page.locator("#log li.bot").count()  # type: ignore[attr-defined]
    page.click("#send button")  # type: ignore[attr-defined]
    page.wait_for_function(f"document.querySelectorAll('#log li.bot').length > {count}")  # type: ignore[attr-defined]


def test_widget_lookup_reception_and_roleplay(
    stack: tuple[Servers, str, str], browser: object
) -> None:
    servers, token, _ = stack
    page = browser.new_page(viewport={"width": 1280, "height": 860})  # type: ignore[attr-defined]
    page.goto(f"{servers.rasa_url}/app/")
    page.fill("#token", "cpk_wrong")
    page.click("#signin-form button")
    page.wait_for_selector("#signin-error:not([hidden])")
    assert "令牌无效" in page.inner_text("#signin-error")

    page.fill("#token", token)
    page.click("#signin-form button")
    page.wait_for_selector("#app:not([hidden])")

    say(page, "帮我查一下王先生")
    page.click("#log .buttons button >> nth=0")
    page.wait_for_function(CARD_SHOWS.format(name="王"))
    assert "****" in page.inner_text("#card")
    page.screenshot(path=str(ARTIFACTS / "widget-lookup.png"))

    say(page, "开始接待王建国")
    page.wait_for_selector("#progress span.current")
    assert page.inner_text("#progress span.current") == "建立信任"
    assert page.locator("#chips .chip").count() >= 1
    say(page, "他说平时经常出差见客户")
    assert page.inner_text("#progress span.current") == "背景问题"
    page.click("#chips .chip button >> nth=0")
    page.wait_for_selector("#chips .chip button:has-text('已复制')")
    page.screenshot(path=str(ARTIFACTS / "widget-reception.png"))
    say(page, "结束接待")

    say(page, "开始陪练 练手表")
    page.wait_for_selector("#roleplay:not([hidden])")
    for line in ("您平时主要在什么场合戴表呢？", "最近工作上有哪些安排比较多？", "结束陪练"):
        say(page, line)
    page.wait_for_selector("#roleplay .score")
    assert "得分" in page.inner_text("#roleplay")
    assert page.locator("#roleplay .checks li").count() >= 9
    page.screenshot(path=str(ARTIFACTS / "widget-roleplay-scorecard.png"), full_page=True)
    page.close()


def test_toolbar_page_shows_the_chat_clients_card(
    stack: tuple[Servers, str, str], browser: object
) -> None:
    servers, token, external = stack
    page = browser.new_page(viewport={"width": 420, "height": 760})  # type: ignore[attr-defined]
    page.goto(f"{servers.rasa_url}/app/toolbar?external_userid={external}")
    page.fill("#token", token)
    page.click("#signin-form button")
    page.wait_for_function(CARD_SHOWS.format(name="王建国"))
    assert "普洱" in page.inner_text("#card")
    page.screenshot(path=str(ARTIFACTS / "toolbar.png"))
    page.close()
