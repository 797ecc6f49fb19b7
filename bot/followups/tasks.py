"""Follow-up tasks: made from cards, visit notes, complaints and lapsed top-tier clients.

Every function takes ``now`` (naive UTC, as stored) instead of reading the clock,
so the same code runs in the scheduler, in a turn, and in tests over any day.

Generation is idempotent: each task has a unique ``source``, and rows are written
with INSERT … ON CONFLICT DO NOTHING, so two scheduler processes (or a turn and
the scheduler) generating at once end with one task and one set of reminders.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.cards.models import CURRENT, Client, Preference, VisitNote
from bot.clock import LOCAL_TZ, to_local
from bot.flows.definition import load_flows
from bot.followups.models import (
    CANCELLED,
    DONE,
    DUE,
    ESCALATE,
    OPEN,
    REMIND,
    FollowUp,
    Reminder,
)
from bot.followups.rules import COMPLAINT_STEP_KINDS, DATE_KINDS, Rules, load_rules
from bot.nlu.dates import find_date
from bot.purchases.models import Purchase

COMPLAINT_OPEN = "open"
REASON_CHARS = 200


def local_day(now: datetime) -> date:
    return to_local(now).date()


def utc_at(day: date, hour: int, minute: int = 0) -> datetime:
    """Naive UTC for a local (UTC+8) day and time."""
    local = datetime.combine(day, time(hour, minute), tzinfo=LOCAL_TZ)
    return local.astimezone(timezone.utc).replace(tzinfo=None)


def end_of_day(now: datetime) -> datetime:
    return utc_at(local_day(now) + timedelta(days=1), 0)


def next_occurrence(month: int, day: int, today: date) -> date:
    """The next time (today included) a yearly date comes round; 29 Feb is 28 Feb
    in other years."""
    for year in (today.year, today.year + 1):
        try:
            when = date(year, month, day)
        except ValueError:
            when = date(year, month, 28)
        if when >= today:
            return when
    raise AssertionError("a yearly date always comes round within a year")


@dataclass(frozen=True)
class Scope:
    """Limit generation to one advisor's or one store's clients (for a turn); None: all."""

    owner: str | None = None
    store: str | None = None


@dataclass
class Generated:
    created: int = 0
    closed: int = 0
    cancelled: int = 0


def _insert_ignoring_conflicts(session: Session, table: Any, values: dict[str, Any]) -> int:
    """INSERT … ON CONFLICT DO NOTHING; the number of rows written (0 or 1)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    result = session.execute(insert(table).values(**values).on_conflict_do_nothing())
    return int(result.rowcount or 0)


def add_task(
    session: Session,
    rules: Rules,
    now: datetime,
    *,
    source: str,
    client_id: str,
    owner_id: str,
    store: str,
    kind: str,
    due_at: datetime,
    reason: str,
    event_on: date | None = None,
    note_id: int | None = None,
    preference_id: int | None = None,
) -> bool:
    """Create the task and its reminders unless a task with ``source`` exists."""
    written = _insert_ignoring_conflicts(
        session,
        FollowUp.__table__,
        {
            "source": source, "client_id": client_id, "owner_id": owner_id or "",
            "store": store or "", "kind": kind, "due_at": due_at, "event_on": event_on,
            "status": OPEN, "reason": reason[:REASON_CHARS], "note_id": note_id,
            "preference_id": preference_id,
            "created_at": now, "postponed": 0, "first_due_at": due_at,
        },
    )  # fmt: skip
    if not written:
        return False
    task_id = session.scalar(select(FollowUp.id).where(FollowUp.source == source))
    kind_rule = rules.kinds[kind]
    schedule_reminder(
        session, task_id, REMIND, due_at - timedelta(minutes=kind_rule.remind_before_minutes)
    )
    if kind_rule.escalate:
        schedule_reminder(session, task_id, ESCALATE, due_at)
    return True


def schedule_reminder(session: Session, task_id: int, kind: str, due_at: datetime) -> None:
    _insert_ignoring_conflicts(
        session,
        Reminder.__table__,
        {"followup_id": task_id, "kind": kind, "due_at": due_at, "status": DUE,
         "sent_to": "", "attempts": 0, "error": ""},
    )  # fmt: skip


def _known(session: Session, sources: Iterable[str]) -> set[str]:
    wanted = list(dict.fromkeys(sources))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found.update(session.scalars(select(FollowUp.source).where(FollowUp.source.in_(chunk))))
    return found


# -- dates on cards ---------------------------------------------------------------


def _month_day(preference: Preference, today: date) -> tuple[int, int] | None:
    if preference.date_value is not None:
        return preference.date_value.month, preference.date_value.day
    found = find_date(preference.value, today)  # cards written before dates were resolved
    return (found.when.month, found.when.day) if found else None


def _date_candidates(
    session: Session, rules: Rules, today: date, scope: Scope
) -> list[tuple[Preference, Client]]:
    horizon = today + timedelta(days=max(rules.max_days_ahead, rules.week_days))
    months = {(today + timedelta(days=d)).month for d in range((horizon - today).days + 1)}
    query = (
        select(Preference, Client)
        .join(Client, Client.id == Preference.client_id)
        .where(
            Preference.category == rules.date_category,
            Preference.status == CURRENT,
            or_(
                Preference.date_value.is_(None),
                func.extract("month", Preference.date_value).in_(sorted(months)),
            ),
        )
    )
    if scope.owner is not None:
        query = query.where(Client.advisor == scope.owner)
    if scope.store is not None:
        query = query.where(Client.home_store == scope.store)
    return [(row[0], row[1]) for row in session.execute(query)]


def date_reason(value: str, event_on: date, today: date) -> str:
    """生日3月21日（还有4天）; the date is added when the card's words do not say it."""
    days = (event_on - today).days
    when = "就是今天" if days == 0 else "明天" if days == 1 else f"还有{days}天"
    day = f"{event_on.month}月{event_on.day}日"
    return f"{value}（{when}）" if day in value else f"{value}（{day}，{when}）"


def sync_dates(session: Session, rules: Rules, now: datetime, scope: Scope = Scope()) -> int:
    """Tasks for birthdays, anniversaries and other yearly dates coming up."""
    today = local_day(now)
    horizon_days = max(rules.max_days_ahead, rules.week_days)
    planned = []
    for preference, client in _date_candidates(session, rules, today, scope):
        month_day = _month_day(preference, today)
        if month_day is None:
            continue
        event_on = next_occurrence(*month_day, today)
        if (event_on - today).days > horizon_days:
            continue
        kind, days_ahead = rules.date_kind(preference.value)
        due = max(utc_at(event_on - timedelta(days=days_ahead), rules.remind_hour), now)
        source = f"date:{preference.id}:{event_on.isoformat()}"
        planned.append((source, preference, client, kind, due, event_on))
    known = _known(session, (p[0] for p in planned))
    created = 0
    for source, preference, client, kind, due, event_on in planned:
        if source in known:
            continue
        created += add_task(
            session, rules, now, source=source, client_id=client.id, owner_id=client.advisor,
            store=client.home_store, kind=kind, due_at=due, event_on=event_on,
            reason=date_reason(preference.value, event_on, today), preference_id=preference.id,
        )  # fmt: skip
    return created


def cancel_stale_dates(session: Session, now: datetime) -> int:
    """Open date tasks whose card value was corrected or removed since."""
    stale = session.scalars(
        select(FollowUp)
        .outerjoin(Preference, Preference.id == FollowUp.preference_id)
        .where(
            FollowUp.status == OPEN,
            FollowUp.kind.in_(DATE_KINDS),
            or_(Preference.id.is_(None), Preference.status != CURRENT),
        )
    ).all()
    for task in stale:
        close(session, task, CANCELLED, now, "card_changed")
    return len(stale)


# -- visit notes and complaints ---------------------------------------------------


def _note_scope(query: Any, scope: Scope) -> Any:
    if scope.owner is not None:
        query = query.where(VisitNote.advisor_id == scope.owner)
    if scope.store is not None:
        query = query.where(VisitNote.store == scope.store)
    return query


def note_reason(note: VisitNote) -> str:
    """11月23日接待后约好的回访：平时经常出差见投资人."""
    made = to_local(note.created_at)
    label = "投诉" if note.kind == "complaint" else "接待"
    first = next(
        (
            line.strip("· ").split("：", 1)[-1]
            for line in note.summary.splitlines()
            if line.startswith("·")
        ),
        "",
    )
    head = f"{made.month}月{made.day}日{label}后约好的回访"
    return f"{head}：{first}" if first else head


def sync_notes(session: Session, rules: Rules, now: datetime, scope: Scope = Scope()) -> int:
    """Tasks for the follow-up dates of visit and complaint notes."""
    today = local_day(now)
    query = select(VisitNote).where(
        VisitNote.follow_up_on.is_not(None),
        VisitNote.follow_up_on >= today - timedelta(days=rules.notes_lookback_days),
        VisitNote.follow_up_on <= today + timedelta(days=rules.week_days),
    )
    notes = session.scalars(_note_scope(query, scope)).all()
    known = _known(session, (f"note:{n.id}" for n in notes))
    created = 0
    for note in notes:
        if f"note:{note.id}" in known:
            continue
        created += add_task(
            session, rules, now, source=f"note:{note.id}", client_id=note.client_id,
            owner_id=note.advisor_id, store=note.store,
            kind="complaint_followup" if note.kind == "complaint" else "visit",
            due_at=utc_at(note.follow_up_on, rules.remind_hour), event_on=note.follow_up_on,
            reason=note_reason(note), note_id=note.id,
        )  # fmt: skip
    return created


def complaint_issue(note: VisitNote) -> str:
    details = note.details or {}
    return str(details.get("issue") or note.summary.splitlines()[0].removeprefix("投诉："))


def ensure_complaint_tasks(session: Session, rules: Rules, note: VisitNote, now: datetime) -> int:
    """The step tasks of one complaint: due at each deadline from when it was reported."""
    flow = load_flows()["complaint"]
    created = 0
    for step_id, kind in rules.complaint_steps.items():
        minutes = flow.step(step_id).deadline_minutes or 0
        due = note.created_at + timedelta(minutes=minutes)
        step = flow.step(step_id)
        created += add_task(
            session, rules, now, source=f"complaint:{note.id}:{step_id}",
            client_id=note.client_id, owner_id=note.advisor_id, store=note.store, kind=kind,
            due_at=due, note_id=note.id,
            reason=f"投诉：{complaint_issue(note)}（{step.title}，{minutes}分钟内）",
        )  # fmt: skip
    return created


def sync_complaints(session: Session, rules: Rules, now: datetime, scope: Scope = Scope()) -> int:
    query = select(VisitNote).where(
        VisitNote.kind == "complaint",
        VisitNote.created_at >= now - timedelta(days=rules.complaint_lookback_days),
    )
    notes = session.scalars(_note_scope(query, scope)).all()
    expected = [f"complaint:{n.id}:{step}" for n in notes for step in rules.complaint_steps]
    known = _known(session, expected)
    created = 0
    for note in notes:
        if all(f"complaint:{note.id}:{step}" in known for step in rules.complaint_steps):
            continue
        created += ensure_complaint_tasks(session, rules, note, now)
    return created


def close_finished_complaints(session: Session, now: datetime) -> int:
    """Step tasks of a complaint that ended (resolved) without the step being marked:
    closed now, so they stop reminding; the SLA credits only times recorded before."""
    rows = session.execute(
        select(FollowUp, VisitNote.status)
        .outerjoin(VisitNote, VisitNote.id == FollowUp.note_id)
        .where(FollowUp.status == OPEN, FollowUp.kind.in_(COMPLAINT_STEP_KINDS))
    ).all()
    closed = 0
    for task, note_status in rows:
        if note_status is None or note_status != COMPLAINT_OPEN:
            close(session, task, DONE, now, "complaint_closed")
            closed += 1
    return closed


def record_complaint_progress(
    session: Session,
    note_id: int,
    done_steps: Iterable[str],
    now: datetime,
    rules: Rules | None = None,
) -> int:
    """Mark the complaint's step tasks done as its flow moves past them.

    Called with the steps the complaint flow reports done (``deadlines()`` rows with
    ``done``), at the moment they are done: that is the time the SLA measures.
    """
    rules = rules or load_rules()
    note = session.get(VisitNote, note_id)
    if note is None:
        return 0
    ensure_complaint_tasks(session, rules, note, now)
    sources = [
        f"complaint:{note_id}:{step}" for step in done_steps if step in rules.complaint_steps
    ]
    if not sources:
        return 0
    tasks = session.scalars(
        select(FollowUp).where(FollowUp.source.in_(sources), FollowUp.status == OPEN)
    ).all()
    for task in tasks:
        close(session, task, DONE, now, note.advisor_id)
    return len(tasks)


# -- lapsed top-tier clients ------------------------------------------------------


def sync_lapsed(session: Session, rules: Rules, now: datetime, scope: Scope = Scope()) -> int:
    """A task for each top-tier client with no visit or purchase in ``inactive_days``."""
    cutoff = now - timedelta(days=rules.lapsed_days)
    cutoff_day = local_day(cutoff)
    recent_note = exists().where(VisitNote.client_id == Client.id, VisitNote.created_at >= cutoff)
    recent_purchase = exists().where(
        Purchase.client_id == Client.id, Purchase.purchased_on >= cutoff_day
    )
    open_task = exists().where(
        FollowUp.client_id == Client.id, FollowUp.kind == "lapsed", FollowUp.status == OPEN
    )
    query = select(Client).where(
        Client.tier.in_(rules.lapsed_tiers),
        Client.created_at < cutoff,
        ~recent_note,
        ~recent_purchase,
        ~open_task,
    )
    if scope.owner is not None:
        query = query.where(Client.advisor == scope.owner)
    if scope.store is not None:
        query = query.where(Client.home_store == scope.store)
    today = local_day(now)
    due = max(utc_at(today, rules.remind_hour), now)
    created = 0
    for client in session.scalars(query).all():
        last = last_activity(session, client)
        since = f"已经{(today - last).days}天没有到店或消费（上次 {last.month}月{last.day}日）"
        created += add_task(
            session, rules, now, source=f"lapsed:{client.id}:{last.isoformat()}",
            client_id=client.id, owner_id=client.advisor, store=client.home_store,
            kind="lapsed", due_at=due,
            reason=f"{client.tier}客户，{since}",
        )  # fmt: skip
    return created


def last_activity(session: Session, client: Client) -> date:
    """The last visit or purchase, else the day the card was made."""
    visited = session.scalar(
        select(func.max(VisitNote.created_at)).where(VisitNote.client_id == client.id)
    )
    bought = session.scalar(
        select(func.max(Purchase.purchased_on)).where(Purchase.client_id == client.id)
    )
    days = [local_day(client.created_at)]
    if visited is not None:
        days.append(local_day(visited))
    if bought is not None:
        days.append(bought)
    return max(days)


# -- the whole pass, and a task's end -----------------------------------------------


def generate(
    session: Session,
    now: datetime,
    rules: Rules | None = None,
    scope: Scope = Scope(),
    lapsed: bool = True,
) -> Generated:
    """Every source, once; safe to run any number of times, from any number of processes."""
    rules = rules or load_rules()
    result = Generated()
    result.created += sync_dates(session, rules, now, scope)
    result.created += sync_notes(session, rules, now, scope)
    result.created += sync_complaints(session, rules, now, scope)
    if lapsed:
        result.created += sync_lapsed(session, rules, now, scope)
    result.closed = close_finished_complaints(session, now)
    result.cancelled = cancel_stale_dates(session, now)
    session.flush()
    return result


def close(session: Session, task: FollowUp, status: str, now: datetime, by: str) -> None:
    """Done or cancelled: reminders not yet sent are cancelled with it."""
    task.status, task.done_at, task.done_by = status, now, by
    session.execute(
        update(Reminder)
        .where(Reminder.followup_id == task.id, Reminder.status == DUE)
        .values(status=CANCELLED)
    )


def postpone(session: Session, task: FollowUp, due_at: datetime, rules: Rules) -> None:
    """Move the task; its reminder moves with it (or a new one is set if it went out)."""
    task.due_at = due_at
    task.postponed = (task.postponed or 0) + 1
    remind_at = due_at - timedelta(minutes=rules.kinds[task.kind].remind_before_minutes)
    pending = session.scalars(
        select(Reminder).where(
            Reminder.followup_id == task.id, Reminder.kind == REMIND, Reminder.status == DUE
        )
    ).first()
    if pending is not None:
        pending.due_at = remind_at
    else:
        schedule_reminder(session, task.id, REMIND, remind_at)
    session.flush()


def overdue(task: FollowUp, now: datetime) -> bool:
    return task.status == OPEN and task.due_at < now


def display_status(task: FollowUp, now: datetime) -> str:
    return "overdue" if overdue(task, now) else str(task.status)


def open_tasks(
    session: Session, where: list[Any], before: datetime | None = None
) -> list[FollowUp]:
    query = select(FollowUp).where(FollowUp.status == OPEN, and_(*where))
    if before is not None:
        query = query.where(FollowUp.due_at < before)
    return list(session.scalars(query).all())


def rank(tasks: Iterable[FollowUp], rules: Rules, now: datetime) -> list[FollowUp]:
    """Most urgent first: the kind's priority, a bonus once overdue, then the earliest due."""

    def key(task: FollowUp) -> tuple[int, datetime, int]:
        score = rules.kinds[task.kind].priority
        if overdue(task, now):
            score += rules.overdue_bonus
        return (-score, task.due_at, task.id)

    return sorted(tasks, key=key)
