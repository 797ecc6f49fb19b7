"""In Debian's headless Chromium, against running servers and the fake WeCom API:
WeCom OAuth sign-in on the toolbar page and the widget (and the widget showing only
its sign-in form before that), and the manager's page with KPIs computed from
imported purchases, its charts and CSV export. Screenshots go to test-artifacts/."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.server import Servers, free_port, running
from tests.fake_wecom import FakeWeCom, running_fake
from tests.test_browser import ARTIFACTS, CARD_SHOWS, CHROMIUM_FLAGS, chromium

pytestmark = pytest.mark.servers
CORP, SECRET, AGENT = "wwcorp0001", "fake-secret", "1000002"
IN_WECOM = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36 wxwork/4.1.22 MicroMessenger/7.0.1 Language/zh ColorScheme/Light"
)
# Four of the 32 demo members buy within the year: activation 4/32 → 13 %.
PURCHASES = [
    ("C0001", 10, "上海恒隆店", "86000", "腕表", "S1", "10"),
    ("C0001", 40, "上海恒隆店", "12000", "表带", "S2", ""),
    ("C0004", 20, "上海恒隆店", "52000", "珠宝", "S3", "9"),
    ("C0030", 100, "上海恒隆店", "18000", "珠宝", "S4", "6"),
    ("C0002", 5, "北京SKP店", "240000", "腕表", "B1", "8"),
]


@dataclass
class Stack:
    servers: Servers
    fake: FakeWeCom
    external: str


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, trained_model: Path) -> Iterator[Stack]:
    from bot import demo
    from bot.advisors import upsert_advisor
    from bot.cards import db
    from bot.cards.models import Client, PreferenceEvent, Roleplay, VisitNote
    from bot.clock import to_local, utcnow
    from bot.followups import tasks
    from bot.purchases.importer import import_purchases

    folder = tmp_path_factory.mktemp("manager")
    url = f"sqlite:///{folder / 'copilot.db'}"
    db.upgrade(url)
    now = utcnow()
    today = to_local(now).date()
    sales = folder / "sales.csv"
    with sales.open("w", encoding="gbk", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["会员编号", "消费日期", "门店", "实付金额", "品类", "订单号", "推荐意愿"])
        for client, days, store, amount, category, order, nps in PURCHASES:
            writer.writerow([client, (today - timedelta(days=days)).isoformat(), store, amount,
                             category, order, nps])  # fmt: skip
    with db.session_scope(url) as session:
        demo.load_if_empty(session)
        upsert_advisor(session, "A001", "李娜", "上海恒隆店", "advisor", "lina")
        upsert_advisor(session, "A007", "吴海燕", "上海恒隆店", "manager", "wuhaiyan")
        import_purchases(session, sales, today)
        # A complaint whose first contact is overdue, one handled in time, role-plays, notes.
        for minutes in (90, 300):
            session.add(
                VisitNote(client_id="C0001", kind="complaint", advisor_id="A001",
                          store="上海恒隆店", summary="投诉：表送修拖了一个月",
                          details={"issue": "表送修拖了一个月"}, status="open",
                          created_at=now - timedelta(minutes=minutes))
            )  # fmt: skip
        session.flush()
        tasks.generate(session, now - timedelta(minutes=295))
        older = session.scalars(select(VisitNote).order_by(VisitNote.created_at)).first()
        tasks.record_complaint_progress(
            session, older.id, ["respond", "resolve"], now - timedelta(minutes=280)
        )
        older.status = "resolved"
        tasks.generate(session, now)
        for weeks, score in ((2, 58), (1, 71), (0, 84)):
            session.add(
                Roleplay(advisor_id="A001", persona_id="tech_founder_watch", transcript=[],
                         checks=[], score=score, outcome="bought",
                         started_at=now - timedelta(weeks=weeks, minutes=20),
                         ended_at=now - timedelta(weeks=weeks))
            )  # fmt: skip
        for days, value in ((1, "不吃蒜"), (8, "爱喝普洱"), (8, "靠窗座位")):
            session.add(
                PreferenceEvent(client_id="C0001", action="added", category="忌口", value=value,
                                detail="", advisor_id="A001", advisor_name="李娜",
                                store="上海恒隆店", at=now - timedelta(days=days))
            )  # fmt: skip
        external = session.get(Client, "C0001").wecom_external_userid
    with running_fake(CORP, SECRET) as fake:
        env = {
            "WECOM_CORP_ID": CORP, "WECOM_SECRET": SECRET, "WECOM_AGENT_ID": AGENT,
            "WECOM_API_BASE": fake.base_url, "WECOM_OAUTH_BASE": fake.base_url,
        }  # fmt: skip
        with running(
            url, free_port(), free_port(), "127.0.0.1", folder / "log", extra_env=env,
            nlu_port=free_port(),
        ) as servers:  # fmt: skip
            yield Stack(servers, fake, external)


@pytest.fixture(scope="module")
def browser(stack: Stack) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    path = chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=path, headless=True, args=CHROMIUM_FLAGS
        )
        yield instance
        instance.close()


def page_in(browser: Any, wecom: bool, width: int = 1280, height: int = 860) -> Any:
    context = browser.new_context(
        user_agent=IN_WECOM if wecom else None, viewport={"width": width, "height": height},
        accept_downloads=True,
    )  # fmt: skip
    return context.new_page()


def test_widget_shows_only_the_sign_in_form_before_sign_in(stack: Stack, browser: Any) -> None:
    page = page_in(browser, wecom=False)
    page.goto(f"{stack.servers.rasa_url}/app/")
    page.wait_for_selector("#signin-form")
    assert page.is_visible("#signin") and page.is_visible("#token")
    for hidden in ("#app", "#log", "#send", "#card", "#signout"):
        assert page.locator(hidden).is_hidden(), hidden
    assert page.evaluate("getComputedStyle(document.getElementById('app')).display") == "none"
    page.screenshot(path=str(ARTIFACTS / "widget-signin-only.png"))
    page.context.close()


def test_toolbar_signs_in_through_wecom_oauth(stack: Stack, browser: Any) -> None:
    stack.fake.oauth_user = "lina"
    exchanged = len(stack.fake.exchanged)
    page = page_in(browser, wecom=True, width=420, height=760)
    page.goto(f"{stack.servers.rasa_url}/app/toolbar?external_userid={stack.external}")
    page.wait_for_function(CARD_SHOWS.format(name="王建国"))
    assert len(stack.fake.exchanged) == exchanged + 1  # one code, exchanged once
    assert "copilot_token" not in page.url and page.url.endswith(stack.external)
    token = page.evaluate("localStorage.getItem('copilot.token')")
    assert token.startswith("cps_")
    assert "普洱" in page.inner_text("#card")
    assert "最近到店" in page.inner_text("#card .value")  # the purchases show on the card
    page.screenshot(path=str(ARTIFACTS / "toolbar-wecom-oauth.png"))
    page.context.close()


def test_widget_signs_in_through_wecom_and_refuses_strangers(stack: Stack, browser: Any) -> None:
    stack.fake.oauth_user = "someone-else"  # a WeCom member never registered as an advisor
    page = page_in(browser, wecom=True)
    page.goto(f"{stack.servers.rasa_url}/app/")
    page.wait_for_selector("#signin-error:not([hidden])")
    assert "还没有登记为顾问" in page.inner_text("#signin-error")
    assert page.locator("#app").is_hidden()
    page.context.close()

    stack.fake.oauth_user = "lina"
    page = page_in(browser, wecom=True)
    page.goto(f"{stack.servers.rasa_url}/app/")
    page.wait_for_selector("#app:not([hidden])")
    page.fill("#message", "你好")
    page.click("#send button")
    page.wait_for_selector("#log li.bot")  # the session token works on the copilot channel
    assert "令牌无效" not in page.inner_text("#log")
    page.context.close()


def test_manager_page_kpis_charts_and_csv_in_chromium(stack: Stack, browser: Any) -> None:
    # An advisor signed in through WeCom is turned away from the manager's page.
    stack.fake.oauth_user = "lina"
    page = page_in(browser, wecom=True)
    page.goto(f"{stack.servers.rasa_url}/app/manager")
    page.wait_for_selector("#signin-error:not([hidden])")
    assert "只对店长开放" in page.inner_text("#signin-error")
    page.context.close()

    stack.fake.oauth_user = "wuhaiyan"
    page = page_in(browser, wecom=True, height=1100)
    page.goto(f"{stack.servers.rasa_url}/app/manager")
    page.wait_for_selector("body[data-loaded='true']")
    assert "吴海燕 · 上海恒隆店" in page.inner_text("#who")
    activation = page.inner_text("#kpis [data-kpi='activation'] .value")
    assert activation == "13%"  # 4 of 32 members bought within the year
    # NPS answers 10, 9, 6, 8: promoters 2, detractors 1 of 4 → 25
    assert page.inner_text("#kpis [data-kpi='nps'] .value") == "25"
    assert page.inner_text("#kpis [data-kpi='benefits_roi'] .value") == "无数据"
    for chart in ("followups", "sla", "roleplay", "enriched"):
        assert page.locator(f"#chart-{chart} canvas").count() >= 1, chart
    store_row = page.inner_text("#table-followups_by_store tbody")
    assert "上海恒隆店" in store_row and "50%" in store_row  # 1 of 2 first contacts in time
    assert page.locator("#tables .table-card").count() == 6
    page.screenshot(path=str(ARTIFACTS / "manager.png"), full_page=True)

    with page.expect_download() as download:
        page.click("[data-export='membership_kpis']")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["门店", "会员数", "高净值会员占比（目标≥30%）"]
    assert rows[-1][0] == "全部门店" and rows[-1][1] == "32"
    page.context.close()
