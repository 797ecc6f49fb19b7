"""Purchases: import (GBK CSV with Chinese headers, .xlsx; all or nothing; idempotent),
RFM on a small dataset with hand-computed scores, the membership KPIs against their
targets, the card's value line, and the same SQL on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.cards import db
from bot.cards.card import ClientCard
from bot.cards.models import Client, VisitNote
from bot.followups import report, tasks
from bot.followups.models import Reminder
from bot.followups.reminders import claim
from bot.purchases.importer import PurchaseImportError, import_purchases
from bot.purchases.kpis import ALL_STORES, by_store
from bot.purchases.models import Purchase
from bot.purchases.rfm import compute, load_rfm

TODAY = date(2026, 3, 16)
STORE = "上海恒隆店"
HEADER = "会员编号,消费日期,门店,实付金额,品类,订单号,推荐意愿,权益成本"
# Five members of one store. Hand-computed as of 16 March 2026 (window 365 days, from
# 17 March 2025; thresholds in data/purchases/rfm.yml):
#   A: 3 orders in the window (O1 has two lines), ¥210,000, last 1 March (15 days)
#      → R5 F3 M4 → HHH 重要价值客户, band 20万–50万
#   B: 1 order, ¥8,000, 1 June 2025 (288 days) → R2 F1 M1 → LLL 一般挽留客户, 1万以下
#   C: 2 orders, ¥27,000, last 10 March (6 days) → R5 F2 M2 → HLL 一般发展客户, 1万–5万
#   D: one ¥600,000 order in December 2024, none in the window (470 days)
#      → R1 F1 M1 → LLL 一般挽留客户, 1万以下
#   E: 3 orders, ¥650,000, last 28 August 2025 (200 days) → R2 F3 M5 → LHH 重要保持客户, 50万以上
ROWS = [
    'A,2026-03-01,上海恒隆店,"￥80,000.00",腕表,O1,10,',
    "A,2026/3/1,上海恒隆店,40000,表带,O1,,",
    "A,2026年1月10日,上海恒隆店,3万,腕表,O2,,5000",
    "A,20251201,上海恒隆店,60000元,珠宝,O3,,",
    "B,2025-06-01,北京SKP店,8000,皮具,,5,",
    "C,2026-02-20,上海恒隆店,15000,珠宝,,9,",
    "C,2026-03-10,上海恒隆店,12000,珠宝,,,4000",
    "D,2024-12-01,上海恒隆店,600000,腕表,O9,,",
    "E,2025-08-28,上海恒隆店,300000,珠宝,O20,7,",
    "E,2025-07-01,上海恒隆店,250000,珠宝,O21,,",
    "E,2025-05-01,上海恒隆店,100000,腕表,O22,,",
]


def members(session: Session) -> None:
    for client_id in "ABCDE":
        session.add(
            Client(id=client_id, name=f"客户{client_id}", home_store=STORE, tier="钻石",
                   created_at=datetime(2024, 1, 1), updated_at=datetime(2024, 1, 1))
        )  # fmt: skip
    session.flush()


def gbk_csv(path: Path, rows: list[str]) -> Path:
    path.write_bytes("\r\n".join([HEADER, *rows]).encode("gbk"))
    return path


def test_rfm_on_a_small_dataset_matches_hand_computed_scores(
    session: Session, tmp_path: Path
) -> None:
    members(session)
    result = import_purchases(session, gbk_csv(tmp_path / "sales.csv", ROWS), TODAY)
    assert (result.rows, result.created, result.described) == (11, 11, "CSV, GB18030")
    values = {v.client_id: v for v in compute(session, TODAY)}
    got = {
        c: (v.recency_days, v.frequency, v.monetary_fen // 100, f"{v.r}{v.f}{v.m}",
            v.segment, v.band)
        for c, v in values.items()
    }  # fmt: skip
    assert got == {
        "A": (15, 3, 210_000, "534", "重要价值客户", "20万–50万"),
        "B": (288, 1, 8_000, "211", "一般挽留客户", "1万以下"),
        "C": (6, 2, 27_000, "522", "一般发展客户", "1万–5万"),
        "D": (470, 0, 0, "111", "一般挽留客户", "1万以下"),
        "E": (200, 3, 650_000, "235", "重要保持客户", "50万以上"),
    }


def test_membership_kpis_against_their_targets(session: Session, tmp_path: Path) -> None:
    members(session)
    import_purchases(session, gbk_csv(tmp_path / "sales.csv", ROWS), TODAY)
    rows = {row.store: row for row in by_store(session, TODAY)}
    overall = rows[ALL_STORES]
    assert overall.members == 5
    # In the window: ¥895,000 over 9 orders → ticket ¥99,444; 3× that is ¥298,333:
    # only E (¥650,000) reaches it → 1 of 5 members.
    assert overall.values["high_net_worth"] == pytest.approx(0.2)
    # Three years: ¥1,495,000 by 5 buyers in 10 orders → LTV ¥299,000 = 2.0 × ticket ¥149,500.
    assert overall.values["ltv"] == pytest.approx(2.0)
    assert overall.amounts == {"ltv": 29_900_000, "ticket": 14_950_000}
    # A, B, C and E bought within the year; D did not and has no visit → 4 of 5.
    assert overall.values["activation"] == pytest.approx(0.8)
    # Answers 10, 5, 9, 7: promoters 2, detractors 1, of 4 → 25.
    assert overall.values["nps"] == pytest.approx(25.0)
    # ¥30,000 + ¥12,000 bought with benefits costing ¥9,000 → 1:4.67.
    assert overall.values["benefits_roi"] == pytest.approx(42 / 9)
    table = report.kpi_table(session, TODAY, amounts=True)
    last = table.rows[-1]
    assert (last["high_net_worth_met"], last["ltv_met"], last["activation_met"]) == (
        "否",
        "否",
        "是",
    )
    assert (last["nps_met"], last["benefits_roi_met"]) == ("否", "是")
    assert last["ticket_yuan"] == 149_500
    assert "ltv_yuan" not in report.kpi_table(session, TODAY, amounts=False).rows[-1]
    # A visit counts as activity too.
    visit = VisitNote(client_id="D", kind="visit", advisor_id="A001", store=STORE,
                      summary="来店保养", details={}, created_at=datetime(2026, 3, 1))  # fmt: skip
    session.add(visit)
    session.flush()
    assert by_store(session, TODAY)[-1].values["activation"] == pytest.approx(1.0)


def test_import_is_idempotent_all_or_nothing_and_reads_xlsx(
    session: Session, tmp_path: Path
) -> None:
    from openpyxl import Workbook

    members(session)
    path = gbk_csv(tmp_path / "sales.csv", ROWS)
    import_purchases(session, path, TODAY)
    again = import_purchases(session, path, TODAY)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 11)
    # The same sales as a workbook with English headers in another order: nothing new.
    book = Workbook()
    sheet = book.active
    sheet.append(["amount", "client_id", "store", "category", "date", "order_id"])
    for row in ROWS:
        c, d, s, a, cat, order = row.replace('"￥80,000.00"', "80000").split(",")[:6]
        sheet.append([a, c, s, cat, d, order])
    book.save(tmp_path / "sales.xlsx")
    xlsx = import_purchases(session, tmp_path / "sales.xlsx", TODAY)
    assert xlsx.described == "XLSX" and xlsx.created == 0
    # nps and benefit columns absent from the workbook: those lines were updated to none
    assert xlsx.updated == 6 and xlsx.unchanged == 5
    count = session.scalar(select(func.count(Purchase.id)))
    assert count == 11

    bad = gbk_csv(tmp_path / "bad.csv", [*ROWS[:3], "Z,2026-03-01,上海恒隆店,100,腕表,,,"])
    with pytest.raises(PurchaseImportError, match=r"bad.csv:5: no client card with id 'Z'"):
        import_purchases(session, bad, TODAY)
    for line, reason in (
        ("A,2026-13-01,上海恒隆店,100,腕表,,,", "not a real date"),
        ("A,2026-03-01,上海恒隆店,12.345,腕表,,,", "more than two decimals"),
        ("A,2026-03-01,上海恒隆店,100,腕表,,11,", "from 0 to 10"),
        ("A,2027-03-01,上海恒隆店,100,腕表,,,", "in the future"),
        ("A,2026-03-01,,100,腕表,,,", "store is empty"),
    ):
        with pytest.raises(PurchaseImportError, match=reason):
            import_purchases(session, gbk_csv(tmp_path / "one.csv", [line]), TODAY)
    with pytest.raises(PurchaseImportError, match="missing column"):
        (tmp_path / "cols.csv").write_text("会员编号,金额\nA,1\n", encoding="utf-8")
        import_purchases(session, tmp_path / "cols.csv", TODAY)


def test_all_or_nothing_through_a_transaction(db_url: str, tmp_path: Path) -> None:
    with db.session_scope(db_url) as session:
        members(session)
    rows = [*ROWS, "Z,2026-03-01,上海恒隆店,100,腕表,,,"]  # the last line is bad
    with pytest.raises(PurchaseImportError), db.session_scope(db_url) as session:
        import_purchases(session, gbk_csv(tmp_path / "sales.csv", rows), TODAY)
    with db.session_scope(db_url) as session:
        assert session.scalar(select(func.count(Purchase.id))) == 0


def test_the_card_shows_last_visit_band_and_segment_but_no_amount(
    session: Session, tmp_path: Path
) -> None:
    members(session)
    import_purchases(session, gbk_csv(tmp_path / "sales.csv", ROWS), date.today())
    card = ClientCard.of(session.get(Client, "E"))
    assert card.value is not None
    assert card.value["last_visit"] == "2025-08-28"
    assert card.value["segment"] and card.value["spend_band"].startswith("近12个月")
    payload = json.dumps(card.to_payload(), ensure_ascii=False)
    assert "650000" not in payload and "65000000" not in payload
    assert "最近到店 8月28日" in card.render()
    assert load_rfm().may_see_amounts("manager") and not load_rfm().may_see_amounts("advisor")


# -- the same on PostgreSQL ----------------------------------------------------------------


@pytest.fixture(scope="module")
def pg() -> Iterator[str]:
    """A throwaway PostgreSQL server, started the way tests/test_postgres.py starts one."""
    from tests.test_postgres import pg_url

    yield from pg_url.__wrapped__()


@pytest.mark.postgres
def test_purchases_kpis_followups_and_claims_on_postgres(pg: str, tmp_path: Path) -> None:
    db.upgrade(pg)
    with db.session_scope(pg) as session:
        members(session)
        import_purchases(session, gbk_csv(tmp_path / "sales.csv", ROWS), TODAY)
        assert import_purchases(session, tmp_path / "sales.csv", TODAY).unchanged == 11
    with db.session_scope(pg) as session:
        assert {v.client_id: v.segment for v in compute(session, TODAY)}["E"] == "重要保持客户"
        assert by_store(session, TODAY)[-1].values["nps"] == pytest.approx(25.0)
        session.add(
            VisitNote(client_id="A", kind="complaint", advisor_id="A001", store=STORE,
                      summary="投诉：表带断了", details={"issue": "表带断了"}, status="open",
                      created_at=datetime(2026, 3, 16, 2))
        )  # fmt: skip
        now = datetime(2026, 3, 16, 2, 5)
        assert tasks.generate(session, now).created == 2 + 3  # two steps; B, D, E lapsed
        assert tasks.generate(session, now).created == 0
        ids = list(session.scalars(select(Reminder.id)))
    won = [i for i in ids if claim(pg, i, "one", now + timedelta(hours=3))]
    assert won == ids and not [i for i in ids if claim(pg, i, "two", now + timedelta(hours=3))]
