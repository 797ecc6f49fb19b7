"""A preference's life on a real SQLite card: one current value per topic, history kept."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import pytest
from sqlalchemy import select

from bot.advisors import AdvisorIdentity
from bot.cards import db
from bot.cards.card import ClientCard
from bot.cards.models import CURRENT, Preference, PreferenceEvent
from bot.cards.store import CardStore
from bot.cards.writes import CardWriter
from bot.nlu.preferences import parse_value
from bot.nlu.vocabulary import load_vocabulary

SHANGHAI = AdvisorIdentity("A001", "李娜", "上海恒隆店", "advisor")
TODAY = date(2026, 11, 29)

# (what the card holds first, what the advisor says next, the current values after, the change)
CASES = [
    ("不吃辣", "现在能吃辣了", ["能吃辣"], "superseded"),
    ("冰美式", "改喝热美式", ["喝热美式"], "superseded"),
    ("冰美式", "热美式", ["热美式"], "superseded"),  # same word 美式: a replacement
    ("生日6月8日", "生日是6月18日", ["生日是6月18日"], "superseded"),
    ("坚果过敏", "现在不对坚果过敏了", [], "retired"),
    ("坚果过敏", "对芒果过敏", ["坚果过敏", "对芒果过敏"], "added"),  # allergies add up
    ("美式咖啡", "也喜欢拿铁", ["美式咖啡", "喜欢拿铁"], "added"),
    ("美式咖啡", "喜欢拿铁", ["美式咖啡"], "ask"),  # unsure: the copilot asks
    ("靠窗", "喜欢坐包间", ["靠窗"], "ask"),
    ("女儿生日12月5日", "生日3月21日", ["女儿生日12月5日", "生日3月21日"], "added"),
    ("普洱", "普洱", ["普洱"], "exists"),
    ("大包间 要能投屏", "还是要那个大包间", ["大包间 要能投屏"], "exists"),  # a restatement
]


def parsed(text: str):  # type: ignore[no-untyped-def]
    value = parse_value(text, load_vocabulary(), TODAY)
    assert value is not None, text
    return value


def current_values(session, client_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    rows = session.scalars(
        select(Preference.value)
        .where(Preference.client_id == client_id, Preference.status == CURRENT)
        .order_by(Preference.id)
    )
    return list(rows)


@pytest.mark.parametrize(("first", "then", "after", "change"), CASES)
def test_one_current_value_per_topic(
    db_url: str, first: str, then: str, after: list[str], change: str
) -> None:
    with db.session_scope(db_url) as session:
        store = CardStore(session)
        client = store.create_client("冯一帆", "先生", SHANGHAI)
        writer = CardWriter(session, store.vocabulary, SHANGHAI)
        writer.write(client, parsed(first))
        outcome = writer.write(client, parsed(then))
        assert outcome.change == change
        assert current_values(session, client.id) == after


def test_asked_replace_and_keep(db_url: str) -> None:
    with db.session_scope(db_url) as session:
        store = CardStore(session)
        client = store.create_client("冯一帆", "先生", SHANGHAI)
        writer = CardWriter(session, store.vocabulary, SHANGHAI)
        writer.write(client, parsed("美式咖啡"))
        writer.write(client, parsed("喜欢拿铁"), replace=False)
        assert current_values(session, client.id) == ["美式咖啡", "喜欢拿铁"]
        writer.write(client, parsed("澳白"), replace=True)
        assert current_values(session, client.id) == ["澳白"]


def test_retract_restores_what_the_write_replaced_and_history_says_so(db_url: str) -> None:
    with db.session_scope(db_url) as session:
        store = CardStore(session)
        client = store.create_client("冯一帆", "先生", SHANGHAI)
        writer = CardWriter(session, store.vocabulary, SHANGHAI)
        writer.write(client, parsed("不吃辣"))
        writer.write(client, parsed("现在能吃辣了"))
        last = writer.last_write()
        assert last is not None and last.value == "能吃辣"
        restored = writer.retract(last)
        assert [p.value for p in restored] == ["不吃辣"]
        assert current_values(session, client.id) == ["不吃辣"]
        actions = [
            e.action for e in session.scalars(select(PreferenceEvent).order_by(PreferenceEvent.id))
        ]
        assert actions == ["added", "added", "superseded", "retracted", "restored"]
        history = ClientCard.of(client).render_history()
        assert "李娜@上海恒隆店 撤回 口味：能吃辣" in history


def test_move_to_the_right_client(db_url: str) -> None:
    with db.session_scope(db_url) as session:
        store = CardStore(session)
        wrong = store.create_client("冯一帆", "先生", SHANGHAI)
        right = store.create_client("钱雅琴", "女士", SHANGHAI)
        writer = CardWriter(session, store.vocabulary, SHANGHAI)
        writer.write(wrong, parsed("对芒果过敏"))
        last = writer.last_write()
        assert last is not None
        moved = writer.move(last, right)
        assert current_values(session, wrong.id) == []
        assert current_values(session, right.id) == ["对芒果过敏"]
        assert writer.last_write() == moved


def test_dates_are_kept_as_dates(db_url: str) -> None:
    with db.session_scope(db_url) as session:
        store = CardStore(session)
        client = store.create_client("冯一帆", "先生", SHANGHAI)
        writer = CardWriter(session, store.vocabulary, SHANGHAI)
        outcome = writer.write(client, parsed("生日是下个月3号"))
        assert outcome.preference is not None
        assert outcome.preference.date_value == date(2026, 12, 3)
        assert ClientCard.of(client).preferences[0].date == "2026-12-03"


def test_allergies_come_first_and_are_marked(db_url: str) -> None:
    with db.session_scope(db_url) as session:
        store = CardStore(session)
        client = store.create_client("钱雅琴", "女士", SHANGHAI)
        writer = CardWriter(session, store.vocabulary, SHANGHAI)
        writer.write(client, parsed("喜欢喝白茶"))
        writer.write(client, parsed("对芒果过敏"))
        card = ClientCard.of(client)
        assert [p.value for p in card.preferences] == ["对芒果过敏", "喜欢喝白茶"]
        payload = card.to_payload()
        assert payload["preferences"][0]["safety"] is True
        assert payload["safety"] == ["对芒果过敏"]
        assert "⚠️ 钱女士过敏：对芒果过敏" in card.render()
        assert "· ⚠️过敏：对芒果过敏" in card.render()


def test_history_and_alias_commands(demo_db: str) -> None:
    copilot = [sys.executable, "-m", "bot.cli"]
    alias = subprocess.run(
        [*copilot, "cards", "alias", "C0001", "David"], capture_output=True, text=True, check=True
    )
    assert "Alias 'David' for 王建国 (C0001): added." in alias.stdout
    with db.session_scope(demo_db) as session:
        store = CardStore(session)
        client = store.find("david")[0]
        CardWriter(session, store.vocabulary, SHANGHAI).write(client, parsed("不吃蒜"))
    shown = subprocess.run(
        [*copilot, "cards", "show", "David", "--history"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "也叫：David" in shown.stdout
    assert "李娜@上海恒隆店 记下 忌口：不吃蒜" in shown.stdout
