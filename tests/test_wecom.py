"""WeCom: crypto against an independent implementation (wechatpy) and the official
sample, the send API against a local fake, rendering, and the channel end to end."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import xmltodict
from wechatpy.enterprise.crypto import WeChatCrypto

from bot.channels.wecom.api import WeComApiError, WeComClient
from bot.channels.wecom.crypto import WeComCrypto, WeComCryptoError
from bot.channels.wecom.render import MAX_BYTES, render, split
from bot.server import Servers, free_port, running
from tests.fake_wecom import FakeWeCom, running_fake

# The sample values published with WeCom's callback documentation.
SAMPLE = {
    "token": "QDG6eK",
    "key": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
    "corp": "wx5823bf96d3bd56c7",
}
SECRET = "test-secret"
THEIRS = WeChatCrypto(SAMPLE["token"], SAMPLE["key"], SAMPLE["corp"])
OURS = WeComCrypto(SAMPLE["token"], SAMPLE["key"], SAMPLE["corp"])


def test_official_sample_url_verification() -> None:
    echostr = (
        "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
    )
    plain = OURS.open_callback(
        "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780", echostr
    )
    assert plain == "1616140317555161061"


def test_interoperates_with_wechatpy_both_ways() -> None:
    sealed_by_them = xmltodict.parse(
        THEIRS.encrypt_message("<xml><Content>你好</Content></xml>", "n1", "1700000000")
    )["xml"]
    assert OURS.open_callback(
        sealed_by_them["MsgSignature"], "1700000000", "n1", sealed_by_them["Encrypt"]
    ) == ("<xml><Content>你好</Content></xml>")
    sealed_by_us = OURS.seal_reply("<xml><Content>收到</Content></xml>", "1700000001", "n2")
    signature = xmltodict.parse(sealed_by_us)["xml"]["MsgSignature"]
    assert (
        THEIRS.decrypt_message(sealed_by_us, signature, "1700000001", "n2")
        == "<xml><Content>收到</Content></xml>"
    )


def test_forged_signature_and_wrong_corp_are_refused() -> None:
    envelope = xmltodict.parse(THEIRS.encrypt_message("<xml/>", "n", "1"))["xml"]
    with pytest.raises(WeComCryptoError, match="signature"):
        OURS.open_callback("0" * 40, "1", "n", envelope["Encrypt"])
    other_corp = WeChatCrypto(SAMPLE["token"], SAMPLE["key"], "wwSOMEBODYELSE")
    foreign = xmltodict.parse(other_corp.encrypt_message("<xml/>", "n", "1"))["xml"]
    with pytest.raises(WeComCryptoError, match="corp id"):
        OURS.open_callback(foreign["MsgSignature"], "1", "n", foreign["Encrypt"])
    with pytest.raises(WeComCryptoError):
        OURS.decrypt("not base64 at all!")


@pytest.fixture()
def fake() -> Iterator[FakeWeCom]:
    with running_fake(SAMPLE["corp"], SECRET) as server:
        yield server


def client(fake: FakeWeCom, sleeps: list[float]) -> WeComClient:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return WeComClient(fake.base_url, SAMPLE["corp"], SECRET, "1000002", sleep=sleep)


def test_token_is_cached_and_refreshed_when_expired(fake: FakeWeCom) -> None:
    sleeps: list[float] = []

    async def scenario() -> None:
        api = client(fake, sleeps)
        for text in ("一", "二", "三"):
            await api.send_markdown("lina", text)
        assert fake.tokens_issued == 1
        fake.expire_token()
        await api.send_markdown("lina", "四")
        await api.close()

    asyncio.run(scenario())
    assert fake.tokens_issued == 2
    assert fake.messages_to("lina") == ["一", "二", "三", "四"]
    assert sleeps == []


def test_rate_limit_and_outage_are_retried_with_backoff(fake: FakeWeCom) -> None:
    sleeps: list[float] = []
    fake.forced_errors = [45009, 45009]
    fake.down_for = 1

    async def scenario() -> None:
        api = client(fake, sleeps)
        await api.send_markdown("lina", "到了吗")
        await api.close()

    asyncio.run(scenario())
    assert fake.messages_to("lina") == ["到了吗"]
    assert sleeps == [0.5, 1.0, 2.0]


def test_gives_up_after_the_last_attempt_and_on_permanent_errors(fake: FakeWeCom) -> None:
    sleeps: list[float] = []
    fake.down_for = 99

    async def down() -> None:
        api = client(fake, sleeps)
        with pytest.raises(WeComApiError, match="gave up after 5 attempts"):
            await api.send_markdown("lina", "丢了吗")
        fake.down_for = 0
        fake.forced_errors = [81013]
        with pytest.raises(WeComApiError, match="81013"):
            await api.send_markdown("nobody", "x")
        await api.close()

    asyncio.run(down())
    assert fake.sent == []
    assert len(sleeps) == 5


CHOICE_1 = '/lookup_client{"client_id": "C0001"}'
CHOICE_2 = '/lookup_client{"client_id": "C0002"}'


def test_render_numbers_buttons_and_splits_under_the_limit() -> None:
    long_text = "\n".join(
        f"{i}. 这是一条很长的建议话术，用来测试企业微信消息的长度限制。" for i in range(120)
    )
    rendered = render(
        [
            {"text": "找到2位「王先生」，是哪一位？",
             "buttons": [{"title": "王建国 · 上海恒隆店", "payload": CHOICE_1},
                         {"title": "王志强 · 北京SKP店", "payload": CHOICE_2}],
             "custom": {"copilot": {"mode": "idle"}}},
            {"text": long_text, "custom": {"copilot": {"mode": "idle"}}},
        ]
    )  # fmt: skip
    assert rendered.choices == [CHOICE_1, CHOICE_2]
    assert "1. 王建国 · 上海恒隆店" in rendered.chunks[0]
    assert len(rendered.chunks) > 1
    assert all(len(chunk.encode()) <= MAX_BYTES for chunk in rendered.chunks)
    assert "".join(rendered.chunks).count("这是一条很长的建议话术") == 120
    assert split("字" * 1000) == ["字" * 682, "字" * 318]


def test_numbered_choices_are_the_last_replys_buttons_from_the_shared_store() -> None:
    """The digits an advisor answers with are read from the conversation (the tracker
    store every replica shares), numbered as the reply was rendered."""
    from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.channels.wecom.channel import chosen, offered_choices

    asked = [
        {"text": "找到2位「王先生」，是哪一位？",
         "buttons": [{"title": "王建国", "payload": CHOICE_1},
                     {"title": "王志强", "payload": CHOICE_2}]},
        {"text": "也可能是：", "buttons": [{"title": "王大卫", "payload": "/choose_option"}]},
    ]  # fmt: skip
    events = [
        UserUttered("查一下王先生"),
        BotUttered("旧的问题", {"buttons": [{"title": "旧", "payload": "/old"}]}),
        UserUttered("再查一下王先生"),
        ActionExecuted("action_lookup_client"),
        *(BotUttered(m["text"], {"buttons": m["buttons"]}) for m in asked),
        ActionExecuted("action_listen"),
    ]
    tracker = DialogueStateTracker.from_events("A001", events)
    assert offered_choices(tracker) == render(asked).choices
    assert offered_choices(tracker) == [CHOICE_1, CHOICE_2, "/choose_option"]
    assert offered_choices(None) == []

    class Store:
        async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
            return tracker if sender_id == "A001" else None

    agent = type("Agent", (), {"tracker_store": Store()})()
    answers = [asyncio.run(chosen(agent, sender, text)) for sender, text in
               [("A001", "2"), ("A001", "4"), ("A001", "第二个"), ("A002", "1")]]  # fmt: skip
    assert answers == [CHOICE_2, "4", "第二个", "1"]


# ---- the channel, end to end: Rasa + actions + the fake WeCom API ----


@pytest.fixture(scope="module")
def wecom_stack(
    tmp_path_factory: pytest.TempPathFactory, trained_model: Path
) -> Iterator[tuple[Servers, FakeWeCom]]:
    from bot import demo
    from bot.advisors import upsert_advisor
    from bot.cards import db

    folder = tmp_path_factory.mktemp("wecom")
    url = f"sqlite:///{folder / 'copilot.db'}"
    db.upgrade(url)
    with db.session_scope(url) as session:
        demo.load_if_empty(session)
        upsert_advisor(session, "A001", "李娜", "上海恒隆店", "advisor", wecom_userid="lina")
    with running_fake(SAMPLE["corp"], SECRET) as fake:
        env = {
            "WECOM_CORP_ID": SAMPLE["corp"], "WECOM_AGENT_ID": "1000002", "WECOM_SECRET": SECRET,
            "WECOM_TOKEN": SAMPLE["token"], "WECOM_AES_KEY": SAMPLE["key"],
            "WECOM_API_BASE": fake.base_url,
        }  # fmt: skip
        with running(
            url, free_port(), free_port(), "127.0.0.1", folder / "log", env, free_port()
        ) as servers:
            yield servers, fake


def callback(
    servers: Servers, body: bytes, signature: str, timestamp: str, nonce: str
) -> tuple[int, bytes]:
    query = f"msg_signature={signature}&timestamp={timestamp}&nonce={nonce}"
    request = urllib.request.Request(
        f"{servers.rasa_url}/webhooks/wecom/webhook?{query}", data=body, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as failed:
        return failed.code, failed.read()


def text_message(user: str, content: str, msg_id: str) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{SAMPLE['corp']}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>"
        f"<MsgId>{msg_id}</MsgId><AgentID>1000002</AgentID></xml>"
    )


def deliver(servers: Servers, user: str, content: str, msg_id: str) -> tuple[int, bytes]:
    timestamp, nonce = str(int(time.time())), f"n{msg_id}"
    envelope = THEIRS.encrypt_message(text_message(user, content, msg_id), nonce, timestamp)
    signature = xmltodict.parse(envelope)["xml"]["MsgSignature"]
    return callback(servers, envelope.encode(), signature, timestamp, nonce)


def wait_for(fake: FakeWeCom, user: str, count: int, seconds: float = 20) -> list[str]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and len(fake.messages_to(user)) < count:
        time.sleep(0.2)
    return fake.messages_to(user)


def test_url_verification_through_the_channel(wecom_stack: tuple[Servers, FakeWeCom]) -> None:
    servers, _ = wecom_stack
    envelope = xmltodict.parse(THEIRS.encrypt_message("echo-20261123", "n", "1700000000"))["xml"]
    query = urllib.parse.urlencode(
        {"msg_signature": envelope["MsgSignature"], "timestamp": "1700000000", "nonce": "n",
         "echostr": envelope["Encrypt"]}
    )  # fmt: skip
    with urllib.request.urlopen(
        f"{servers.rasa_url}/webhooks/wecom/webhook?{query}", timeout=10
    ) as answer:
        assert answer.read() == b"echo-20261123"


def test_retried_callback_is_answered_once(wecom_stack: tuple[Servers, FakeWeCom]) -> None:
    servers, fake = wecom_stack
    before = len(fake.messages_to("lina"))
    for _ in range(3):  # WeCom retries a callback it thinks went unanswered
        status, body = deliver(servers, "lina", "你好", "7000000000000000001")
        assert (status, body) == (200, b"")
    replies = wait_for(fake, "lina", before + 1)
    time.sleep(3)
    assert len(fake.messages_to("lina")) == before + 1 == len(replies)


def test_buttons_become_digits(wecom_stack: tuple[Servers, FakeWeCom]) -> None:
    servers, fake = wecom_stack
    before = len(fake.messages_to("lina"))
    deliver(servers, "lina", "帮我查一下王先生", "7000000000000000002")
    asked = wait_for(fake, "lina", before + 1)[-1]
    assert "回复数字选择" in asked and "1. 王建国" in asked
    deliver(servers, "lina", "1", "7000000000000000003")
    card = wait_for(fake, "lina", before + 2)[-1]
    assert "📇 王建国" in card and "****" in card


def test_forged_and_malformed_callbacks_reach_nothing(
    wecom_stack: tuple[Servers, FakeWeCom],
) -> None:
    servers, fake = wecom_stack
    sent = len(fake.sent)
    envelope = THEIRS.encrypt_message(
        text_message("lina", "查一下王建国", "7000000000000000004"), "n", "1"
    )
    assert callback(servers, envelope.encode(), "f" * 40, "1", "n")[0] == 403
    foreign = WeChatCrypto(SAMPLE["token"], SAMPLE["key"], "wwSOMEBODYELSE")
    envelope = foreign.encrypt_message(
        text_message("lina", "查一下王建国", "7000000000000000005"), "n", "1"
    )
    signature = xmltodict.parse(envelope)["xml"]["MsgSignature"]
    assert callback(servers, envelope.encode(), signature, "1", "n")[0] == 403
    assert callback(servers, b"<xml><oops", "x", "1", "n")[0] == 400
    time.sleep(2)
    assert len(fake.sent) == sent


def test_unregistered_wecom_user_is_told_how_to_get_access(
    wecom_stack: tuple[Servers, FakeWeCom],
) -> None:
    servers, fake = wecom_stack
    deliver(servers, "stranger", "查一下王建国", "7000000000000000006")
    replies = wait_for(fake, "stranger", 1)
    assert replies and "还没有开通" in replies[0] and "王建国" not in replies[0]


def test_jssdk_config_is_signed_like_an_independent_implementation(
    wecom_stack: tuple[Servers, FakeWeCom],
) -> None:
    import json

    from wechatpy.client.api.jsapi import WeChatJSAPI

    servers, _ = wecom_stack
    page = "https://copilot.example.com/app/toolbar?from=chat#top"
    query = urllib.parse.urlencode({"url": page})
    with urllib.request.urlopen(
        f"{servers.rasa_url}/app/jssdk-config?{query}", timeout=10
    ) as answer:
        config = json.loads(answer.read())
    assert (config["corpId"], config["agentId"]) == (SAMPLE["corp"], "1000002")
    signer = WeChatJSAPI(client=None)
    bare = page.split("#")[0]
    expected = signer.get_jsapi_signature(
        config["nonceStr"], "ticket-jsapi", config["timestamp"], bare
    )
    agent = signer.get_jsapi_signature(
        config["nonceStr"], "ticket-agent_config", config["timestamp"], bare
    )
    assert (config["signature"], config["agentSignature"]) == (expected, agent)
