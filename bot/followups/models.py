"""Tables of the follow-ups: the tasks, their WeCom reminders, and the last list shown.

A task's ``source`` says what made it (a date on a card in a given year, a visit
note, a complaint step, a lapse since a given day) and is unique, so generating
tasks again, in any number of processes, never makes a second one.

A reminder is one message to send at ``due_at``. A process sends it only after
claiming it with ``UPDATE … WHERE status='due' AND claimed_by IS NULL``: the
database lets exactly one claim succeed, however many schedulers run.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)

from bot.cards.models import Base
from bot.clock import utcnow

# Task status; "overdue" is not stored, it is an open task whose due time passed.
OPEN = "open"
DONE = "done"
CANCELLED = "cancelled"

# Reminder status: due → claimed → sent; skipped when nobody can receive it,
# cancelled when the task was done first, failed after the last attempt, expired
# when it could not go out within a day of its time.
DUE = "due"
CLAIMED = "claimed"
SENT = "sent"
SKIPPED = "skipped"
FAILED = "failed"
EXPIRED = "expired"

REMIND = "remind"
ESCALATE = "escalate"


class FollowUp(Base):
    """One thing an advisor should do for a client, by a time."""

    __tablename__ = "followups"
    __table_args__ = (
        Index("ix_followups_owner_status_due", "owner_id", "status", "due_at"),
        Index("ix_followups_store_status_due", "store", "status", "due_at"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    client_id = Column(
        String(64), ForeignKey("clients.id", ondelete="CASCADE"), nullable=False, index=True
    )
    owner_id = Column(String(64), nullable=False, default="")
    store = Column(String(64), nullable=False, default="")
    kind = Column(String(24), nullable=False)
    due_at = Column(DateTime, nullable=False)
    # The day the task is about: the birthday itself, the follow-up date of a note.
    event_on = Column(Date, nullable=True)
    status = Column(String(12), nullable=False, default=OPEN)
    source = Column(String(120), nullable=False, unique=True)
    reason = Column(String(200), nullable=False, default="")
    # The card value (a date) or the visit or complaint note behind the task, if any.
    preference_id = Column(Integer, nullable=True)
    note_id = Column(Integer, nullable=True, index=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    done_at = Column(DateTime, nullable=True)
    done_by = Column(String(64), nullable=True)
    postponed = Column(Integer, nullable=False, default=0)
    first_due_at = Column(DateTime, nullable=True)


class Reminder(Base):
    """One WeCom message for a task: to its owner (remind) or the store's managers (escalate)."""

    __tablename__ = "followup_reminders"
    __table_args__ = (
        UniqueConstraint("followup_id", "kind", "due_at"),
        Index("ix_followup_reminders_status_due", "status", "due_at"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    followup_id = Column(
        Integer, ForeignKey("followups.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind = Column(String(12), nullable=False)
    due_at = Column(DateTime, nullable=False)
    status = Column(String(12), nullable=False, default=DUE)
    claimed_by = Column(String(64), nullable=True)
    claimed_at = Column(DateTime, nullable=True)
    sent_at = Column(DateTime, nullable=True)
    sent_to = Column(String(200), nullable=False, default="")
    attempts = Column(Integer, nullable=False, default=0)
    error = Column(String(200), nullable=False, default="")


class FollowUpFocus(Base):
    """The list an advisor was last shown, in order, so 完成了 / 第2个推迟到周五 know
    which task is meant even a few messages later."""

    __tablename__ = "followup_focus"

    advisor_id = Column(String(64), primary_key=True)
    task_ids = Column(JSON, nullable=False, default=list)
    listed_at = Column(DateTime, nullable=False, default=utcnow)
