"""RFM: recency, frequency and monetary value per client, scored and segmented.

Scores use the fixed thresholds of data/purchases/rfm.yml, so one client's score
is computed from that client's purchases alone (the card does this per lookup)
and means the same in every store and every month.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, case, distinct, func, select
from sqlalchemy.orm import Session

from bot.datafiles import Located, load_located
from bot.paths import project_root
from bot.purchases.models import Purchase

RFM_FILE = Path("data/purchases/rfm.yml")
SEGMENT_KEYS = ("HHH", "HLH", "LHH", "LLH", "HHL", "HLL", "LHL", "LLL")


@dataclass(frozen=True)
class RfmRules:
    window_days: int
    recency_days: tuple[int, ...]
    frequency: tuple[int, ...]
    monetary_fen: tuple[int, ...]
    high_from: int
    segments: dict[str, str]
    band_edges_fen: tuple[int, ...]
    amount_roles: tuple[str, ...]

    def recency_score(self, days: int) -> int:
        """At most the first threshold → 5 … beyond the last → 1."""
        return 5 - bisect.bisect_left(self.recency_days, days)

    @staticmethod
    def _at_least(value: int, thresholds: tuple[int, ...]) -> int:
        return 1 + bisect.bisect_right(thresholds, value)

    def frequency_score(self, count: int) -> int:
        return self._at_least(count, self.frequency)

    def monetary_score(self, fen: int) -> int:
        return self._at_least(fen, self.monetary_fen)

    def segment(self, r: int, f: int, m: int) -> str:
        key = "".join("H" if score >= self.high_from else "L" for score in (r, f, m))
        return self.segments[key]

    def band(self, fen: int) -> str:
        """近12个月 5–20万: the band, never the amount."""
        edges = [_wan(e) for e in self.band_edges_fen]
        index = bisect.bisect_right(self.band_edges_fen, fen)
        if index == 0:
            return f"{edges[0]}以下"
        if index == len(edges):
            return f"{edges[-1]}以上"
        return f"{edges[index - 1]}–{edges[index]}"

    def may_see_amounts(self, role: str) -> bool:
        return role in self.amount_roles


def _wan(fen: int) -> str:
    yuan = fen // 100
    return f"{yuan // 10000}万" if yuan % 10000 == 0 else f"{yuan}元"


def _thresholds(node: Located, scale: int = 1) -> tuple[int, ...]:
    values = node.plain()
    if (
        not isinstance(values, list)
        or len(values) != 4
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values)
        or values != sorted(set(values))
    ):
        raise node.error("expected four ascending positive whole numbers")
    return tuple(v * scale for v in values)


def parse_rfm(path: Path) -> RfmRules:
    root = load_located(path)
    window = root.get("window_days")
    if not isinstance(window.value, int) or not 1 <= window.value <= 3650:
        raise window.error("window_days must be a whole number of days (1–3650)")
    high = root.get("high_from")
    if not isinstance(high.value, int) or not 1 <= high.value <= 5:
        raise high.error("high_from must be a score from 1 to 5")
    segments_node = root.get("segments")
    segments = {key: node.text() for key, node in segments_node.mapping().items()}
    if set(segments) != set(SEGMENT_KEYS):
        raise segments_node.error(f"segments must name exactly {', '.join(SEGMENT_KEYS)}")
    roles = root.get("amount_roles")
    from bot.advisors import ROLES

    for item in roles.items():
        if item.text() not in ROLES:
            raise item.error(f"unknown role '{item.text()}' (known: {', '.join(ROLES)})")
    return RfmRules(
        window_days=window.value,
        recency_days=_thresholds(root.get("recency_days")),
        frequency=_thresholds(root.get("frequency")),
        monetary_fen=_thresholds(root.get("monetary_yuan"), 100),
        high_from=high.value,
        segments=segments,
        band_edges_fen=_thresholds(root.get("spend_bands_yuan"), 100),
        amount_roles=tuple(roles.texts()),
    )


@cache
def load_rfm() -> RfmRules:
    return parse_rfm(project_root() / RFM_FILE)


@dataclass(frozen=True)
class ClientValue:
    client_id: str
    last_purchase: date
    recency_days: int
    frequency: int
    monetary_fen: int
    r: int
    f: int
    m: int
    segment: str
    band: str

    def to_row(self, amounts: bool) -> dict[str, Any]:
        row: dict[str, Any] = {
            "client_id": self.client_id,
            "last_purchase": self.last_purchase.isoformat(),
            "recency_days": self.recency_days,
            "frequency": self.frequency,
            "r": self.r,
            "f": self.f,
            "m": self.m,
            "rfm": f"{self.r}{self.f}{self.m}",
            "segment": self.segment,
            "band": self.band,
        }
        if amounts:
            row["monetary_yuan"] = self.monetary_fen / 100
        return row


def transaction() -> Any:
    """What counts once for frequency: the order, or the line when it has no order id."""
    return case((Purchase.order_id != "", Purchase.order_id), else_=Purchase.key)


@cache
def _totals(some_clients: bool) -> Any:
    """Last purchase, transactions and spend in the window, per client: built once
    (``:start``, and ``:ids`` when ``some_clients``), since a card shows its client's
    value on every lookup and building this statement cost more than running it."""
    in_window = Purchase.purchased_on >= bindparam("start")
    query = select(
        Purchase.client_id,
        func.max(Purchase.purchased_on),
        func.count(distinct(case((in_window & (Purchase.amount_fen > 0), transaction())))),
        func.coalesce(func.sum(case((in_window, Purchase.amount_fen), else_=0)), 0),
    ).group_by(Purchase.client_id)
    if some_clients:
        query = query.where(Purchase.client_id.in_(bindparam("ids", expanding=True)))
    return query.order_by(Purchase.client_id)


def compute(
    session: Session, today: date, rules: RfmRules | None = None,
    client_ids: Iterable[str] | None = None,
) -> list[ClientValue]:  # fmt: skip
    """RFM of every client with a purchase (or of ``client_ids``), as of ``today``."""
    rules = rules or load_rfm()
    params: dict[str, Any] = {"start": today - timedelta(days=rules.window_days - 1)}
    if client_ids is not None:
        params["ids"] = list(client_ids)
    rows = session.execute(_totals(client_ids is not None), params)
    values = []
    for client_id, last, count, spend in rows:
        recency = (today - last).days
        r, f, m = (
            rules.recency_score(recency),
            rules.frequency_score(int(count)),
            rules.monetary_score(int(spend)),
        )
        values.append(
            ClientValue(
                client_id,
                last,
                recency,
                int(count),
                int(spend),
                r,
                f,
                m,
                rules.segment(r, f, m),
                rules.band(max(int(spend), 0)),
            )
        )
    return values


def one(session: Session, client_id: str, today: date) -> ClientValue | None:
    found = compute(session, today, client_ids=[client_id])
    return found[0] if found else None
