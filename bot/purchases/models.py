"""The purchases table. Amounts are whole fen (分) in a BIGINT: exact, and the same
in SQLite and PostgreSQL, where a float would drift and a DECIMAL differs."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, DateTime, ForeignKey, Index, Integer, String

from bot.cards.models import Base
from bot.clock import utcnow


class Purchase(Base):
    """One line of a store's sales export, for one client."""

    __tablename__ = "purchases"
    __table_args__ = (
        Index("ix_purchases_client_date", "client_id", "purchased_on"),
        Index("ix_purchases_store_date", "store", "purchased_on"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    # What makes the line the same line when a file is imported again (see importer).
    key = Column(String(64), nullable=False, unique=True)
    client_id = Column(String(64), ForeignKey("clients.id", ondelete="CASCADE"), nullable=False)
    purchased_on = Column(Date, nullable=False)
    store = Column(String(64), nullable=False, default="")
    amount_fen = Column(BigInteger, nullable=False)
    category = Column(String(32), nullable=False, default="")
    # One transaction may have several lines; frequency counts transactions.
    order_id = Column(String(64), nullable=False, default="")
    # Optional survey answer (0–10, "how likely to recommend us") for NPS.
    nps = Column(Integer, nullable=True)
    # Optional cost of a member benefit used on this purchase, for benefits ROI.
    benefit_cost_fen = Column(BigInteger, nullable=True)
    imported_at = Column(DateTime, nullable=False, default=utcnow)
