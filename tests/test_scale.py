"""The card store's scale paths, on real SQLite: ranking many holders of one name or
alias, a synthetic store imported as an operator would, and the resolution bench's
messages (timings themselves are `copilot bench --cards N`'s job, not a test's)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from bot.advisors import AdvisorIdentity
from bot.cards import db, synthetic
from bot.cards.importer import import_file
from bot.cards.names import ALIAS, Mention
from bot.cards.resolution_bench import LOOKUP_TEMPLATES, sample_messages, time_resolution
from bot.cards.store import COUNT_CAP, SHOWN, CardStore

MINE = AdvisorIdentity("A001", "李娜", "上海恒隆店", "advisor")
SAME_STORE = AdvisorIdentity("A011", "周敏", "上海恒隆店", "advisor")
ELSEWHERE = AdvisorIdentity("A002", "陈思远", "北京SKP店", "advisor")


def _davids(session: Session, owners: list[AdvisorIdentity]) -> list[str]:
    store = CardStore(session)
    ids = []
    for number, owner in enumerate(owners):
        name = f"王{'一二三四五六七八九十'[number % 10]}{number}"
        client = store.create_client(name, "先生", owner)
        store.add_alias(client, "David", "test")
        ids.append(client.id)
    return ids


def test_many_holders_of_an_alias_are_ranked_own_then_store_then_recent(
    session: Session,
) -> None:
    # Most Davids belong to other stores; two are the advisor's own, three their store's.
    owners = [ELSEWHERE] * 12 + [SAME_STORE] * 3 + [ELSEWHERE] * 5 + [MINE] * 2 + [ELSEWHERE] * 4
    ids = _davids(session, owners)
    mine = {i for i, o in zip(ids, owners, strict=True) if o is MINE}
    here = {i for i, o in zip(ids, owners, strict=True) if o is SAME_STORE}
    found = CardStore(session).candidates(Mention("David", 0, ALIAS, "david"), MINE)
    assert found.total == len(owners)
    shown = [c.id for c in found.clients]
    assert len(shown) == SHOWN
    assert set(shown[:2]) == mine and set(shown[2:5]) == here


def test_a_count_beyond_the_cap_is_reported_as_the_cap(session: Session) -> None:
    _davids(session, [ELSEWHERE] * (COUNT_CAP + 3))
    found = CardStore(session).candidates(Mention("David", 0, ALIAS, "david"), MINE)
    assert found.total == COUNT_CAP and len(found.clients) == SHOWN


def test_a_synthetic_store_imports_and_every_kind_of_message_resolves(
    tmp_path: Path, db_url: str
) -> None:
    path = tmp_path / "cards.csv"
    synthetic.write_file(path, 2_000, seed=3)
    with db.session_scope(db_url) as session:
        result = import_file(session, path, progress=False)
    assert result.created == 2_000
    with db.session_scope(db_url) as session:
        # SQLite's planner statistics exist for the lookup indexes after an import.
        stats = {row[0] for row in session.execute(text("SELECT idx FROM sqlite_stat1"))}
    assert {"ix_clients_name_advisor", "ix_clients_surname_honorific"} <= stats
    messages = sample_messages(db_url, 120)
    kinds = {kind for kind, _ in messages}
    assert {"full name", "honorific", "alias", "stranger", "no name", "run-on"} <= kinds
    timings = {t.kind: t for t in time_resolution(db_url, messages, MINE)}
    assert timings["all"].count == 120
    lookups = sample_messages(db_url, 8, templates=LOOKUP_TEMPLATES)
    assert [kind for kind, _ in lookups[:4]] == [kind for kind, _ in LOOKUP_TEMPLATES]
