"""End to end: the servers started as `copilot up` starts them, talked to over HTTP."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.server import Servers, free_port, running

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory, trained_model: Path) -> Iterator[Servers]:
    folder = tmp_path_factory.mktemp("e2e")
    url = f"sqlite:///{folder / 'copilot.db'}"
    from bot import demo
    from bot.cards import db

    db.upgrade(url)
    with db.session_scope(url) as session:
        demo.load_if_empty(session)
    with running(
        url, free_port(), free_port(), "127.0.0.1", folder / "log", nlu_port=free_port()
    ) as started:
        yield started


@pytest.fixture(scope="module")
def tokens(servers: Servers) -> dict[str, str]:
    from bot.advisors import issue_token, upsert_advisor
    from bot.cards import db

    with db.session_scope(servers.db_url) as session:
        return {
            "shanghai": issue_token(
                session, upsert_advisor(session, "A001", "李娜", "上海恒隆店", "advisor")
            ),
            "beijing": issue_token(
                session, upsert_advisor(session, "A002", "陈思远", "北京SKP店", "advisor")
            ),
        }


def post(servers: Servers, body: Any, token: str | None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    request = urllib.request.Request(servers.webhook, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as failed:
        return failed.code, json.loads(failed.read() or b"null")


def say(servers: Servers, token: str, text: str) -> list[dict]:
    status, replies = post(servers, {"message": text}, token)
    assert status == 200, replies
    assert replies, f"no reply to {text!r}"
    for reply in replies:
        assert "copilot" in reply["custom"], reply
    return replies


def test_the_server_hooks_are_installed_at_start(servers: Servers) -> None:
    """bot.rasa_server hands bot.rasa_patches to Rasa's start-up; it says so once done.

    Sanic runs ``after_server_start`` listeners once the server is already listening,
    so on a busy machine the line can come a moment after the servers answer.
    """
    line = "Copilot speed-ups installed (bot.rasa_patches)"
    log = servers.log_dir / "rasa.log"
    for _ in range(120):
        if line in log.read_text(encoding="utf-8", errors="replace"):
            return
        time.sleep(0.5)
    pytest.fail(f"{line!r} never appeared in {log}")


def test_missing_or_bad_token_gets_401(servers: Servers, tokens: dict[str, str]) -> None:
    assert post(servers, {"message": "查一下王建国"}, None)[0] == 401
    assert post(servers, {"message": "查一下王建国"}, "cpk_not-a-real-token")[0] == 401
    status, body = post(servers, {"message": "查一下王建国", "sender": "A001"}, "garbage")
    assert status == 401 and "token" in body["error"]


def test_bad_body_gets_400(servers: Servers, tokens: dict[str, str]) -> None:
    assert post(servers, b"{not json", tokens["shanghai"])[0] == 400
    assert post(servers, {"text": "hi"}, tokens["shanghai"])[0] == 400


def test_lookup_disambiguation_and_card(servers: Servers, tokens: dict[str, str]) -> None:
    replies = say(servers, tokens["shanghai"], "帮我查一下王先生")
    buttons = replies[-1].get("buttons") or []
    assert len(buttons) == 2, replies
    card_replies = say(servers, tokens["shanghai"], buttons[0]["payload"])
    client = card_replies[-1]["custom"]["copilot"]["client"]
    assert client["name"] in {"王建国", "王志强"}
    assert "****" in client["phone"]


def test_recorded_preference_is_seen_from_another_store(
    servers: Servers, tokens: dict[str, str]
) -> None:
    recorded = say(servers, tokens["shanghai"], "记一下,王建国不吃蒜")
    assert "不吃蒜" in recorded[0]["text"], recorded
    shown = say(servers, tokens["beijing"], "查一下王建国")
    client = shown[-1]["custom"]["copilot"]["client"]
    garlic = [p for p in client["preferences"] if p["value"] == "不吃蒜"]
    assert garlic and garlic[0]["store"] == "上海恒隆店"
    assert "不吃蒜" in shown[-1]["text"]


def test_sender_comes_from_the_token(servers: Servers, tokens: dict[str, str]) -> None:
    say(servers, tokens["beijing"], "查一下张雅琴")
    # Beijing's active client must not leak into Shanghai's conversation.
    replies = say(servers, tokens["shanghai"], "你好")
    assert replies[0]["custom"]["copilot"]["client"] is None or (
        replies[0]["custom"]["copilot"]["client"]["name"] != "张雅琴"
    )


def test_reception_through_the_channel_leaves_a_note_for_other_stores(
    servers: Servers, tokens: dict[str, str]
) -> None:
    shanghai = tokens["shanghai"]
    opened = say(servers, shanghai, "开始接待王建国")
    payload = opened[-1]["custom"]["copilot"]
    assert (payload["mode"], payload["flow_step"]) == ("reception", "rapport")
    assert payload["suggestions"]
    steps = []
    for text in [
        "他说平时经常出差见客户",
        "他说平时戴的是一块运动表",
        "他说运动表配西装不太正式",
        "他说开会的时候确实有点没面子",
        "他说想要一块轻一点又正式的表",
    ]:
        steps.append(say(servers, shanghai, text)[-1]["custom"]["copilot"]["flow_step"])
    assert steps == ["situation", "problem", "implication", "need_payoff", "value"]
    ended = say(servers, shanghai, "结束接待")
    assert ended[-1]["custom"]["copilot"]["mode"] == "idle"
    card = say(servers, tokens["beijing"], "查一下王建国")[-1]["custom"]["copilot"]["client"]
    assert card["notes"][0]["kind"] == "visit"
    assert "轻一点又正式的表" in card["notes"][0]["summary"]


def test_complaint_through_the_channel_has_deadlines(
    servers: Servers, tokens: dict[str, str]
) -> None:
    replies = say(servers, tokens["beijing"], "周女士投诉定制胸针延期了一个月")
    payload = replies[-1]["custom"]["copilot"]
    assert (payload["mode"], payload["flow_step"]) == ("complaint", "respond")
    assert [d["step"] for d in payload["deadlines"]] == ["respond", "resolve"]
    assert {c["id"] for c in payload["checklist"]} == {"contacted"}
    say(servers, tokens["beijing"], "结束")


def test_roleplay_through_the_channel_ends_with_a_scorecard(
    servers: Servers, tokens: dict[str, str]
) -> None:
    token = tokens["beijing"]
    started = say(servers, token, "开始陪练 练手表")
    roleplay = started[-1]["custom"]["copilot"]["roleplay"]
    assert started[-1]["custom"]["copilot"]["mode"] == "roleplay" and roleplay["persona"]
    answer = say(servers, token, "您平时主要在什么场合戴表呢？")
    assert answer[-1]["text"].startswith("【")
    ended = say(servers, token, "结束陪练")
    payload = ended[-1]["custom"]["copilot"]
    assert payload["mode"] == "idle"
    assert 0 <= payload["roleplay"]["scorecard"]["score"] <= 100
    assert "陪练得分" in ended[-1]["text"]
