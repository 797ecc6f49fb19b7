"""WeCom reminders for follow-ups: claimed in the database, then sent, exactly once.

Any number of scheduler processes may sweep at once. Each reminder is claimed by
one ``UPDATE … SET status='claimed', claimed_by=:me WHERE id=:id AND status='due'
AND claimed_by IS NULL`` in its own transaction; the database lets one claim
succeed (SQLite serialises writers, PostgreSQL re-checks the row after the lock),
and only the process whose claim changed the row sends the message.

The one gap no database can close: a process that dies after WeCom accepted a
message but before it recorded ``sent``. Its claim is released after
``claim_timeout_minutes`` and the message goes out again; dying before the send
is therefore never a lost reminder, at the price of a rare duplicate.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.cards.card import ClientCard
from bot.cards.db import get_engine, session_scope
from bot.cards.models import Advisor, Client
from bot.channels.wecom.api import WeComApiError, WeComClient
from bot.channels.wecom.render import split
from bot.clock import local_text
from bot.followups.models import (
    CANCELLED,
    CLAIMED,
    DUE,
    ESCALATE,
    EXPIRED,
    FAILED,
    OPEN,
    SENT,
    SKIPPED,
    FollowUp,
    Reminder,
)
from bot.followups.openers import opener
from bot.followups.rules import Rules, load_rules
from bot.followups.tasks import local_day
from bot.replies import Message

logger = logging.getLogger(__name__)

BATCH = 100
ERROR_CHARS = 200


def worker_id() -> str:
    """Who claimed a reminder: host and process, for the log and for a person reading the table."""
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


@dataclass
class Sweep:
    sent: int = 0
    skipped: int = 0
    cancelled: int = 0
    retried: int = 0
    failed: int = 0
    released: int = 0
    expired: int = 0


@dataclass(frozen=True)
class Outgoing:
    to: tuple[str, ...]
    content: str


def release_stale_claims(url: str, now: datetime, rules: Rules) -> int:
    """Claims held longer than any send takes: their process died; let another send."""
    cutoff = now - timedelta(minutes=rules.scheduling.claim_timeout_minutes)
    with get_engine(url).begin() as connection:
        result = connection.execute(
            update(Reminder)
            .where(Reminder.status == CLAIMED, Reminder.claimed_at < cutoff)
            .values(status=DUE, claimed_by=None, claimed_at=None)
        )
    return int(result.rowcount or 0)


def expire_late(url: str, now: datetime, rules: Rules) -> int:
    cutoff = now - timedelta(hours=rules.scheduling.expire_hours)
    with get_engine(url).begin() as connection:
        result = connection.execute(
            update(Reminder)
            .where(Reminder.status == DUE, Reminder.due_at < cutoff)
            .values(status=EXPIRED, error="not sent within expire_hours of its time")
        )
    return int(result.rowcount or 0)


def due_reminders(url: str, now: datetime, limit: int = BATCH) -> list[int]:
    with get_engine(url).connect() as connection:
        rows = connection.execute(
            select(Reminder.id)
            .where(Reminder.status == DUE, Reminder.due_at <= now)
            .order_by(Reminder.due_at, Reminder.id)
            .limit(limit)
        )
        return [int(row[0]) for row in rows]


def claim(url: str, reminder_id: int, worker: str, now: datetime) -> bool:
    """True only for the one process whose UPDATE changed the row."""
    with get_engine(url).begin() as connection:
        result = connection.execute(
            update(Reminder)
            .where(
                Reminder.id == reminder_id,
                Reminder.status == DUE,
                Reminder.claimed_by.is_(None),
            )
            .values(status=CLAIMED, claimed_by=worker, claimed_at=now)
        )
    return result.rowcount == 1


def _finish(url: str, reminder_id: int, worker: str, **values: object) -> None:
    """Record the outcome, only while this process still holds the claim."""
    with get_engine(url).begin() as connection:
        connection.execute(
            update(Reminder)
            .where(Reminder.id == reminder_id, Reminder.claimed_by == worker)
            .values(**values)
        )


def _recipients(session: Session, reminder: Reminder, task: FollowUp) -> list[Advisor]:
    if reminder.kind == ESCALATE:
        query = select(Advisor).where(Advisor.role == "manager", Advisor.store == task.store)
        return [a for a in session.scalars(query.order_by(Advisor.id)) if a.wecom_userid]
    owner = session.get(Advisor, task.owner_id) if task.owner_id else None
    return [owner] if owner is not None and owner.wecom_userid else []


def compose(session: Session, reminder: Reminder, rules: Rules, now: datetime) -> Outgoing | str:
    """The message and its WeCom user ids, or the status to record instead."""
    task = session.get(FollowUp, reminder.followup_id)
    if task is None or task.status != OPEN:
        return CANCELLED
    recipients = _recipients(session, reminder, task)
    if not recipients:
        return SKIPPED
    client = session.get(Client, task.client_id)
    card = ClientCard.of(client, history=0) if client else None
    who = card.who if card else task.client_id
    if client is not None and client.tier:
        who = f"{who} · {client.tier}"
    variables = {
        "kind_title": rules.kinds[task.kind].title,
        "who": who,
        "reason": task.reason,
        "due": local_text(task.due_at),
    }
    if reminder.kind == ESCALATE:
        owner = session.get(Advisor, task.owner_id) if task.owner_id else None
        variables |= {"store": task.store, "owner": owner.name if owner else "未分配的顾问"}
        message = Message("followup_escalation", variables)
    else:
        line = opener(session, task, client, local_day(now), card) if client else None
        message = (
            Message("followup_reminder", {**variables, "opener": line})
            if line
            else Message("followup_reminder_plain", variables)
        )
    content = split(message.text(str(task.id)))[0]
    return Outgoing(tuple(str(a.wecom_userid) for a in recipients), content)


async def send_one(
    url: str, client: WeComClient, reminder_id: int, worker: str, now: datetime, rules: Rules
) -> str:
    """Send a claimed reminder; the status it ends in."""
    with session_scope(url) as session:
        reminder = session.get(Reminder, reminder_id)
        if reminder is None:
            return CANCELLED
        outgoing = compose(session, reminder, rules, now)
        attempts = reminder.attempts + 1
    if isinstance(outgoing, str):
        reason = {SKIPPED: "nobody with a WeCom account to send to"}.get(outgoing, "")
        _finish(url, reminder_id, worker, status=outgoing, error=reason)
        return outgoing
    try:
        await client.send_markdown("|".join(outgoing.to), outgoing.content)
    except WeComApiError as exc:
        error = str(exc)[:ERROR_CHARS]
        logger.warning("reminder %s: %s", reminder_id, error)
        if attempts >= rules.scheduling.attempts:
            _finish(url, reminder_id, worker, status=FAILED, attempts=attempts, error=error)
            return FAILED
        retry_at = now + timedelta(minutes=rules.scheduling.retry_minutes)
        _finish(
            url, reminder_id, worker, status=DUE, claimed_by=None, claimed_at=None,
            attempts=attempts, error=error, due_at=retry_at,
        )  # fmt: skip
        return DUE
    _finish(
        url, reminder_id, worker, status=SENT, sent_at=now, attempts=attempts,
        sent_to="|".join(outgoing.to)[:200],
    )  # fmt: skip
    return SENT


async def sweep(
    url: str, client: WeComClient, now: datetime, worker: str, rules: Rules | None = None
) -> Sweep:
    """Release dead claims, drop hopelessly late reminders, then claim and send what is due."""
    rules = rules or load_rules()
    result = Sweep(
        released=release_stale_claims(url, now, rules), expired=expire_late(url, now, rules)
    )
    for reminder_id in due_reminders(url, now):
        if not claim(url, reminder_id, worker, now):
            continue  # another process has it
        status = await send_one(url, client, reminder_id, worker, now, rules)
        if status == SENT:
            result.sent += 1
        elif status == SKIPPED:
            result.skipped += 1
        elif status == CANCELLED:
            result.cancelled += 1
        elif status == DUE:
            result.retried += 1
        else:
            result.failed += 1
    return result
