"""Guided flows through the rasa-sdk actions, with slots carried turn to turn."""

from __future__ import annotations

from typing import Any

from rasa_sdk.executor import CollectingDispatcher

from actions.cards import ActionLookupClient
from actions.chat import ActionChat
from actions.flows import (
    ActionEndSession,
    ActionJumpStep,
    ActionNextStep,
    ActionRelaySignal,
    ActionReportComplaint,
    ActionStartReception,
)
from actions.roleplay import ActionRoleplayTurn, ActionStartRoleplay
from tests.conftest import make_tracker

ACTIONS = {
    "start_reception": ActionStartReception(),
    "next_step": ActionNextStep(),
    "jump_step": ActionJumpStep(),
    "report_complaint": ActionReportComplaint(),
    "end_session": ActionEndSession(),
    "lookup_client": ActionLookupClient(),
    "start_roleplay": ActionStartRoleplay(),
    "ask_situation": ActionRoleplayTurn(),
    "ask_problem": ActionRoleplayTurn(),
    "ask_implication": ActionRoleplayTurn(),
    "ask_need_payoff": ActionRoleplayTurn(),
    "pitch_product": ActionRoleplayTurn(),
    "greet": ActionChat(),
    "other": ActionChat(),
}


class Conversation:
    """One advisor's conversation: the rules' intent → action mapping, slots kept."""

    def __init__(self, sender: str = "A001") -> None:
        self.sender = sender
        self.slots: dict[str, Any] = {}

    def say(self, text: str, intent: str, **entities: str) -> list[dict]:
        action = ACTIONS.get(intent) or ActionRelaySignal()
        found = [{"entity": k, "value": v} for k, v in entities.items()]
        dispatcher = CollectingDispatcher()
        tracker = make_tracker(text, intent, found, sender=self.sender, slots=dict(self.slots))
        for event in action.run(dispatcher, tracker, {}):
            self.slots[event["name"]] = event["value"]
        return dispatcher.messages

    @staticmethod
    def payload(messages: list[dict]) -> dict:
        return messages[-1]["custom"]["copilot"]


def test_reception_walks_spin_in_order_and_writes_a_visit_note(demo_db: str) -> None:
    chat = Conversation()
    opened = chat.say("开始接待王建国", "start_reception")
    payload = chat.payload(opened)
    assert (payload["mode"], payload["flow_step"]) == ("reception", "rapport")
    assert payload["client"]["name"] == "王建国"
    rapport = [s["text"] for s in payload["suggestions"]]
    assert 1 <= len(rapport) <= 3
    assert any("普洱" in s or "靠窗" in s for s in rapport), rapport  # his card, used
    steps = []
    for text, intent in [
        ("他说平时经常出差见客户", "client_situation"),
        ("他说现在戴的是一块运动表", "client_situation"),
        ("他说运动表配西装不够正式", "client_problem"),
        ("他说见客户时确实有点尴尬", "client_implication"),
        ("他说想要一块轻一点又正式的表", "client_need"),
        ("他试戴了三次 问能不能刻字", "client_interest"),
    ]:
        messages = chat.say(text, intent)
        steps.append(chat.payload(messages)["flow_step"])
        assert chat.payload(messages)["suggestions"], text
    assert steps == ["situation", "problem", "implication", "need_payoff", "value", "close"]
    need_payoff = chat.payload(chat.say("下一步怎么说", "next_step"))
    assert need_payoff["flow_step"] == "close"
    ended = chat.say("结束接待", "end_session")
    summary = chat.payload(ended)["summary"]
    assert chat.payload(ended)["mode"] == "idle"
    assert summary["facts"]["need_payoff"] == ["想要一块轻一点又正式的表"]
    assert summary["reached"] == "close"
    # Another store's advisor sees the note on the next lookup.
    beijing = Conversation("A002")
    card = beijing.payload(beijing.say("查一下王建国", "lookup_client"))["client"]
    assert card["notes"][0]["kind"] == "visit"
    assert "想要一块轻一点又正式的表" in card["notes"][0]["summary"]
    assert card["notes"][0]["store"] == "上海恒隆店"


def test_suggestions_are_not_repeated_within_a_session(demo_db: str) -> None:
    chat = Conversation()
    first = chat.payload(chat.say("开始接待王建国", "start_reception"))
    seen = [s["text"] for s in first["suggestions"]]
    last: list[dict] = []
    for _ in range(4):
        last = chat.say("还有别的说法吗", "next_step")
        seen += [s["text"] for s in chat.payload(last)["suggestions"]]
    assert len(seen) == len(set(seen)) >= 5
    assert "都给过了" in last[-1]["text"]


def test_hesitant_client_gets_a_hook_without_pressure(demo_db: str) -> None:
    chat = Conversation()
    chat.say("开始接待张雅琴", "start_reception")
    payload = chat.payload(chat.say("她说再考虑考虑 回去跟老公商量", "client_hesitation"))
    assert payload["flow_step"] == "hook"
    assert payload["skipped"], "moving straight to the hook must not be silent"
    for suggestion in payload["suggestions"]:
        assert suggestion["step"] == "hook"
        assert "今天" not in suggestion["text"] or "不买" not in suggestion["text"]


def test_price_objection_reframes_value_without_discount(demo_db: str) -> None:
    chat = Conversation()
    chat.say("开始接待王建国", "start_reception")
    chat.say("他说想要一块轻一点又正式的表", "client_need")
    messages = chat.say("他嫌太贵了 说免税店便宜两千", "client_price_objection")
    payload = chat.payload(messages)
    assert payload["flow_step"] == "need_payoff" or payload["flow_step"] == "rapport"
    assert all(s["step"] == "price_objection" for s in payload["suggestions"])
    assert "别让价" in messages[0]["text"]
    for suggestion in payload["suggestions"]:
        assert "折" not in suggestion["text"]


def test_explicit_moves(demo_db: str) -> None:
    chat = Conversation()
    chat.say("开始接待王建国", "start_reception")
    assert chat.payload(chat.say("直接到需求确认", "jump_step"))["flow_step"] == "need_payoff"
    assert chat.payload(chat.say("回到背景问题", "jump_step"))["flow_step"] == "situation"
    assert chat.payload(chat.say("退回上一步", "jump_step"))["flow_step"] == "rapport"
    unknown = chat.say("跳一下", "jump_step")
    assert "没听出要去哪一步" in unknown[0]["text"]


def test_complaint_runs_five_steps_with_deadlines(demo_db: str) -> None:
    chat = Conversation()
    opened = chat.payload(chat.say("周女士投诉定制胸针延期了一个月", "report_complaint"))
    assert (opened["mode"], opened["flow_step"]) == ("complaint", "respond")
    assert opened["client"]["name"] == "周晓雯"
    assert [d["step"] for d in opened["deadlines"]] == ["respond", "resolve"]
    assert opened["compensation"]["options"]
    assert opened["client"]["notes"][0]["kind"] == "complaint"
    assert opened["client"]["notes"][0]["status"] == "open"
    steps = [opened["flow_step"]]
    for text, intent in [
        ("她说上个月在恒隆店订的", "client_problem"),
        ("她说当时顾问说三周就到 一直没人通知她", "client_situation"),
        ("她要一个说法 希望尽快拿到", "client_need"),
        ("她说可以接受加急的方案", "client_interest"),
        ("她说补偿可以 谢谢", "client_interest"),
    ]:
        steps.append(chat.payload(chat.say(text, intent))["flow_step"])
    assert steps == ["respond", "empathise", "empathise", "resolve", "compensate", "improve"]
    ended = chat.payload(chat.say("结束 写个小结", "end_session"))
    note = ended["client"]["notes"][0]
    assert (note["kind"], note["status"]) == ("complaint", "resolved")


def test_walk_in_reception_offers_a_card_at_the_end(demo_db: str) -> None:
    chat = Conversation()
    opened = chat.payload(chat.say("来了位新客人 帮我带一下流程", "start_reception"))
    assert opened["client"] is None and opened["flow_step"] == "rapport"
    assert all("{" not in s["text"] for s in opened["suggestions"])
    ended = chat.say("客人走了", "end_session")
    assert "要建一张吗" in ended[0]["text"]


def test_more_complaint_detail_is_filed_not_a_new_complaint(demo_db: str) -> None:
    chat = Conversation()
    chat.say("周女士投诉定制胸针延期了一个月", "report_complaint")
    note_count = len(chat.payload(chat.say("查一下周晓雯", "lookup_client"))["client"]["notes"])
    payload = chat.payload(
        chat.say("她说当时顾问答应三周到货 后来一直没人通知她", "report_complaint")
    )
    assert payload["mode"] == "complaint" and payload["flow_step"] == "empathise"
    assert len(payload["client"]["notes"]) == note_count


def test_complaint_without_a_name_uses_the_client_being_served(demo_db: str) -> None:
    chat = Conversation()
    chat.say("开始接待张雅琴", "start_reception")
    payload = chat.payload(chat.say("客人突然很生气 说上次面霜用了过敏 要投诉", "report_complaint"))
    assert payload["mode"] == "complaint" and payload["client"]["name"] == "张雅琴"
