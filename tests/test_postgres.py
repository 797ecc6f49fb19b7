"""The card store on a real PostgreSQL server, started for this test module."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot import demo
from bot.advisors import AdvisorIdentity
from bot.cards import bulk, db, prepared
from bot.cards.card import ClientCard
from bot.cards.importer import CsvImportError, import_file
from bot.cards.names import NLU, Mention
from bot.cards.resolver import NOT_FOUND, Resolver
from bot.cards.store import CardStore
from bot.cards.turns import record_preference
from bot.cards.writes import CardWriter
from bot.nlu.preferences import ParsedPreference
from bot.turn import Turn

SHANGHAI = AdvisorIdentity("A001", "李娜", "上海恒隆店", "advisor")

pytestmark = pytest.mark.postgres


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _as_postgres(command: list[str]) -> list[str]:
    # initdb refuses to run as root; the Debian package provides a postgres user.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not (initdb and pg_ctl):
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL binaries missing: make test installs the postgresql package")
        pytest.skip("PostgreSQL is not installed here")
    # Not under pytest's tmp dir: that is private to root, and the server runs as postgres.
    folder = Path(tempfile.mkdtemp(prefix="copilot-pg-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    subprocess.run(
        _as_postgres([initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]),
        check=True, capture_output=True,
    )  # fmt: skip
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
    log = str(folder / "log")
    subprocess.run(
        _as_postgres([pg_ctl, "-D", str(data), "-o", options, "-l", log, "-w", "start"]),
        check=True,
        capture_output=True,
    )
    try:
        admin = create_engine(
            f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres", future=True
        )
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("CREATE DATABASE copilot"))
        admin.dispose()
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/copilot"
    finally:
        subprocess.run(
            _as_postgres([pg_ctl, "-D", str(data), "-m", "fast", "stop"]), capture_output=True
        )
        shutil.rmtree(folder, ignore_errors=True)


def test_migrate_import_find_and_record(pg_url: str, tmp_path: Path) -> None:
    db.upgrade(pg_url)
    db.upgrade(pg_url)  # idempotent
    with db.session_scope(pg_url) as session:
        result = demo.load_if_empty(session)
    assert result is not None and result.created >= 30
    with db.session_scope(pg_url) as session:
        store = CardStore(session)
        assert sorted(c.name for c in store.find("王先生")) == ["王建国", "王志强"]
        assert [m.text for m in store.mentions("记一下,王建国不吃蒜")] == ["王建国"]
        wang = store.find("王建国")[0]
        writer = CardWriter(session, store.vocabulary, SHANGHAI)
        writer.write(wang, ParsedPreference("忌口", "不吃辣"))
        writer.write(wang, ParsedPreference("口味", "能吃辣", change=True))  # supersedes
        writer.write(wang, ParsedPreference("忌口", "不吃蒜"))
        honorific = store.mentions("王先森来了")[0]
        ranked = store.candidates(honorific, SHANGHAI)
        assert (ranked.total, ranked.clients[0].name) == (2, "王建国")  # A001's own client first
        beijing = AdvisorIdentity("A002", "陈思远", "北京SKP店", "advisor")
        store.add_note(wang, beijing, "试戴两地时", details={"facts": {"situation": ["经常出差"]}})
    with db.session_scope(pg_url) as session:
        card = ClientCard.of(CardStore(session).find("王建国")[0])
    current = {(p.category, p.value) for p in card.preferences}
    assert ("忌口", "不吃蒜") in current and ("口味", "能吃辣") in current
    assert ("忌口", "不吃辣") not in current
    assert card.notes[0].details == {"facts": {"situation": ["经常出差"]}}


def test_reimport_and_bad_rows_on_postgres(pg_url: str, tmp_path: Path) -> None:
    db.upgrade(pg_url)
    path = demo.demo_dir() / "clients.csv"
    with db.session_scope(pg_url) as session:
        again = import_file(session, path, progress=False)
    assert again.created == 0 and again.preferences_added == 0
    bad = tmp_path / "bad.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    bad.write_text(
        "\n".join([*lines, "X1,坏数据,先生,男,123,,金卡,上海恒隆店,A001,"]) + "\n", encoding="utf-8"
    )
    with (
        pytest.raises(CsvImportError, match=f"line {len(lines) + 1}"),
        db.session_scope(pg_url) as session,
    ):
        import_file(session, bad, progress=False)


def _pg_snapshot(url: str, prefix: str) -> list[tuple[object, ...]]:
    """The cards whose ids start with ``prefix``: header, preferences, aliases, stamps."""
    from sqlalchemy import select

    from bot.cards.models import Client

    with db.session_scope(url) as session:
        clients = session.scalars(select(Client).where(Client.id.startswith(prefix))).all()
        return sorted(
            (
                c.id, c.name, c.phone, c.surname, c.updated_at,
                tuple(sorted((p.category, p.value, p.status) for p in c.preferences)),
                tuple(sorted(a.key for a in c.aliases)),
            )
            for c in clients
        )  # fmt: skip


def test_bulk_import_on_postgres(pg_url: str, tmp_path: Path) -> None:
    """2,000 synthetic cards through COPY and one upsert per slice; re-import, dry run."""
    from bot.cards.synthetic import write_csv

    db.upgrade(pg_url)
    path = tmp_path / "synthetic.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        write_csv(handle, 2000, seed=11, prefix="P")
    with db.session_scope(pg_url) as session:
        dry = import_file(session, path, dry_run=True, progress=False)
    assert (dry.created, dry.dry_run) == (2000, True)
    assert _pg_snapshot(pg_url, "P") == []
    with db.session_scope(pg_url) as session:
        first = import_file(session, path, progress=False)
    assert first.created == 2000 and first.preferences_added == dry.preferences_added
    assert first.aliases_added == dry.aliases_added > 50
    bulk.settle(db.get_engine(pg_url))  # what `copilot cards import` does after the commit
    with db.session_scope(pg_url) as session:
        vacuumed = session.execute(text(
            "SELECT relname FROM pg_stat_user_tables WHERE last_vacuum IS NOT NULL"
        )).scalars().all()  # fmt: skip
        prewarm = session.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'pg_prewarm'"))
        assert prewarm.first() is not None
    assert {"clients", "preferences", "client_aliases"} <= set(vacuumed)
    before = _pg_snapshot(pg_url, "P")
    assert len(before) == 2000 and all(row[3] for row in before)
    with db.session_scope(pg_url) as session:
        again = import_file(session, path, progress=False)
    assert (again.created, again.updated, again.unchanged, again.preferences_added) == (
        0, 0, 2000, 0,
    )  # fmt: skip
    assert _pg_snapshot(pg_url, "P") == before


def test_first_load_on_postgres_restores_indexes_and_keys(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A load bigger than the store drops and rebuilds indexes and foreign keys."""
    from bot.cards import bulk
    from bot.cards.synthetic import write_csv

    db.upgrade(pg_url)
    monkeypatch.setattr(bulk, "REBUILD_FROM", 1000)
    schema = (
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' "
        "UNION ALL SELECT conrelid::regclass::text || conname || pg_get_constraintdef(oid) "
        "FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
    )
    engine = create_engine(pg_url, future=True)
    with engine.connect() as connection:
        before = sorted(connection.execute(text(schema)).scalars())
        clients = connection.execute(text("SELECT count(*) FROM clients")).scalar_one()
    path = tmp_path / "first.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        write_csv(handle, clients + 1000, seed=3, prefix="F")
    with db.session_scope(pg_url) as session:
        assert import_file(session, path, progress=False).created == clients + 1000
    with engine.connect() as connection:
        assert sorted(connection.execute(text(schema)).scalars()) == before
    engine.dispose()


def test_real_exports_and_bad_rows_on_postgres(pg_url: str, tmp_path: Path) -> None:
    """GBK with Chinese headers and an .xlsx import; three bad rows import nothing."""
    from openpyxl import Workbook

    db.upgrade(pg_url)
    gbk = tmp_path / "门店.csv"
    gbk.write_bytes(
        "客户编号,姓名,称呼,性别,手机,企业微信ID,偏好\n"
        "G001,赵明轩,赵先生,M,+86 139-1234-0001,wmG001abcdefgh,饮品:龙井;重要日期:生日3月21日\n"
        "G002,欧阳晨,欧阳女士,F,(021) 6288-1234,,座位：包间\n".encode("gbk")
    )
    workbook = Workbook()
    workbook.active.append(["手机", "客户编号", "姓名", "称呼", "性别", "英文名"])
    workbook.active.append([13912340003, "G003", "孙丽", "孙小姐", "female", "Amy"])
    xlsx = tmp_path / "门店.xlsx"
    workbook.save(xlsx)
    with db.session_scope(pg_url) as session:
        assert import_file(session, gbk, progress=False).described == "CSV, GB18030"
        assert import_file(session, xlsx, progress=False).created == 1
    with db.session_scope(pg_url) as session:
        store = CardStore(session)
        zhao, ouyang, sun = (store.get(i) for i in ("G001", "G002", "G003"))
        assert zhao is not None and ouyang is not None and sun is not None
        assert (zhao.honorific, zhao.gender, zhao.phone) == ("先生", "男", "13912340001")
        assert (ouyang.surname, ouyang.phone) == ("欧阳", "02162881234")
        assert [a.key for a in sun.aliases] == ["amy"]
        birthday = next(p for p in zhao.preferences if p.category == "重要日期")
        assert birthday.date_value is not None and birthday.date_value.month == 3
    before = _pg_snapshot(pg_url, "G")
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "客户编号,姓名,称呼,性别,手机,企业微信ID\n"
        "G004,钱芳,钱女士,女,13912340004,\n"
        "G005,周晓雯,大侠,女,13912340005,\n"
        "G006,郑雨桐,女士,X,13912340006,\n"
        "G007,许明哲,先生,男,123,\n"
        "G008,王建国,先生,男,13912340008,wmG001abcdefgh\n",
        encoding="utf-8",
    )
    with pytest.raises(CsvImportError) as caught, db.session_scope(pg_url) as session:
        import_file(session, bad, progress=False)
    message = str(caught.value)
    assert "3 problems" in message
    assert all(f"line {n}," in message for n in (3, 4, 5))
    taken = tmp_path / "taken.csv"
    taken.write_text(
        "客户编号,姓名,企业微信ID\nG009,钱芳,\nG010,王建国,wmG001abcdefgh\n", encoding="utf-8"
    )
    with (
        pytest.raises(
            CsvImportError, match=r"line 3, 企业微信ID: .* already belongs to client G001"
        ),
        db.session_scope(pg_url) as session,
    ):
        import_file(session, taken, progress=False)
    assert _pg_snapshot(pg_url, "G") == before


def test_near_miss_names_come_from_the_trigram_index(pg_url: str) -> None:
    """欧阳斐 is on no card: PostgreSQL offers 欧阳菲 to look at, through pg_trgm's index;
    a name nothing resembles offers nobody; and nothing is written anywhere."""
    db.upgrade(pg_url)
    with db.session_scope(pg_url) as session:
        demo.load_if_empty(session)
    with db.session_scope(pg_url) as session:
        indexdef = session.execute(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_clients_name_trgm'")
        ).scalar_one()
        assert "gin_trgm_ops" in indexdef
        store = CardStore(session)
        wrong = Mention("欧阳斐", 3, NLU)
        assert "欧阳菲" in [c.name for c in store.near_misses(wrong)]
        assert store.near_misses(Mention("诸葛亮明", 0, NLU)) == []
        turn = Turn(text="记一下欧阳斐喝菊花茶", intent="record_preference", entities=(),
                    advisor=SHANGHAI)  # fmt: skip
        target = Resolver(store, turn).target()
        assert target.kind == NOT_FOUND and "欧阳菲" in [c.name for c in target.near]
        reply = record_preference(store, turn)
        near = [m for m in reply.messages if m.key == "client_near_miss"]
        assert near and all(b.payload.startswith("/lookup_client") for b in near[0].buttons)
        assert any("C0032" in b.payload for b in near[0].buttons)
    with db.session_scope(pg_url) as session:
        card = ClientCard.of(CardStore(session).get("C0032"))
    assert not any("菊花" in p.value for p in card.preferences)


def test_turn_path_lookups_run_as_prepared_statements(pg_url: str) -> None:
    """The name lookups are prepared once per connection and then only executed, and
    answer exactly as the plain SQL does (a candidate list ranked for the advisor)."""
    db.upgrade(pg_url)
    with db.session_scope(pg_url) as session:
        demo.load_if_empty(session)
    own_pool = f"{pg_url}?application_name=prepared_test"  # an engine of its own: one connection
    for _ in range(3):  # the same pooled connection: prepared once, then EXECUTE only
        with db.session_scope(own_pool) as session:
            store = CardStore(session)
            mention = store.mentions("王先森来了 顺便看看王建国的卡")
            assert [m.text for m in mention] == ["王先森", "王建国"]
            every = store.find(mention[0])  # the plain ORM query, for comparison
            ranked = store.candidates(mention[0], SHANGHAI)
            assert ranked.total == len(every) > 1
            assert {c.id for c in ranked.clients} <= {c.id for c in every}
            assert ranked.clients[0].advisor == SHANGHAI.id  # the advisor's own first
            assert store.candidates(mention[1], SHANGHAI).total == len(store.find("王建国"))
            statements = session.execute(
                text("SELECT statement FROM pg_prepared_statements WHERE name LIKE 'copilot_%'")
            ).scalars().all()  # fmt: skip
    # The names-and-aliases lookup, and the candidates queries of 王先生 and of a full name
    # (preparing one twice on a connection would have failed).
    assert len(statements) == 3
    assert all("$1" in s for s in statements)


def test_prepared_form_numbers_parameters_and_keeps_casts() -> None:
    name, body, order = prepared._prepared_form(
        "SELECT :a, :b::text FROM t WHERE x = :a AND y = CAST(:keys AS text[])"
    )
    assert body == "SELECT $1, $2::text FROM t WHERE x = $1 AND y = CAST($3 AS text[])"
    assert order == ("a", "b", "keys") and name.startswith("copilot_")


def test_a_connection_that_died_while_idle_is_replaced(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An idle pooled connection is pinged before use, and a dead one replaced: the
    server ended this one's backend between two sessions, and the next session works."""
    own_pool = f"{pg_url}?application_name=idle_ping_test"
    with db.session_scope(own_pool) as session:
        before = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with db.session_scope(pg_url) as admin:
        assert admin.execute(text(f"SELECT pg_terminate_backend({before})")).scalar_one()
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)  # it has been idle long enough
    with db.session_scope(own_pool) as session:
        after = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    assert after != before


def test_prepared_lookups_survive_a_new_column(pg_url: str) -> None:
    """A migration that adds a column to clients while servers run: the statements
    already prepared on their connections go on answering (a prepared clients.* would
    fail with "cached plan must not change result type")."""
    db.upgrade(pg_url)
    with db.session_scope(pg_url) as session:
        demo.load_if_empty(session)
    own_pool = f"{pg_url}?application_name=schema_change_test"

    def lookup() -> int:
        with db.session_scope(own_pool) as session:
            store = CardStore(session)
            return store.candidates(store.mentions("王先生来了")[0], SHANGHAI).total

    expected = lookup()
    with db.session_scope(pg_url) as session:
        session.execute(text("ALTER TABLE clients ADD COLUMN scratch_column text"))
    try:
        assert lookup() == expected
    finally:
        with db.session_scope(pg_url) as session:
            session.execute(text("ALTER TABLE clients DROP COLUMN scratch_column"))
