"""Sign-in sessions: a token per device, made when an advisor signs in through WeCom.

An advisor's own access token (``copilot advisors add``) is one per advisor:
issuing another revokes the first. Signing in inside WeCom must not log the same
advisor out of the browser where they pasted that token, nor the toolbar page
out of the widget, so each WeCom sign-in gets a session token of its own, kept
as a SHA-256 like the access token and valid for a limited time.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import Column, DateTime, String, delete
from sqlalchemy.orm import Session

from bot.cards.models import Base

SESSION_PREFIX = "cps_"
SESSION_HOURS = 12


class AdvisorSession(Base):
    __tablename__ = "advisor_sessions"

    token_hash = Column(String(64), primary_key=True)
    advisor_id = Column(String(64), nullable=False, index=True)
    via = Column(String(16), nullable=False)
    created_at = Column(DateTime, nullable=False)
    expires_at = Column(DateTime, nullable=False, index=True)


def open_session(
    session: Session, advisor_id: str, via: str, now: datetime, hours: int = SESSION_HOURS
) -> str:
    """A new session token for the advisor; expired sessions are cleared on the way."""
    from bot.advisors import hash_token

    session.execute(delete(AdvisorSession).where(AdvisorSession.expires_at < now))
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    session.add(
        AdvisorSession(
            token_hash=hash_token(token),
            advisor_id=advisor_id,
            via=via,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    session.flush()
    return token
