"""Tables of the trainer's side of role-play: assignments and check overrides.

The automatic scorecard stays as it was stored in ``roleplays.checks``; a
trainer's verdict on a check is a row of its own beside it, with who, when and
why, so a report can show both and nothing is rewritten.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, DateTime, ForeignKey, Integer, String, Text

from bot.cards.models import Base
from bot.clock import utcnow


class RoleplayAssignment(Base):
    """A persona a trainer asked an advisor to practise, by a date."""

    __tablename__ = "roleplay_assignments"

    id = Column(Integer, primary_key=True, autoincrement=True)
    advisor_id = Column(String(64), nullable=False, index=True)
    persona_id = Column(String(64), nullable=False)
    due_on = Column(Date, nullable=False)
    assigned_by = Column(String(64), nullable=True)
    assigned_at = Column(DateTime, nullable=False, default=utcnow)


class CheckOverride(Base):
    """A trainer's verdict on one check of a stored role-play, with the reason."""

    __tablename__ = "roleplay_check_overrides"

    id = Column(Integer, primary_key=True, autoincrement=True)
    roleplay_id = Column(
        Integer, ForeignKey("roleplays.id", ondelete="CASCADE"), nullable=False, index=True
    )
    check_id = Column(String(64), nullable=False)
    passed = Column(Boolean, nullable=False)
    reason = Column(Text, nullable=False)
    trainer_id = Column(String(64), nullable=False)
    at = Column(DateTime, nullable=False, default=utcnow)
