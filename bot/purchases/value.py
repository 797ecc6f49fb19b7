"""What a card says about a client's value: last visit, a spend band, the RFM segment.

Bands, not amounts: every advisor sees the card, and amounts are for the roles
data/purchases/rfm.yml allows (the manager's page). A client with no purchases
and no visits gets no value line at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy.orm import object_session

from bot.cards.models import Client, VisitNote
from bot.clock import to_local, utcnow
from bot.purchases.rfm import load_rfm, one


def card_value(
    client: Client, notes: Sequence[VisitNote], today: date | None = None
) -> dict[str, Any] | None:
    """The value line of ``client``'s card, whose ``notes`` the card has just read."""
    session = object_session(client)
    if session is None:
        return None
    today = today or to_local(utcnow()).date()
    visits = [to_local(n.created_at).date() for n in notes if n.kind == "visit"]
    value = one(session, client.id, today)
    days = [d for d in (max(visits, default=None), value.last_purchase if value else None) if d]
    if not days:
        return None
    rules = load_rfm()
    months = round(rules.window_days / 30.4)
    return {
        "last_visit": max(days).isoformat(),
        "spend_band": f"近{months}个月 {value.band}" if value else None,
        "segment": value.segment if value else None,
        "rfm": f"{value.r}{value.f}{value.m}" if value else None,
    }


def render_value(value: dict[str, Any]) -> str:
    """最近到店 11月3日 · 近12个月 5万–20万 · 重要价值客户"""
    last = date.fromisoformat(value["last_visit"])
    parts = [f"最近到店 {last.month}月{last.day}日"]
    parts += [value[k] for k in ("spend_band", "segment") if value.get(k)]
    return " · ".join(parts)
