"""Finding clients in the card store, on the demo data in a real SQLite file."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.advisors import (
    AdvisorIdentity,
    RecentTokens,
    authenticate,
    issue_token,
    upsert_advisor,
)
from bot.cards import db
from bot.cards.card import ClientCard, mask_phone
from bot.cards.names import ALIAS, IN_CHUNK, NAME, cjk_substrings
from bot.cards.store import CardStore
from bot.cards.writes import CardWriter
from bot.nlu.preferences import ParsedPreference

SHANGHAI = AdvisorIdentity("A001", "李娜", "上海恒隆店", "advisor")
BEIJING = AdvisorIdentity("A002", "陈思远", "北京SKP店", "advisor")


def test_mask_phone() -> None:
    assert mask_phone("13800000001") == "138****0001"
    assert mask_phone("+86 139-0000-0002") == "139****0002"
    assert mask_phone("") == ""


def test_find_by_full_name_honorific_and_external_id(demo_db: str) -> None:
    with db.session_scope(demo_db) as session:
        store = CardStore(session)
        assert [c.name for c in store.find("王建国")] == ["王建国"]
        assert sorted(c.name for c in store.find("王先生")) == ["王建国", "王志强"]
        assert [c.name for c in store.find("张女士")] == ["张雅琴"]
        zhang = store.find("张雅琴")[0]
        if zhang.wecom_external_userid:
            assert [c.id for c in store.find(zhang.wecom_external_userid)] == [zhang.id]
        assert store.find("诸葛先生") == []


def test_mentions_prefer_known_full_names(demo_db: str) -> None:
    with db.session_scope(demo_db) as session:
        store = CardStore(session)
        assert [m.text for m in store.mentions("记一下,王建国不吃蒜")] == ["王建国"]
        assert [m.text for m in store.mentions("张女士酸梅汤要冰的大杯")] == ["张女士"]
        wang = store.mentions("帮我查一下王先生")
        assert [m.text for m in wang] == ["王先生"] and len(store.find(wang[0])) == 2
        # typed the way voice input and pinyin slips write it
        assert [c.name for c in store.find("欧阳小jie")] == ["欧阳菲"]
        assert [m.text for m in store.mentions("查下欧阳小jie吧")] == ["欧阳小jie"]


def test_a_run_on_longer_than_one_lookup_finds_names_in_every_chunk(demo_db: str) -> None:
    """A voice-input run-on has more substrings than one IN list takes (IN_CHUNK):
    names and aliases are looked up chunk by chunk, and one in the last chunk counts."""
    filler = "今天下午到店试了好几款包包颜色都不太满意说下周末再过来看看新到的秋冬款式"
    more = "她老公陪着一起来的全程在看手表那边我们聊了很久关于结婚纪念日要送什么礼物比较合适"
    text = f"{filler}，{more}，{filler[::-1]}，{more[::-1]}，顺便记一下Amy和黄志明都喜欢靠窗"
    with db.session_scope(demo_db) as session:
        store = CardStore(session)
        store.add_alias(store.find("孙悦")[0], "Amy", "李娜")
        keys = sorted(set(cjk_substrings(text)))
        assert len(keys) > IN_CHUNK and keys.index("黄志明") >= IN_CHUNK
        assert [m.text for m in store.mentions(text) if m.kind in (NAME, ALIAS)] == [
            "Amy",
            "黄志明",
        ]


def test_aliases_and_unknown_latin_names(demo_db: str) -> None:
    with db.session_scope(demo_db) as session:
        store = CardStore(session)
        wang = store.find("王建国")[0]
        sun = store.find("孙悦")[0]
        store.add_alias(wang, "David", "李娜")
        store.add_alias(sun, "Amy", "李娜")
        assert [c.name for c in store.find("david")] == ["王建国"]
        assert [(m.text, m.kind) for m in store.mentions("查David")] == [("David", "alias")]
        # Amy孙 is the Amy surnamed 孙; Amy王 is nobody, and never the other Amy
        amy_sun = store.mentions("记一下Amy孙喜欢喝气泡水")
        assert [m.text for m in amy_sun] == ["Amy孙"] and store.find(amy_sun[0]) == [sun]
        amy_wang = store.mentions("记一下Amy王喜欢喝气泡水")
        assert [m.text for m in amy_wang] == ["Amy王"] and store.find(amy_wang[0]) == []
        # a capitalised stranger is a mention with nobody behind it; brands are not names
        linda = store.mentions("帮我查一下Linda")
        assert [m.text for m in linda] == ["Linda"] and store.find(linda[0]) == []
        assert store.mentions("她想看看LV和Rolex的新款 OK") == []


def test_preference_is_visible_from_every_store(demo_db: str) -> None:
    with db.session_scope(demo_db) as session:
        store = CardStore(session)
        client = store.find("王建国")[0]
        writer = CardWriter(session, store.vocabulary, SHANGHAI)
        first = writer.write(client, ParsedPreference("忌口", "不吃蒜"))
        again = writer.write(client, ParsedPreference("忌口", "不吃蒜"))
    assert (first.change, again.change) == ("added", "exists")
    with db.session_scope(demo_db) as session:
        card = ClientCard.of(CardStore(session).find("王建国")[0])
    garlic = [p for p in card.preferences if p.value == "不吃蒜"]
    assert len(garlic) == 1
    assert (garlic[0].recorded_by, garlic[0].store) == ("李娜", "上海恒隆店")
    assert "138" not in card.render() or "****" in card.render()


def test_tokens_are_hashed_and_rotate(session: Session) -> None:
    advisor = upsert_advisor(session, "A100", "赵敏", "杭州大厦店", "trainer")
    first = issue_token(session, advisor)
    assert advisor.token_hash and first not in advisor.token_hash
    assert authenticate(session, first) == AdvisorIdentity("A100", "赵敏", "杭州大厦店", "trainer")
    second = issue_token(session, advisor)
    assert authenticate(session, first) is None
    assert authenticate(session, second) is not None
    assert authenticate(session, "cpk_forged") is None


def test_identity_travels_in_message_metadata() -> None:
    metadata = SHANGHAI.to_metadata()
    assert AdvisorIdentity.from_metadata(metadata, "A001") == SHANGHAI
    # Only for the sender it was attached for, and only when complete.
    assert AdvisorIdentity.from_metadata(metadata, "A002") is None
    assert AdvisorIdentity.from_metadata({"advisor": {"id": "A001"}}, "A001") is None
    assert AdvisorIdentity.from_metadata(None, "A001") is None


def test_recent_tokens_remember_only_successes_and_only_briefly(session: Session) -> None:
    advisor = upsert_advisor(session, "A101", "钱琳", "南京德基店", "advisor")
    token = issue_token(session, advisor)
    lookups: list[str] = []
    now = [0.0]

    def lookup(candidate: str) -> AdvisorIdentity | None:
        lookups.append(candidate)
        return authenticate(session, candidate)

    recent = RecentTokens(lookup, ttl=10.0, clock=lambda: now[0])
    assert recent.check(token) == AdvisorIdentity("A101", "钱琳", "南京德基店", "advisor")
    assert recent.check(token) is not None and len(lookups) == 1  # remembered
    assert recent.check("cpk_forged") is None and recent.check("cpk_forged") is None
    assert lookups.count("cpk_forged") == 2  # failures are never remembered

    issue_token(session, advisor)  # the advisor gets a new token
    now[0] = 9.0
    assert recent.check(token) is not None  # still inside the 10 s window
    now[0] = 10.5
    assert recent.check(token) is None  # looked up again: refused


def test_the_migration_fills_empty_surnames(db_url: str) -> None:
    """A store whose cards lost their surname (made while 0004 lacked its backfill):
    欧阳先生 finds nobody there until the upgrade fills the column."""
    from alembic import command
    from sqlalchemy import text

    with db.session_scope(db_url) as session:
        store = CardStore(session)
        store.create_client("欧阳晨", "先生", SHANGHAI)
        store.create_client("Amy", "小姐", SHANGHAI)
        stored = dict(session.execute(text("SELECT name, surname FROM clients")).all())
        session.execute(text("UPDATE clients SET surname = ''"))
    with db.session_scope(db_url) as session:
        assert CardStore(session).find("欧阳先生") == []
    with db.get_engine(db_url).begin() as connection:
        config = db.alembic_config(db_url)
        config.attributes["connection"] = connection
        command.downgrade(config, "0011_honorific_ranking")
    db.upgrade(db_url)
    with db.session_scope(db_url) as session:
        surnames = dict(session.execute(text("SELECT name, surname FROM clients")).all())
        assert surnames == stored and surnames["欧阳晨"] == "欧阳"
        assert [c.name for c in CardStore(session).find("欧阳先生")] == ["欧阳晨"]
