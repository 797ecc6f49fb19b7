"""The card actions through rasa-sdk: real SQLite, CollectingDispatcher, tracker fixtures."""

from __future__ import annotations

import json
import re
from typing import Any

from rasa_sdk.executor import CollectingDispatcher

from actions.cards import (
    ActionChooseOption,
    ActionCorrectRecord,
    ActionCreateClient,
    ActionLookupClient,
    ActionRecordPreference,
)
from actions.chat import ActionChat
from bot.advisors import AdvisorIdentity
from tests.conftest import make_tracker

PHONE = re.compile(r"1\d{10}")


def run(action: Any, text: str, intent: str, **kwargs: Any) -> tuple[list[dict], list[dict]]:
    dispatcher = CollectingDispatcher()
    events = action.run(dispatcher, make_tracker(text, intent, **kwargs), {})
    return dispatcher.messages, events


def slots(events: list[dict]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def copilot(message: dict) -> dict:
    return message["custom"]["copilot"]


def assert_no_plain_phone(messages: list[dict]) -> None:
    assert not PHONE.search(json.dumps(messages, ensure_ascii=False))


def test_honorific_with_two_matches_asks_which_one(demo_db: str) -> None:
    messages, events = run(ActionLookupClient(), "帮我查一下王先生", "lookup_client")
    assert len(messages) == 1 and "找到2位「王先生」" in messages[0]["text"]
    buttons = messages[0]["buttons"]
    assert len(buttons) == 2
    assert {b["payload"] for b in buttons} == {
        '/choose_option{"client_id": "C0001"}',
        '/choose_option{"client_id": "C0002"}',
    }
    assert all(re.search(r"尾号\d{4}", b["title"]) for b in buttons)
    assert copilot(messages[0])["client"] is None
    assert copilot(messages[0])["question"]["kind"] == "client"
    assert slots(events)["awaiting"] == "client"
    assert slots(events)["pending"]["candidates"] == ["C0001", "C0002"]
    # answered in words: 第二个 / 尾号8795 / 北京那位 all mean 王志强
    for answer in ("第二个", "尾号8795", "北京那位", "王志强"):
        chosen, after = run(ActionChooseOption(), answer, "choose_option", slots=slots(events))
        assert copilot(chosen[-1])["client"]["name"] == "王志强", answer
        assert slots(after)["awaiting"] is None


def test_choosing_a_button_shows_the_card_and_sets_it_active(demo_db: str) -> None:
    messages, events = run(
        ActionLookupClient(), '/lookup_client{"client_id": "C0001"}', "lookup_client",
        entities=[{"entity": "client_id", "value": "C0001"}],
    )  # fmt: skip
    card = copilot(messages[-1])["client"]
    assert card["name"] == "王建国" and card["home_store"]
    assert "****" in card["phone"]
    assert "王建国" in messages[-1]["text"]
    assert re.search(r"电话 \d{3}\*{4}\d{4}", messages[-1]["text"])
    assert slots(events) == {"active_client_id": "C0001"}
    assert_no_plain_phone(messages)


def test_unknown_client_offers_a_new_card(demo_db: str) -> None:
    name = {"entity": "client_name", "value": "诸葛亮", "start": 3, "end": 6}
    messages, _ = run(ActionLookupClient(), "查一下诸葛亮", "lookup_client", entities=[name])
    assert "没有找到「诸葛亮」" in messages[0]["text"]
    assert messages[0]["buttons"][0]["payload"] == '/create_client{"client_name": "诸葛亮"}'
    created, events = run(
        ActionCreateClient(), '/create_client{"client_name": "诸葛亮"}', "create_client",
        entities=[{"entity": "client_name", "value": "诸葛亮"}],
    )  # fmt: skip
    assert len(created) == 1
    assert created[0]["text"].startswith("已为「诸葛亮」新建客户卡")
    assert "\n\n📇 诸葛亮" in created[0]["text"]
    assert copilot(created[-1])["client"]["home_store"] == "上海恒隆店"
    assert slots(events)["active_client_id"].startswith("N")


def test_record_preference_then_lookup_from_another_store(demo_db: str) -> None:
    messages, events = run(ActionRecordPreference(), "记一下,王建国不吃蒜", "record_preference")
    assert "已记到王先生（王建国 · 上海恒隆店）的卡上：忌口：不吃蒜" in messages[0]["text"]
    assert copilot(messages[0])["writes"][0]["change"] == "added"
    assert slots(events)["active_client_id"] == "C0001"
    shown, _ = run(ActionLookupClient(), "查一下王建国", "lookup_client", sender="A002")
    prefs = copilot(shown[-1])["client"]["preferences"]
    garlic = [p for p in prefs if p["value"] == "不吃蒜"]
    assert garlic and garlic[0]["store"] == "上海恒隆店" and garlic[0]["recorded_by"] == "李娜"
    assert "不吃蒜（李娜@上海恒隆店）" in shown[-1]["text"]


def test_record_is_attributed_to_the_advisor_the_channel_attached(demo_db: str) -> None:
    # The channel authenticated the advisor and attached who they are; the action
    # server takes that rather than looking the sender up again.
    guest = AdvisorIdentity("A900", "林晓", "成都太古里店", "advisor")
    messages, _ = run(
        ActionRecordPreference(),
        "记一下,王建国喜欢喝美式",
        "record_preference",
        sender="A900",
        metadata=guest.to_metadata(),
    )
    shown = copilot(messages[-1])["client"]["preferences"]
    assert {"store": "成都太古里店", "recorded_by": "林晓"}.items() <= shown[-1].items()


def test_record_with_honorific_and_drink(demo_db: str) -> None:
    messages, _ = run(ActionRecordPreference(), "张女士酸梅汤要冰的大杯", "record_preference")
    assert "张女士（张雅琴 · 杭州大厦店）" in messages[0]["text"]
    assert "饮品：酸梅汤要冰的大杯" in messages[0]["text"]


def test_ambiguous_record_keeps_the_note_until_chosen(demo_db: str) -> None:
    messages, events = run(ActionRecordPreference(), "记一下 王先生喜欢靠窗", "record_preference")
    assert "是哪一位" in messages[0]["text"]
    pending = slots(events)["pending"]
    assert pending["fact"]["category"] == "座位" and pending["fact"]["value"] == "喜欢靠窗"
    payload = messages[0]["buttons"][1]["payload"]
    client_id = json.loads(payload[payload.index("{") :])["client_id"]
    saved, events = run(
        ActionChooseOption(), payload, "choose_option",
        entities=[{"entity": "client_id", "value": client_id}],
        slots={"pending": pending, "awaiting": "client"},
    )  # fmt: skip
    assert "座位：喜欢靠窗" in saved[0]["text"]
    assert slots(events) == {"active_client_id": client_id, "pending": None, "awaiting": None}


def test_record_without_name_uses_active_client(demo_db: str) -> None:
    messages, _ = run(
        ActionRecordPreference(), "记一下 她喜欢玫瑰金", "record_preference",
        slots={"active_client_id": "C0003"},
    )  # fmt: skip
    assert "张雅琴" in messages[0]["text"] and "颜色：喜欢玫瑰金" in messages[0]["text"]


def test_a_pronoun_that_contradicts_the_card_asks(demo_db: str) -> None:
    messages, events = run(
        ActionRecordPreference(), "记一下 她喜欢白茶", "record_preference",
        slots={"active_client_id": "C0001"},  # 王建国, 男
    )  # fmt: skip
    assert copilot(messages[0])["question"]["kind"] == "client"
    assert "writes" not in copilot(messages[0])
    assert slots(events)["pending"]["fact"]["value"] == "喜欢白茶"


def test_a_named_stranger_is_never_replaced_by_the_active_client(demo_db: str) -> None:
    for text in ("记一下Amy孙喜欢喝气泡水", "记一下张伟喜欢喝拿铁"):
        messages, events = run(
            ActionRecordPreference(), text, "record_preference",
            slots={"active_client_id": "C0012"},
        )  # fmt: skip
        assert copilot(messages[0])["not_found"] in ("Amy孙", "张伟")
        assert copilot(messages[0])["client"] is None and "writes" not in copilot(messages[0])
        assert "active_client_id" not in slots(events)
    shown, _ = run(
        ActionLookupClient(),
        "帮我查一下Linda",
        "lookup_client",
        slots={"active_client_id": "C0012"},
    )
    assert copilot(shown[0])["client"] is None and copilot(shown[0])["not_found"] == "Linda"


def test_record_without_any_client_asks_for_one(demo_db: str) -> None:
    run(ActionRecordPreference(), "记一下,王建国不吃蒜", "record_preference")
    messages, events = run(ActionRecordPreference(), "记一下 不吃香菜", "record_preference")
    assert "记在哪位客户" in messages[0]["text"]
    assert slots(events)["pending"]["fact"]["value"] == "不吃香菜"
    # the advisor's recent clients are offered
    assert [b["title"].split(" · ")[0] for b in messages[0]["buttons"]] == ["王建国"]
    saved, _ = run(ActionChooseOption(), "第一个", "choose_option", slots=slots(events))
    assert copilot(saved[0])["writes"][0]["client_name"] == "王建国"


def test_undo_and_correction_leave_one_current_value(demo_db: str) -> None:
    run(ActionRecordPreference(), "记一下王志强喜欢喝单枞", "record_preference")
    fixed, _ = run(ActionCorrectRecord(), "不是单枞是大红袍", "correct_record")
    changes = [(w["value"], w["change"]) for w in copilot(fixed[0])["writes"]]
    # the corrected word replaced inside the value, the rest of the note kept
    assert changes == [("喜欢喝单枞", "retracted"), ("喜欢喝大红袍", "added")]
    undone, _ = run(ActionCorrectRecord(), "撤回", "correct_record")
    assert "撤回" in undone[0]["text"] and "大红袍" in undone[0]["text"]
    values = [p["value"] for p in copilot(undone[0])["client"]["preferences"]]
    assert "喜欢喝大红袍" not in values and "喜欢喝单枞" not in values


def test_every_reply_carries_the_payload_contract(demo_db: str) -> None:
    messages, _ = run(
        ActionChat(), "你好", "greet", slots={"active_client_id": "C0001", "mode": "idle"}
    )
    payload = copilot(messages[0])
    assert set(payload) >= {"mode", "flow_step", "client", "suggestions", "roleplay"}
    assert payload["mode"] == "idle" and payload["client"]["id"] == "C0001"
    assert_no_plain_phone(messages)
