"""The step engine, table-driven: every transition, explicit moves, no silent skips."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from bot.datafiles import DataFileError
from bot.flows.definition import load_flows, parse_flow
from bot.flows.engine import Session, jump, neighbour, note, open_session, relay

NOW = datetime(2026, 11, 23, 6, 0, 0)
RECEPTION = load_flows()["reception"]
COMPLAINT = load_flows()["complaint"]


# (step before, relayed signal, step after, skipped steps reported)
TRANSITIONS = [
    ("rapport", "client_situation", "situation", ()),
    ("situation", "client_problem", "implication", ()),
    ("problem", "client_problem", "implication", ()),
    ("implication", "client_implication", "need_payoff", ()),
    ("need_payoff", "client_need", "value", ()),
    ("value", "client_interest", "close", ()),
    ("value", "client_hesitation", "hook", ()),
    ("value", "client_price_objection", "value", ()),
    ("need_payoff", "client_price_objection", "need_payoff", ()),
    (
        "rapport",
        "client_interest",
        "close",
        ("situation", "problem", "implication", "need_payoff"),
    ),
    ("situation", "client_hesitation", "hook", ("problem", "implication", "need_payoff")),
    ("implication", "client_situation", "implication", ()),
    ("rapport", "client_need", "rapport", ()),
]


@pytest.mark.parametrize(("before", "signal", "after", "skipped"), TRANSITIONS)
def test_reception_transitions(
    before: str, signal: str, after: str, skipped: tuple[str, ...]
) -> None:
    session = open_session(RECEPTION, "腕表", "C0001", NOW)
    session.step = before
    move = relay(RECEPTION, session, signal, "客户说的话")
    assert (move.before, move.after) == (before, after)
    assert move.skipped == skipped
    assert session.step == after
    assert session.facts[-1].signal == signal


def test_situation_needs_two_facts_before_problem() -> None:
    session = open_session(RECEPTION, None, None, NOW)
    assert relay(RECEPTION, session, "client_situation", "平时经常出差").after == "situation"
    assert relay(RECEPTION, session, "client_situation", "现在戴一块运动表").after == "problem"
    assert [f.step for f in session.facts] == ["situation", "situation"]
    assert session.checklist.keys() >= {"scene", "current"}


def test_full_spin_order_visits_every_stage() -> None:
    session = open_session(RECEPTION, "腕表", "C0001", NOW)
    path = [
        ("client_situation", "平时经常出差"),
        ("client_situation", "现在戴的是运动表"),
        ("client_problem", "运动表配西装不正式"),
        ("client_implication", "见客户时确实有点尴尬"),
        ("client_need", "想要一块轻一点又正式的表"),
        ("client_interest", "试戴了三次，问能不能刻字"),
    ]
    for signal, text in path:
        relay(RECEPTION, session, signal, text)
    assert session.visited == [
        "rapport", "situation", "problem", "implication", "need_payoff", "value", "close"
    ]  # fmt: skip
    assert session.skipped == []


def test_skipped_stage_with_evidence_is_not_reported() -> None:
    session = open_session(RECEPTION, None, None, NOW)
    relay(RECEPTION, session, "client_situation", "经常出差")
    move = relay(RECEPTION, session, "client_problem", "包太小")
    # problem has its evidence (the fact is filed under it), so nothing was skipped.
    assert move.after == "implication" and move.skipped == ()


def test_explicit_jumps_forward_back_and_by_neighbour() -> None:
    session = open_session(RECEPTION, None, None, NOW)
    move = jump(RECEPTION, session, RECEPTION.step_named("直接到需求确认") or "")
    assert (move.after, move.manual, move.skipped) == ("need_payoff", True, ())
    assert session.skipped == []
    move = jump(RECEPTION, session, RECEPTION.step_named("回到背景问题") or "")
    assert move.after == "situation"
    assert neighbour(RECEPTION, session, -1) == "rapport"
    assert neighbour(RECEPTION, session, +1) == "problem"


def test_complaint_respond_then_checklist_completes_empathise() -> None:
    session = open_session(COMPLAINT, "珠宝", "C0004", NOW)
    note(COMPLAINT, session, "周女士投诉定制胸针延期了一个月")
    assert session.step == "respond"
    relay(COMPLAINT, session, "client_problem", "上个月在恒隆店订的")
    assert session.step == "empathise"
    relay(COMPLAINT, session, "client_situation", "当时顾问说三周就到，一直没人通知")
    relay(COMPLAINT, session, "client_need", "她要一个说法，希望尽快拿到")
    assert session.step == "resolve"
    assert {"time", "place", "people", "core_demand"} <= session.checklist.keys()
    relay(COMPLAINT, session, "client_interest", "她说可以接受加急方案")
    assert session.step == "compensate"
    relay(COMPLAINT, session, "client_interest", "她说补偿可以，谢谢")
    assert session.step == "improve"
    assert session.visited == ["respond", "empathise", "resolve", "compensate", "improve"]


def test_session_round_trips_through_a_slot() -> None:
    session = open_session(RECEPTION, "皮具", "C0003", NOW)
    relay(RECEPTION, session, "client_situation", "经常出差")
    assert Session.from_dict(session.to_dict()) == session


def test_flow_errors_name_file_and_line(tmp_path: Path) -> None:
    source = (Path(__file__).parent.parent / "data/flows/reception.yml").read_text(encoding="utf-8")
    broken = source.replace("client_problem: {to: implication}\n\n  - id: implication",
                            "client_problem: {to: nowhere}\n\n  - id: implication")  # fmt: skip
    path = tmp_path / "reception.yml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(DataFileError, match="unknown step 'nowhere'") as caught:
        parse_flow(path)
    assert caught.value.line is not None and str(path) in str(caught.value)
    path.write_text(
        source.replace("client_need: {to: value}", "client_wish: {to: value}"), encoding="utf-8"
    )
    with pytest.raises(DataFileError, match="unknown signal 'client_wish'"):
        parse_flow(path)


def test_only_upcoming_occasions_are_offered_to_scripts() -> None:
    from datetime import date

    from bot.flows.facts import is_upcoming

    today = date(2026, 11, 23)
    assert is_upcoming("结婚纪念日12月8日", today)
    assert is_upcoming("生日1月5号", today)  # next year, within the window
    assert not is_upcoming("结婚纪念日10月8日", today)
    assert is_upcoming("女儿的毕业典礼", today)
