"""Advisors and their access tokens.

A token is shown once, when the advisor is added; only its SHA-256 is stored,
so a copy of the database does not let anyone talk as an advisor.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import time
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from bot.cards.models import Advisor
from bot.clock import utcnow
from bot.sessions import SESSION_PREFIX, AdvisorSession

ROLES = ("advisor", "manager", "trainer")
TOKEN_PREFIX = "cpk_"


@dataclasses.dataclass(frozen=True)
class AdvisorIdentity:
    id: str
    name: str
    store: str
    role: str

    @classmethod
    def of(cls, advisor: Advisor) -> AdvisorIdentity:
        return cls(advisor.id, advisor.name, advisor.store, advisor.role)

    def to_metadata(self) -> dict[str, dict[str, str]]:
        """Message metadata carrying who sent it.

        The channel that authenticated the advisor attaches this to the message,
        so the action server knows the sender without another database lookup.
        """
        return {"advisor": dataclasses.asdict(self)}

    @classmethod
    def from_metadata(cls, metadata: object, sender_id: str) -> AdvisorIdentity | None:
        """The identity a channel attached for ``sender_id``, if it is complete."""
        advisor = metadata.get("advisor") if isinstance(metadata, dict) else None
        if not isinstance(advisor, dict) or advisor.get("id") != sender_id:
            return None
        fields = [advisor.get(key) for key in ("id", "name", "store", "role")]
        if not all(isinstance(value, str) and value for value in fields):
            return None
        return cls(*(str(value) for value in fields))


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


def authenticate(connection: Connection | Session, token: str) -> AdvisorIdentity | None:
    """The token's owner. Reads four columns, no ORM objects: it runs on every request.

    Besides the advisor's own access token, a sign-in session token (``cps_``, made
    by WeCom sign-in, bot.sessions) is accepted until it expires.
    """
    columns = (Advisor.id, Advisor.name, Advisor.store, Advisor.role)
    if token.startswith(SESSION_PREFIX):
        query = (
            select(*columns)
            .join(AdvisorSession, AdvisorSession.advisor_id == Advisor.id)
            .where(
                AdvisorSession.token_hash == hash_token(token),
                AdvisorSession.expires_at > utcnow(),
            )
        )
    elif token.startswith(TOKEN_PREFIX):
        query = select(*columns).where(Advisor.token_hash == hash_token(token))
    else:
        return None
    row = connection.execute(query).first()
    return AdvisorIdentity(*row) if row else None


def identity(session: Session, advisor_id: str) -> AdvisorIdentity | None:
    advisor = session.get(Advisor, advisor_id)
    return AdvisorIdentity.of(advisor) if advisor else None


class RecentTokens:
    """Tokens that proved valid in the last few seconds, so most messages skip the database.

    The copilot channel checks the token of every message, and most messages come
    from an advisor who sent one moments ago. Only successful checks are kept, for
    ``ttl`` seconds: a token replaced by ``copilot advisors add`` stops working
    within that time, and an unknown token is always looked up.
    """

    MAX_ENTRIES = 10_000

    def __init__(
        self,
        lookup: Callable[[str], AdvisorIdentity | None],
        ttl: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self._ttl = ttl
        self._clock = clock
        self._valid: dict[str, tuple[float, AdvisorIdentity]] = {}

    def check(self, token: str) -> AdvisorIdentity | None:
        key = hash_token(token)
        now = self._clock()
        known = self._valid.get(key)
        if known and now - known[0] < self._ttl:
            return known[1]
        identity = self._lookup(token)
        if identity is None:
            self._valid.pop(key, None)
            return None
        if len(self._valid) >= self.MAX_ENTRIES:
            self._valid = {k: v for k, v in self._valid.items() if now - v[0] < self._ttl}
        self._valid[key] = (now, identity)
        return identity
