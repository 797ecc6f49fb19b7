"""CSV import: good files, re-import, and bad rows that import nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cards import db
from bot.cards.importer import HEADER, CsvImportError, apply_rows, read_rows
from bot.cards.models import Client, Preference
from bot.cli import main

HEAD = ",".join(HEADER)
GOOD_ROWS = [
    "K001,王建国,先生,男,13800000001,wmK001abcdefgh,钻石,上海恒隆店,A001,饮品:普洱;座位:靠窗",
    "K002,王志强,先生,男,139 0000 0002,,白金,北京SKP店,A002,忌口：不吃香菜；过敏：花粉过敏",
    'K003,张雅琴,女士,女,13700000003,wmK003abcdefgh,金卡,深圳万象城店,A003,"饮品:酸梅汤要冰的大杯"',
]


def write_csv(tmp_path: Path, rows: list[str], name: str = "cards.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEAD, *rows]) + "\n", encoding="utf-8")
    return path


def counts(url: str) -> tuple[int, int]:
    with db.session_scope(url) as session:
        clients = session.scalar(select(func.count()).select_from(Client))
        preferences = session.scalar(select(func.count()).select_from(Preference))
    return int(clients or 0), int(preferences or 0)


def test_imports_good_file_with_full_width_separators(db_url: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path, GOOD_ROWS)
    assert main(["cards", "import", str(path)]) == 0
    assert counts(db_url) == (3, 5)
    with db.session_scope(db_url) as session:
        wang = session.get(Client, "K002")
        assert wang is not None
        assert wang.phone == "13900000002"
        assert {(p.category, p.value) for p in wang.preferences} == {
            ("忌口", "不吃香菜"),
            ("过敏", "花粉过敏"),
        }


def test_reimport_changes_nothing(db_url: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path, GOOD_ROWS)
    rows = read_rows(path)
    with db.session_scope(db_url) as session:
        first = apply_rows(session, rows, path, len(rows))
    with db.session_scope(db_url) as session:
        stamps = {c.id: (c.updated_at, len(c.preferences)) for c in session.scalars(select(Client))}
    with db.session_scope(db_url) as session:
        second = apply_rows(session, read_rows(path), path, len(rows))
    with db.session_scope(db_url) as session:
        after = {c.id: (c.updated_at, len(c.preferences)) for c in session.scalars(select(Client))}
    assert (first.created, first.preferences_added) == (3, 5)
    assert (second.created, second.updated, second.unchanged, second.preferences_added) == (
        0,
        0,
        3,
        0,
    )
    assert after == stamps


def test_changed_row_updates_on_client_id(db_url: str, tmp_path: Path) -> None:
    main(["cards", "import", str(write_csv(tmp_path, GOOD_ROWS))])
    changed = [GOOD_ROWS[0].replace("钻石", "白金").replace("座位:靠窗", "座位:包间")]
    assert main(["cards", "import", str(write_csv(tmp_path, changed, "v2.csv"))]) == 0
    with db.session_scope(db_url) as session:
        client = session.get(Client, "K001")
        assert client is not None and client.tier == "白金"
        values = {p.value for p in client.preferences}
    # Observations are never deleted by an import: the old seat stays, the new one is added.
    assert {"靠窗", "包间", "普洱"} <= values
    assert counts(db_url) == (3, 6)


@pytest.mark.parametrize(
    ("bad_row", "reason"),
    [
        ("K004,刘一鸣,先生,男,12345,,金卡,上海恒隆店,A001,饮品:美式", "phone '12345'"),
        (
            "K004,刘一鸣,先生,男,13800000004,,金卡,上海恒隆店,A001,心情:很好",
            "unknown preference category '心情'",
        ),
        ("K004,刘一鸣,先生,男,13800000004,,金卡,上海恒隆店,A001", "expected 10 columns, found 9"),
        ("K004,,先生,男,13800000004,,金卡,上海恒隆店,A001,饮品:美式", "name is empty"),
        ("K004,刘一鸣,大侠,男,13800000004,,金卡,上海恒隆店,A001,", "unknown honorific '大侠'"),
        (
            "K001,刘一鸣,先生,男,13800000004,,金卡,上海恒隆店,A001,",
            "client_id 'K001' repeats line 2",
        ),
        ("K004,刘一鸣,先生,M,13800000004,,金卡,上海恒隆店,A001,", "gender 'M'"),
        ("K004,刘一鸣,先生,男,13800000004,wmK001abcdefgh,金卡,上海恒隆店,A001,", "repeats line 2"),
        (
            "K004,刘一鸣,先生,男,13800000004,,金卡,上海恒隆店,A001,饮品美式",
            "is not 'category:value'",
        ),
    ],
)
def test_bad_row_names_its_line_and_imports_nothing(
    db_url: str, tmp_path: Path, bad_row: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The bad row is on line 5 (header, three good rows), after rows that are valid.
    path = write_csv(tmp_path, [*GOOD_ROWS, bad_row])
    assert main(["cards", "import", str(path)]) == 1
    message = capsys.readouterr().err
    assert "line 5" in message and reason in message and "Nothing was imported" in message
    assert counts(db_url) == (0, 0)


def test_bad_header_is_refused(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("id,name\nK1,王建国\n", encoding="utf-8")
    with pytest.raises(CsvImportError, match="line 1: the header must be: client_id,name"):
        read_rows(path)


def test_not_utf8_is_refused(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes((HEAD + "\n" + GOOD_ROWS[0] + "\n").encode("gbk"))
    with pytest.raises(CsvImportError, match="not UTF-8"):
        read_rows(path)


def test_external_id_owned_by_another_client_is_refused(db_url: str, tmp_path: Path) -> None:
    main(["cards", "import", str(write_csv(tmp_path, GOOD_ROWS))])
    stolen = ["K009,孙丽,女士,女,13600000009,wmK001abcdefgh,金卡,上海恒隆店,A001,"]
    path = write_csv(tmp_path, stolen, "steal.csv")
    assert main(["cards", "import", str(path)]) == 1
    assert counts(db_url) == (3, 5)


def test_large_file_imports_in_one_transaction(db_url: str, tmp_path: Path) -> None:
    rows = [
        f"B{i:05d},客户{i},女士,女,13{i:09d},,金卡,上海恒隆店,A001,饮品:温水" for i in range(1200)
    ]
    path = write_csv(tmp_path, rows)
    assert main(["cards", "import", str(path)]) == 0
    assert counts(db_url) == (1200, 1200)
