"""`copilot purchases import FILE`: a store's sales export into the purchases table.

The file is read by the card import's layer (bot.cards.exports: CSV in UTF-8 or
GBK/GB18030, or .xlsx; streamed), with headers in English or Chinese in any
order. The import is all or nothing: the first bad row stops it with its line and
reason, inside one transaction that is then rolled back. Importing the same file
again changes nothing: each line has a key (its order number, else its content,
plus how many identical lines came before it in the file), upserted.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from bot.cards.exports import FileRefused, Table, normalise_header, open_table
from bot.cards.models import Client
from bot.purchases.models import Purchase

COLUMNS: dict[str, tuple[str, ...]] = {
    "client_id": ("client_id", "客户编号", "客户id", "客户号", "会员编号", "会员号", "会员卡号"),
    "purchased_on": (
        "purchased_on",
        "date",
        "日期",
        "购买日期",
        "消费日期",
        "交易日期",
        "销售日期",
    ),
    "store": ("store", "门店", "购买门店", "消费门店", "销售门店"),
    "amount": ("amount", "金额", "消费金额", "实付金额", "成交金额", "销售金额", "实收金额"),
    "category": ("category", "品类", "类别", "商品类别", "商品品类"),
    "order_id": ("order_id", "订单号", "单号", "小票号", "交易号", "订单编号"),
    "nps": ("nps", "推荐意愿", "推荐分", "nps评分"),
    "benefit_cost": ("benefit_cost", "权益成本", "会员权益成本"),
}
REQUIRED = ("client_id", "purchased_on", "store", "amount", "category")
_BY_HEADER = {normalise_header(t): column for column, texts in COLUMNS.items() for t in texts}
CHUNK = 2000
MAX_CHARS = {"client_id": 64, "store": 64, "category": 32, "order_id": 64}

_DATE = re.compile(
    r"^(\d{4})\s*(?:[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?|(\d{2})(\d{2}))"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$"
)
_EXCEL_EPOCH = date(1899, 12, 30)
_MONEY_JUNK = re.compile(r"[¥￥,，\s]|元$|^RMB|^CNY", re.IGNORECASE)


class PurchaseImportError(ValueError):
    """The file cannot be imported; nothing was written. Names the line and the reason."""

    def __init__(self, path: Path, line: int, reason: str, unit: str = "line") -> None:
        where = f"{path}:{line}" if line else str(path)
        super().__init__(
            f"{where}: {reason}" if unit == "line" else f"{path} {unit} {line}: {reason}"
        )
        self.line = line
        self.reason = reason


@dataclass
class PurchaseImportResult:
    path: Path
    described: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    seconds: float = 0.0
    clients: set[str] = field(default_factory=set)


def parse_date(text: str, today: date) -> date:
    """2026-03-05, 2026/3/5, 2026.3.5, 2026年3月5日, 20260305, an .xlsx datetime, or
    an Excel day number (46086) from a cell that lost its date format."""
    text = text.strip()
    if text.isdigit() and len(text) == 5:
        when = _EXCEL_EPOCH + timedelta(days=int(text))
    else:
        match = _DATE.match(text)
        if not match:
            raise ValueError(f"'{text}' is not a date (write 2026-03-05)")
        year = int(match.group(1))
        month, day = (match.group(2), match.group(3)) if match.group(2) else match.group(4, 5)
        try:
            when = date(year, int(month), int(day))
        except ValueError as exc:
            raise ValueError(f"'{text}' is not a real date") from exc
    if when > today + timedelta(days=1):
        raise ValueError(f"{when.isoformat()} is in the future")
    return when


def parse_fen(text: str, what: str = "amount") -> int:
    """¥12,800.00 / 12800元 / 1.28万 → 1280000 fen. At most two decimals of a yuan."""
    clean = _MONEY_JUNK.sub("", text.strip())
    scale = Decimal(1)
    if clean.endswith("万"):
        clean, scale = clean[:-1], Decimal(10000)
    try:
        value = Decimal(clean) * scale
    except InvalidOperation as exc:
        raise ValueError(f"{what} '{text}' is not a number") from exc
    fen = value * 100
    if fen != fen.to_integral_value():
        raise ValueError(f"{what} '{text}' has more than two decimals")
    return int(fen)


@dataclass(frozen=True)
class Row:
    line: int
    key: str
    values: dict[str, object]


def _header(table: Table) -> dict[str, int]:
    positions: dict[str, int] = {}
    for index, label in enumerate(table.header_cells):
        if not label.strip():
            continue
        column = _BY_HEADER.get(normalise_header(label))
        if column is None:
            known = ", ".join(f"{t[1]}/{c}" for c, t in COLUMNS.items())
            raise FileRefused(
                table.header_line, f"unknown column '{label.strip()}' (known: {known})"
            )
        if column in positions:
            raise FileRefused(table.header_line, f"two columns mean {column}")
        positions[column] = index
    missing = [f"{COLUMNS[c][1]}/{c}" for c in REQUIRED if c not in positions]
    if missing:
        raise FileRefused(table.header_line, f"missing column(s): {', '.join(missing)}")
    return positions


def parse_rows(table: Table, today: date) -> Iterator[Row]:
    """Checked rows with their keys; ValueError carries the reason, FileRefused the line."""
    positions = _header(table)
    seen: dict[str, int] = {}
    for line, cells in table.rows:
        if not any(cell.strip() for cell in cells):
            continue
        cell = {c: (cells[i].strip() if i < len(cells) else "") for c, i in positions.items()}
        try:
            values = _values(cell, today)
        except ValueError as exc:
            raise FileRefused(line, str(exc)) from exc
        base = (
            f"o:{values['order_id']}"
            if values["order_id"]
            else "r:{client_id}|{purchased_on}|{store}|{amount_fen}|{category}".format(**values)
        )
        seen[base] = seen.get(base, 0) + 1
        key = hashlib.sha1(f"{base}#{seen[base]}".encode()).hexdigest()
        yield Row(line, key, values)


def _values(cell: dict[str, str], today: date) -> dict[str, object]:
    for column in REQUIRED:
        if not cell.get(column):
            raise ValueError(f"{column} is empty")
    for column, limit in MAX_CHARS.items():
        if len(cell.get(column, "")) > limit:
            raise ValueError(f"{column} is longer than {limit} characters")
    amount = parse_fen(cell["amount"])
    if amount == 0:
        raise ValueError("amount is zero")
    nps = None
    if cell.get("nps"):
        if not cell["nps"].isdigit() or not 0 <= int(cell["nps"]) <= 10:
            raise ValueError(f"nps '{cell['nps']}' must be a whole number from 0 to 10")
        nps = int(cell["nps"])
    benefit = parse_fen(cell["benefit_cost"], "benefit_cost") if cell.get("benefit_cost") else None
    if benefit is not None and benefit < 0:
        raise ValueError("benefit_cost is negative")
    return {
        "client_id": cell["client_id"],
        "purchased_on": parse_date(cell["purchased_on"], today),
        "store": cell["store"],
        "amount_fen": amount,
        "category": cell["category"],
        "order_id": cell.get("order_id", ""),
        "nps": nps,
        "benefit_cost_fen": benefit,
    }


FIELDS = ("client_id", "purchased_on", "store", "amount_fen", "category", "order_id", "nps",
          "benefit_cost_fen")  # fmt: skip


def _write(session: Session, rows: list[Row], result: PurchaseImportResult) -> None:
    ids = {str(r.values["client_id"]) for r in rows}
    known = set(session.scalars(select(Client.id).where(Client.id.in_(ids))))
    for row in rows:
        if row.values["client_id"] not in known:
            raise FileRefused(row.line, f"no client card with id '{row.values['client_id']}'")
    existing = {
        p.key: p
        for p in session.scalars(select(Purchase).where(Purchase.key.in_([r.key for r in rows])))
    }
    new = []
    for row in rows:
        found = existing.get(row.key)
        if found is None:
            new.append({"key": row.key, **row.values})
        elif any(getattr(found, f) != row.values[f] for f in FIELDS):
            for name in FIELDS:
                setattr(found, name, row.values[name])
            result.updated += 1
        else:
            result.unchanged += 1
    if new:
        session.execute(insert(Purchase.__table__), new)
        result.created += len(new)
    result.clients.update(ids)


def import_purchases(session: Session, path: Path, today: date) -> PurchaseImportResult:
    """Read, check and write the whole file in the caller's transaction (all or nothing)."""
    started = time.monotonic()
    try:
        table = open_table(path)
    except FileRefused as exc:
        raise PurchaseImportError(path, exc.line, exc.reason) from exc
    result = PurchaseImportResult(path, table.described)
    chunk: list[Row] = []
    try:
        for row in parse_rows(table, today):
            chunk.append(row)
            result.rows += 1
            if len(chunk) >= CHUNK:
                _write(session, chunk, result)
                chunk = []
        if chunk:
            _write(session, chunk, result)
    except FileRefused as exc:
        raise PurchaseImportError(path, exc.line, exc.reason, table.unit) from exc
    if result.rows == 0:
        raise PurchaseImportError(path, table.header_line, "no purchases below the header")
    session.flush()
    result.seconds = time.monotonic() - started
    return result
