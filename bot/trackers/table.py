"""The ``conversations`` table: one row per conversation, its state as one JSON document.

Kept apart from the store so the Alembic environment can import it without Rasa.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, String, Text

from bot.cards.models import Base
from bot.clock import utcnow

SENDER_CHARS = 255
VERSION_CHARS = 32


class Conversation(Base):
    """A conversation's tracker state (see bot.trackers.snapshot) and its version.

    ``version`` is a random token written with each save: a replica that has the
    same version cached need not read or parse the state again, and a save that
    names the version it read fails if someone else has written since.
    """

    __tablename__ = "conversations"

    sender_id = Column(String(SENDER_CHARS), primary_key=True)
    version = Column(String(VERSION_CHARS), nullable=False)
    state = Column(Text, nullable=False)
    updated_at = Column(DateTime, nullable=False, default=utcnow)
