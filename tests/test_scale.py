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
    # Most Davids belong to other stores and are more recent; two are the advisor's own
    # and three their store's, the oldest of all: only the ranking probes find them.
    owners = [MINE] * 2 + [SAME_STORE] * 3 + [ELSEWHERE] * 21
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


def test_an_import_keeps_the_alias_copies_of_advisor_and_store_in_step(
    tmp_path: Path, session: Session
) -> None:
    header = "client_id,name,honorific,gender,home_store,advisor,aliases\n"
    path = tmp_path / "cards.csv"
    path.write_text(header + "C9001,王思远,先生,男,北京SKP店,A002,David\n", encoding="utf-8")
    import_file(session, path, progress=False)
    path.write_text(header + "C9001,王思远,先生,男,上海恒隆店,A001,David\n", encoding="utf-8")
    import_file(session, path, progress=False)
    copies = session.execute(
        text("SELECT advisor, home_store FROM client_aliases WHERE client_id = 'C9001'")
    ).one()
    assert tuple(copies) == ("A001", "上海恒隆店")
    found = CardStore(session).candidates(Mention("David", 0, ALIAS, "david"), MINE)
    assert [c.id for c in found.clients] == ["C9001"]
