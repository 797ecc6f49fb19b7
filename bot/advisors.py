"""Advisors and their access tokens.

A token is shown once, when the advisor is added; only its SHA-256 is stored,
so a copy of the database does not let anyone talk as an advisor.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cards.models import Advisor

ROLES = ("advisor", "manager", "trainer")
TOKEN_PREFIX = "cpk_"


@dataclass(frozen=True)
class AdvisorIdentity:
    id: str
    name: str
    store: str
    role: str

    @classmethod
    def of(cls, advisor: Advisor) -> AdvisorIdentity:
        return cls(advisor.id, advisor.name, advisor.store, advisor.role)


# Who "records" a preference when no registered advisor is known (e.g. rasa shell).
UNKNOWN_ADVISOR = AdvisorIdentity("unknown", "未登记顾问", "未知门店", "advisor")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def upsert_advisor(
    session: Session,
    advisor_id: str,
    name: str,
    store: str,
    role: str,
    wecom_userid: str | None = None,
) -> Advisor:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not '{role}'")
    advisor = session.get(Advisor, advisor_id)
    if advisor is None:
        advisor = Advisor(id=advisor_id, name=name, store=store, role=role)
        session.add(advisor)
    else:
        advisor.name, advisor.store, advisor.role = name, store, role
    if wecom_userid:
        advisor.wecom_userid = wecom_userid
    return advisor


def issue_token(session: Session, advisor: Advisor) -> str:
    """A new token for the advisor; any earlier token stops working."""
    token = new_token()
    advisor.token_hash = hash_token(token)
    session.flush()
    return token


def authenticate(session: Session, token: str) -> AdvisorIdentity | None:
    if not token or not token.startswith(TOKEN_PREFIX):
        return None
    advisor = session.scalars(
        select(Advisor).where(Advisor.token_hash == hash_token(token))
    ).first()
    return AdvisorIdentity.of(advisor) if advisor else None


def identity(session: Session, advisor_id: str) -> AdvisorIdentity | None:
    advisor = session.get(Advisor, advisor_id)
    return AdvisorIdentity.of(advisor) if advisor else None
