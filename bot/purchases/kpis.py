"""Membership KPIs against their targets (data/purchases/kpis.yml), per store and overall.

Members are the cards whose home store it is; their purchases and visit notes,
wherever they happened, count for that store. A KPI with nothing to measure (no
NPS answers, no benefit costs in the imported files) is None, shown as 无数据,
never as zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import distinct, exists, func, or_, select
from sqlalchemy.orm import Session

from bot.cards.models import Client, VisitNote
from bot.clock import LOCAL_TZ
from bot.datafiles import Located, load_located
from bot.paths import project_root
from bot.purchases.models import Purchase
from bot.purchases.rfm import transaction

KPI_FILE = Path("data/purchases/kpis.yml")
KPI_IDS = ("high_net_worth", "ltv", "activation", "nps", "benefits_roi")
ALL_STORES = "全部门店"


@dataclass(frozen=True)
class Kpi:
    id: str
    title: str
    target: float
    params: dict[str, float]

    @property
    def share(self) -> bool:
        return self.id in ("high_net_worth", "activation")

    def show(self, value: float | None) -> str:
        if value is None:
            return "无数据"
        if self.share:
            return f"{value:.0%}"
        if self.id == "benefits_roi":
            return f"1:{value:.1f}"
        if self.id == "ltv":
            return f"{value:.1f}倍"
        return f"{value:.0f}"

    def met(self, value: float | None) -> bool | None:
        return None if value is None else value >= self.target


PARAMS = {
    "high_net_worth": ("days", "ticket_multiple"),
    "ltv": ("years",),
    "activation": ("days",),
    "nps": ("days",),
    "benefits_roi": ("days",),
}


def _number(node: Located) -> float:
    if isinstance(node.value, bool) or not isinstance(node.value, int | float) or node.value <= 0:
        raise node.error(f"expected a positive number, found {node.value!r}")
    return float(node.value)


def parse_kpis(path: Path) -> dict[str, Kpi]:
    root = load_located(path)
    kpis = {}
    for kpi_id, node in root.mapping().items():
        if kpi_id not in KPI_IDS:
            raise node.error(f"unknown KPI '{kpi_id}' (known: {', '.join(KPI_IDS)})")
        fields = node.mapping()
        allowed = ("title", "target", *PARAMS[kpi_id])
        for key, child in fields.items():
            if key not in allowed:
                raise child.error(f"unknown key '{key}' (known: {', '.join(allowed)})")
        kpis[kpi_id] = Kpi(
            kpi_id,
            node.get("title").text(),
            _number(node.get("target")),
            {name: _number(node.get(name)) for name in PARAMS[kpi_id]},
        )
    missing = [k for k in KPI_IDS if k not in kpis]
    if missing:
        raise root.error(f"KPIs missing: {', '.join(missing)}")
    return kpis


@cache
def load_kpis() -> dict[str, Kpi]:
    return parse_kpis(project_root() / KPI_FILE)


@dataclass(frozen=True)
class StoreKpis:
    store: str
    members: int
    values: dict[str, float | None]
    # Amounts behind the ratios (fen), for roles allowed to see amounts.
    amounts: dict[str, int]


class Measure:
    """The KPI queries for one store (``store``) or all stores (None), as of ``today``."""

    def __init__(self, session: Session, today: date, store: str | None) -> None:
        self.session = session
        self.today = today
        self.store = store

    def since(self, days: float) -> date:
        return self.today - timedelta(days=int(days) - 1)

    def _members(self, query: Any) -> Any:
        return query if self.store is None else query.where(Client.home_store == self.store)

    def purchases(self, *columns: Any, since: date) -> Any:
        query = (
            select(*columns)
            .join(Client, Client.id == Purchase.client_id)
            .where(Purchase.purchased_on >= since)
        )
        return self._members(query)

    def members(self) -> int:
        return int(self.session.scalar(self._members(select(func.count(Client.id)))) or 0)

    def ticket(self, since: date) -> tuple[int, int]:
        """(spend in fen, transactions) since the day."""
        spend, count = self.session.execute(
            self.purchases(
                func.coalesce(func.sum(Purchase.amount_fen), 0),
                func.count(distinct(transaction())),
                since=since,
            )
        ).one()
        return int(spend), int(count)

    def high_net_worth(self, kpi: Kpi, members: int) -> float | None:
        since = self.since(kpi.params["days"])
        spend, count = self.ticket(since)
        if not members or not count:
            return None
        threshold = kpi.params["ticket_multiple"] * spend / count
        per_client = self.purchases(
            Purchase.client_id, func.sum(Purchase.amount_fen), since=since
        ).group_by(Purchase.client_id)
        rich = sum(1 for _, total in self.session.execute(per_client) if total >= threshold)
        return rich / members

    def ltv(self, kpi: Kpi) -> tuple[float | None, int, int]:
        """(LTV ÷ average ticket, LTV fen, ticket fen) over the last ``years``."""
        since = self.today - timedelta(days=int(365 * kpi.params["years"]) - 1)
        spend, count = self.ticket(since)
        buyers = int(
            self.session.scalar(
                self.purchases(func.count(distinct(Purchase.client_id)), since=since)
            )
            or 0
        )
        if not buyers or not count:
            return None, 0, 0
        ltv, ticket = spend / buyers, spend / count
        return ltv / ticket, round(ltv), round(ticket)

    def activation(self, kpi: Kpi, members: int) -> float | None:
        since = self.since(kpi.params["days"])
        since_at = (
            datetime.combine(since, time(), tzinfo=LOCAL_TZ)
            .astimezone(timezone.utc)
            .replace(tzinfo=None)
        )
        bought = exists().where(Purchase.client_id == Client.id, Purchase.purchased_on >= since)
        visited = exists().where(VisitNote.client_id == Client.id, VisitNote.created_at >= since_at)
        active = self.session.scalar(
            self._members(select(func.count(Client.id)).where(or_(bought, visited)))
        )
        return int(active or 0) / members if members else None

    def nps(self, kpi: Kpi) -> float | None:
        promoters, detractors, answers = self.session.execute(
            self.purchases(
                func.count(Purchase.nps).filter(Purchase.nps >= 9),
                func.count(Purchase.nps).filter(Purchase.nps <= 6),
                func.count(Purchase.nps),
                since=self.since(kpi.params["days"]),
            )
        ).one()
        return (promoters - detractors) * 100 / answers if answers else None

    def benefits_roi(self, kpi: Kpi) -> float | None:
        revenue, cost = self.session.execute(
            self.purchases(
                func.coalesce(
                    func.sum(Purchase.amount_fen).filter(Purchase.benefit_cost_fen > 0), 0
                ),
                func.coalesce(func.sum(Purchase.benefit_cost_fen), 0),
                since=self.since(kpi.params["days"]),
            )
        ).one()
        return int(revenue) / int(cost) if cost else None

    def all(self, kpis: dict[str, Kpi]) -> StoreKpis:
        members = self.members()
        ratio, ltv, ticket = self.ltv(kpis["ltv"])
        values = {
            "high_net_worth": self.high_net_worth(kpis["high_net_worth"], members),
            "ltv": ratio,
            "activation": self.activation(kpis["activation"], members),
            "nps": self.nps(kpis["nps"]),
            "benefits_roi": self.benefits_roi(kpis["benefits_roi"]),
        }
        return StoreKpis(self.store or ALL_STORES, members, values, {"ltv": ltv, "ticket": ticket})


def stores(session: Session) -> list[str]:
    rows = session.scalars(select(distinct(Client.home_store)).where(Client.home_store != ""))
    return sorted(rows)


def by_store(session: Session, today: date) -> list[StoreKpis]:
    """Every store's KPIs, then all stores together."""
    kpis = load_kpis()
    rows = [Measure(session, today, store).all(kpis) for store in stores(session)]
    rows.append(Measure(session, today, None).all(kpis))
    return rows
