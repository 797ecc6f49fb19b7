"""Card import: real exports (GBK, BOM, .xlsx, Chinese headers, 赵先生, M/F, +86),
every bad row named and nothing imported, --dry-run, re-import changes nothing."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from bot.cards import db
from bot.cards.importer import CsvImportError, ImportResult, import_file
from bot.cards.models import RETRACTED, Client, ClientAlias, Preference
from bot.cards.synthetic import HEADER as SYNTHETIC_HEADER
from bot.cards.synthetic import cards, write_csv
from bot.cli import main

HEADER = SYNTHETIC_HEADER[:-1]  # without the optional aliases column
HEAD = ",".join(HEADER)
GOOD_ROWS = [
    "K001,王建国,先生,男,13800000001,wmK001abcdefgh,钻石,上海恒隆店,A001,饮品:普洱;座位:靠窗",
    "K002,王志强,先生,男,139 0000 0002,,白金,北京SKP店,A002,忌口：不吃香菜；过敏：花粉过敏",
    'K003,张雅琴,女士,女,13700000003,wmK003abcdefgh,金卡,深圳万象城店,A003,"饮品:酸梅汤要冰的大杯"',
]
CHINESE_HEAD = "姓名,客户编号,称呼,性别,手机,所属门店,顾问,偏好,英文名"
CHINESE_ROWS = [
    "赵明轩,Z001,赵先生,M,+86 139-1234-0001,杭州大厦店,A005,饮品:龙井;重要日期:生日3月21日,Kevin",
    "欧阳晨,Z002,欧阳女士,f,(021) 6288-1234,上海恒隆店,A001,座位：包间,Chloe;Mrs. Ouyang",
    "钱 芳,Z003,女仕,Female,0086 13712340003,北京SKP店,A002,,",
]


def write_csv_file(
    tmp_path: Path, rows: list[str], name: str = "cards.csv", head: str = HEAD,
    encoding: str = "utf-8",
) -> Path:  # fmt: skip
    path = tmp_path / name
    path.write_bytes(("\n".join([head, *rows]) + "\n").encode(encoding))
    return path


def counts(url: str) -> tuple[int, int]:
    with db.session_scope(url) as session:
        clients = session.scalar(select(func.count()).select_from(Client))
        preferences = session.scalar(select(func.count()).select_from(Preference))
    return int(clients or 0), int(preferences or 0)


def snapshot(url: str) -> dict[str, object]:
    """Everything an import could change, to compare two states of the store."""
    with db.session_scope(url) as session:
        return {
            "clients": sorted(
                (c.id, c.name, c.phone, c.tier, c.surname, c.updated_at)
                for c in session.scalars(select(Client))
            ),
            "preferences": sorted(
                (p.client_id, p.category, p.value, p.status, p.recorded_at)
                for p in session.scalars(select(Preference))
            ),
            "aliases": sorted(
                (a.client_id, a.key, a.recorded_at) for a in session.scalars(select(ClientAlias))
            ),
        }


def run_import(url: str, path: Path, dry_run: bool = False) -> ImportResult:
    with db.session_scope(url) as session:
        return import_file(session, path, dry_run=dry_run, progress=False)


def test_imports_good_file_with_full_width_separators(db_url: str, tmp_path: Path) -> None:
    path = write_csv_file(tmp_path, GOOD_ROWS)
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


def test_gbk_export_with_chinese_headers_imports(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv_file(tmp_path, CHINESE_ROWS, head=CHINESE_HEAD, encoding="gbk")
    assert main(["cards", "import", str(path)]) == 0
    assert "GB18030" in capsys.readouterr().out
    with db.session_scope(db_url) as session:
        zhao, ouyang, qian = (session.get(Client, i) for i in ("Z001", "Z002", "Z003"))
        assert zhao is not None and ouyang is not None and qian is not None
        assert (zhao.honorific, zhao.gender, zhao.phone, zhao.surname) == (
            "先生", "男", "13912340001", "赵",
        )  # fmt: skip
        assert (ouyang.honorific, ouyang.gender, ouyang.phone, ouyang.surname) == (
            "女士", "女", "02162881234", "欧阳",
        )  # fmt: skip
        assert (qian.name, qian.honorific, qian.gender, qian.phone) == (
            "钱芳", "女士", "女", "13712340003",
        )  # fmt: skip
        assert {a.key for a in ouyang.aliases} == {"chloe", "mrsouyang"}
        birthday = next(p for p in zhao.preferences if p.category == "重要日期")
        assert birthday.value == "生日3月21日"
        assert birthday.date_value is not None and (
            birthday.date_value.month,
            birthday.date_value.day,
        ) == (3, 21)
        assert birthday.date_value >= date.today().replace(day=1, month=1)


def test_utf8_bom_with_headers_in_any_order(db_url: str, tmp_path: Path) -> None:
    path = write_csv_file(tmp_path, CHINESE_ROWS, head=CHINESE_HEAD, encoding="utf-8-sig")
    assert (path.read_bytes()[:3]) == b"\xef\xbb\xbf"
    result = run_import(db_url, path)
    assert (result.created, result.described) == (3, "CSV, UTF-8 with BOM")


def test_xlsx_export_imports(db_url: str, tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["手机", "客户编号", "姓名", "称呼", "性别", "等级", "门店", "偏好", "别名"])
    sheet.append(
        [13912340001, "X001", "赵明轩", "赵先生", "M", "钻石", "杭州大厦店", "饮品:龙井", "Kevin"]
    )
    sheet.append(
        ["+86 139 1234 0002", "X002", "孙丽", "孙小姐", "F", "金卡", "北京SKP店", None, None]
    )
    sheet.append([None] * 9)  # blank rows are skipped
    sheet.append(
        ["13912340003", 10003, "周晓雯", "女士", "女", "白金", "上海恒隆店", "尺码：戒圈12号"]
    )
    path = tmp_path / "门店导出.xlsx"
    workbook.save(path)
    result = run_import(db_url, path)
    assert (result.created, result.preferences_added, result.aliases_added) == (3, 2, 1)
    assert result.described == "XLSX"
    with db.session_scope(db_url) as session:
        zhao = session.get(Client, "X001")
        assert zhao is not None
        assert (zhao.honorific, zhao.gender, zhao.phone, zhao.tier) == (
            "先生",
            "男",
            "13912340001",
            "钻石",
        )
        assert [a.key for a in zhao.aliases] == ["kevin"]
        assert session.get(Client, "10003") is not None


def test_xlsx_bad_rows_are_named_by_spreadsheet_row(db_url: str, tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["客户编号", "姓名", "性别"])
    sheet.append(["X001", "赵明轩", "M"])
    sheet.append(["X002", "孙丽", "不详"])
    path = tmp_path / "bad.xlsx"
    workbook.save(path)
    with pytest.raises(CsvImportError, match="row 3, 性别: gender '不详'"):
        run_import(db_url, path)
    assert counts(db_url) == (0, 0)


def test_reimport_changes_nothing(db_url: str, tmp_path: Path) -> None:
    path = write_csv_file(tmp_path, GOOD_ROWS)
    first = run_import(db_url, path)
    before = snapshot(db_url)
    second = run_import(db_url, path)
    assert (first.created, first.preferences_added) == (3, 5)
    assert (second.created, second.updated, second.unchanged, second.preferences_added) == (
        0,
        0,
        3,
        0,
    )
    assert snapshot(db_url) == before


def test_synthetic_cards_reimport_changes_nothing(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "synthetic.csv"
    assert main(["cards", "synth", "2000", str(path), "--seed", "7"]) == 0
    first = run_import(db_url, path)
    assert first.created == 2000 and first.preferences_added > 5000 and first.aliases_added > 50
    before = snapshot(db_url)
    again = run_import(db_url, path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2000)
    assert (again.preferences_added, again.aliases_added) == (0, 0)
    assert snapshot(db_url) == before


def test_first_load_rebuilds_the_indexes_it_dropped(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import text

    from bot.cards import bulk

    monkeypatch.setattr(bulk, "REBUILD_FROM", 1000)

    def indexes() -> list[tuple[str, str]]:
        with db.session_scope(db_url) as session:
            rows = session.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index'"))
            return sorted((str(name), str(sql)) for name, sql in rows)

    before = indexes()
    path = tmp_path / "first.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        write_csv(handle, 1500, seed=2)
    assert run_import(db_url, path).created == 1500
    assert indexes() == before
    assert run_import(db_url, path).unchanged == 1500  # now the store is as big: no rebuild


def test_advisor_observations_survive_reimport(db_url: str, tmp_path: Path) -> None:
    path = write_csv_file(tmp_path, GOOD_ROWS)
    run_import(db_url, path)
    with db.session_scope(db_url) as session:
        wang = session.get(Client, "K001")
        assert wang is not None
        pu_er = next(p for p in wang.preferences if p.value == "普洱")
        pu_er.status = RETRACTED  # an advisor took it back
        wang.preferences.append(Preference(category="忌口", value="不吃蒜", recorded_by="李娜"))
    result = run_import(db_url, path)
    assert (result.updated, result.preferences_added) == (0, 0)
    with db.session_scope(db_url) as session:
        wang = session.get(Client, "K001")
        assert wang is not None
        by_value = {p.value: p.status for p in wang.preferences}
    # Neither removed nor brought back, and no second 普洱.
    assert by_value == {"普洱": RETRACTED, "靠窗": "current", "不吃蒜": "current"}


def test_changed_row_updates_on_client_id(db_url: str, tmp_path: Path) -> None:
    main(["cards", "import", str(write_csv_file(tmp_path, GOOD_ROWS))])
    changed = [GOOD_ROWS[0].replace("钻石", "白金").replace("座位:靠窗", "座位:包间")]
    assert main(["cards", "import", str(write_csv_file(tmp_path, changed, "v2.csv"))]) == 0
    with db.session_scope(db_url) as session:
        client = session.get(Client, "K001")
        assert client is not None and client.tier == "白金"
        values = {p.value for p in client.preferences}
    # Observations are never deleted by an import: the old seat stays, the new one is added.
    assert {"靠窗", "包间", "普洱"} <= values
    assert counts(db_url) == (3, 6)


def test_missing_column_is_left_alone(db_url: str, tmp_path: Path) -> None:
    run_import(db_url, write_csv_file(tmp_path, GOOD_ROWS))
    path = write_csv_file(tmp_path, ["K001,王建国,白金"], "tiers.csv", head="客户编号,姓名,等级")
    result = run_import(db_url, path)
    assert (result.updated, result.unchanged) == (1, 0)
    with db.session_scope(db_url) as session:
        client = session.get(Client, "K001")
        assert client is not None
        assert (client.tier, client.phone, client.home_store) == (
            "白金",
            "13800000001",
            "上海恒隆店",
        )


def test_dry_run_writes_nothing(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_import(db_url, write_csv_file(tmp_path, GOOD_ROWS[:2]))
    before = snapshot(db_url)
    changed = [GOOD_ROWS[0].replace("钻石", "白金").replace("座位:靠窗", "座位:包间"), GOOD_ROWS[2]]
    path = write_csv_file(tmp_path, changed, "v2.csv")
    assert main(["cards", "import", "--dry-run", str(path)]) == 0
    out = capsys.readouterr().out
    assert "nothing was written" in out
    assert "create 1 cards, update 1, leave 0 unchanged, and add 2 preferences" in out
    assert "K001: tier 钻石 → 白金" in out and "K001: + 座位:包间" in out
    assert snapshot(db_url) == before


def test_three_bad_rows_are_all_named_and_nothing_imported(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        *GOOD_ROWS,
        "K004,刘一鸣,钱先生,男,13800000004,,金卡,上海恒隆店,A001,",
        "K005,孙丽,女士,女,12345,,金卡,上海恒隆店,A001,饮品:美式",
        "K006,周晓雯,女士,X,13800000006,,金卡,上海恒隆店,A001,心情:很好",
    ]
    assert main(["cards", "import", str(write_csv_file(tmp_path, rows))]) == 1
    message = capsys.readouterr().err
    assert "4 problems. Nothing was imported." in message
    assert (
        "line 5, honorific: honorific '钱先生' has the surname 钱, but the name is 刘一鸣"
        in message
    )
    assert "line 6, phone: phone '12345' is not a phone number" in message
    assert "line 7, gender: gender 'X'" in message
    assert "line 7, preferences: unknown preference category '心情'" in message
    assert counts(db_url) == (0, 0)


def test_many_bad_rows_show_the_first_fifty(db_url: str, tmp_path: Path) -> None:
    rows = [f"B{i:03d},客户{i},先生,男,123,,金卡,上海恒隆店,A001," for i in range(70)]
    with pytest.raises(CsvImportError) as caught:
        run_import(db_url, write_csv_file(tmp_path, rows))
    message = str(caught.value)
    assert message.count("is not a phone number") == 50
    assert "line 51," in message and "line 52," not in message
    assert message.endswith("… and 20 more")


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
        ("K004,刘一鸣,先生,未说,13800000004,,金卡,上海恒隆店,A001,", "gender '未说'"),
        (
            "K004,刘一鸣,先生,男,13800000004,wmK001abcdefgh,金卡,上海恒隆店,A001,",
            "wecom_external_userid 'wmK001abcdefgh' repeats line 2",
        ),
        (
            "K004,刘一鸣,先生,男,13800000004,,金卡,上海恒隆店,A001,饮品美式",
            "is not 'category:value'",
        ),
        ("K004,刘一鸣,先生,男,1.39123E+10,,金卡,上海恒隆店,A001,", "format the column as text"),
    ],
)
def test_bad_row_names_its_line_and_imports_nothing(
    db_url: str, tmp_path: Path, bad_row: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The bad row is on line 5 (header, three good rows), after rows that are valid.
    path = write_csv_file(tmp_path, [*GOOD_ROWS, bad_row])
    assert main(["cards", "import", str(path)]) == 1
    message = capsys.readouterr().err
    assert "line 5" in message and reason in message and "Nothing was imported" in message
    assert counts(db_url) == (0, 0)


def test_unknown_or_missing_columns_are_refused(db_url: str, tmp_path: Path) -> None:
    path = write_csv_file(tmp_path, ["K1,王建国,3000"], head="id,name,会员积分")
    with pytest.raises(CsvImportError) as caught:
        run_import(db_url, path)
    message = str(caught.value)
    assert "line 1: unknown column 'id'" in message
    assert "line 1: unknown column '会员积分' (known: 客户编号/client_id, 姓名/name" in message
    assert "no 客户编号/client_id column" in message
    repeated = write_csv_file(
        tmp_path, ["K1,王建国,1,2"], "two.csv", head="客户编号,姓名,手机,电话"
    )
    with pytest.raises(CsvImportError, match="columns '手机' and '电话' both mean phone"):
        run_import(db_url, repeated)


def test_neither_utf8_nor_gbk_is_refused(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "binary.csv"
    path.write_bytes((HEAD + "\n").encode() + b"K001,\xff\xfe\xff,\n")
    with pytest.raises(CsvImportError, match="line 2: the file is neither UTF-8 nor GBK/GB18030"):
        run_import(db_url, path)


def test_external_id_owned_by_another_client_is_refused(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["cards", "import", str(write_csv_file(tmp_path, GOOD_ROWS))])
    stolen = ["K009,孙丽,女士,女,13600000009,wmK001abcdefgh,金卡,上海恒隆店,A001,"]
    path = write_csv_file(tmp_path, stolen, "steal.csv")
    assert main(["cards", "import", str(path)]) == 1
    assert "already belongs to client K001" in capsys.readouterr().err
    assert counts(db_url) == (3, 5)


def test_large_file_imports_in_one_transaction(db_url: str, tmp_path: Path) -> None:
    rows = [
        f"B{i:05d},客户{i},女士,女,13{i:09d},,金卡,上海恒隆店,A001,饮品:温水" for i in range(1200)
    ]
    path = write_csv_file(tmp_path, rows)
    assert main(["cards", "import", str(path)]) == 0
    assert counts(db_url) == (1200, 1200)


def test_synthetic_cards_look_like_a_brand_client_list() -> None:
    rows = list(cards(20_000, seed=3))
    assert rows[:50] == list(cards(50, seed=3))  # the same seed, the same cards
    assert rows[:50] != list(cards(50, seed=4))
    assert len({row[4] for row in rows}) == len(rows)  # unique phones
    surnames = [row[1][:1] for row in rows]
    top = sorted(set(surnames), key=surnames.count, reverse=True)[:3]
    assert set(top) == {"王", "李", "张"}
    assert any(row[1].startswith(("欧阳", "司马", "上官", "诸葛")) for row in rows)
    assert 0.03 < sum(bool(row[10]) for row in rows) / len(rows) < 0.07
    preferences = sum(len(row[9].split(";")) for row in rows) / len(rows)
    assert 2.7 < preferences < 3.3
    assert 35 <= len({row[7] for row in rows}) <= 40
    names = [row[1] for row in rows]
    assert len(set(names)) < len(names)  # shared names, as in life
    buffer = io.StringIO()
    write_csv(buffer, 3, seed=3)
    assert buffer.getvalue().splitlines()[0] == ",".join(SYNTHETIC_HEADER)
