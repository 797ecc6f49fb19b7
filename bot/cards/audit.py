"""Who saw or changed a client's card, when, from which store: the access log.

Why: a card holds personal information (what a client eats, is allergic to,
when their birthday is, their phone number) shared across every store. China's
Personal Information Protection Law asks a handler to limit access to those who
need it and to be able to show who processed whose data (PIPL arts. 9, 51, 54:
security measures, access control, compliance audits), and a client may ask
who has seen their data. ``preference_events`` says what changed on a card;
this table also says who *looked*, so ``copilot audit C0001`` can answer both.

Every card the copilot shows an advisor is a "read" (recorded by the action
adapter after the turn); the card store records its writes ("write", "create",
"retract", "move", "alias" ...). Rows are appended inside the turn's transaction, so
a turn that fails leaves no record of an access that did not happen. There is no
foreign key to ``clients``: the record of an access outlives the card.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, String, select
from sqlalchemy.orm import Session

from bot.advisors import AdvisorIdentity
from bot.cards.models import Base
from bot.clock import utcnow

DETAIL_CHARS = 200


class CardAccess(Base):
    """One access to a client's card by one advisor."""

    __tablename__ = "card_access"
    __table_args__ = (Index("ix_card_access_advisor", "advisor_id", "id"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    client_id = Column(String(64), nullable=False, index=True)
    advisor_id = Column(String(64), nullable=False)
    # The name and store as they were at the time: an advisor may move later.
    advisor_name = Column(String(64), nullable=False, default="")
    advisor_store = Column(String(64), nullable=False, default="")
    action = Column(String(16), nullable=False)
    detail = Column(String(DETAIL_CHARS), nullable=False, default="")
    at = Column(DateTime, nullable=False, default=utcnow, index=True)


def record(
    session: Session, advisor: AdvisorIdentity, client_id: str, action: str, detail: str = ""
) -> None:
    """Append one access to ``client_id``'s card by ``advisor``, in the caller's transaction.

    ``action`` is "read" or what the store did ("write", "create", "retract",
    "superseded", "move", "alias" ...); it is stored as given, at most 16 characters.
    """
    session.add(
        CardAccess(
            client_id=client_id,
            advisor_id=advisor.id,
            advisor_name=advisor.name,
            advisor_store=advisor.store,
            action=action[:16],
            detail=detail[:DETAIL_CHARS],
            at=utcnow(),
        )
    )


def accesses(session: Session, client_id: str, limit: int = 50) -> list[CardAccess]:
    """The latest accesses to ``client_id``'s card, newest first."""
    query = (
        select(CardAccess)
        .where(CardAccess.client_id == client_id)
        .order_by(CardAccess.at.desc(), CardAccess.id.desc())
        .limit(limit)
    )
    return list(session.execute(query).scalars())
