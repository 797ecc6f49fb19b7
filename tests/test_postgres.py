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
from bot.cards import db
from bot.cards.card import ClientCard
from bot.cards.importer import CsvImportError, apply_rows, read_rows
from bot.cards.store import CardStore
from bot.cards.writes import CardWriter
from bot.nlu.preferences import ParsedPreference

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
        again = apply_rows(session, read_rows(path), path, 0)
    assert again.created == 0 and again.preferences_added == 0
    bad = tmp_path / "bad.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    bad.write_text(
        "\n".join([*lines, "X1,坏数据,先生,男,123,,金卡,上海恒隆店,A001,"]) + "\n", encoding="utf-8"
    )
    with pytest.raises(CsvImportError, match=f"line {len(lines) + 1}"):
        read_rows(bad)
