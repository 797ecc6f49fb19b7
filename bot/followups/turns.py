"""Follow-up turns: 今天要跟进谁, 这周有哪些客户过生日, 有没有超时的投诉, 完成了, 推迟到周五.

Each list is ranked, each item carries an opener, and the order shown is kept
(bot.followups.models.FollowUpFocus), so 第2条完成了 or a bare 完成了 a few
messages later still means the task the advisor was looking at.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.advisors import AdvisorIdentity
from bot.cards.card import ClientCard
from bot.cards.models import Client
from bot.cards.resolver import Resolver
from bot.cards.store import CardStore
from bot.cards.turns import base_reply
from bot.clock import local_iso, local_text, to_local, utcnow
from bot.followups.models import CANCELLED, DONE, OPEN, FollowUp, FollowUpFocus
from bot.followups.openers import opener
from bot.followups.rules import COMPLAINT_STEP_KINDS, Rules, load_rules
from bot.followups.tasks import (
    Scope,
    close,
    display_status,
    end_of_day,
    generate,
    local_day,
    overdue,
    postpone,
    rank,
    utc_at,
)
from bot.nlu.dates import find_date
from bot.replies import Message, Reply
from bot.turn import FLOW_STATE, Turn

SHOWN = 8
_NUMERALS = "零一二三四五六七八九十"
_ORDINAL = re.compile(r"第\s*([一二两三四五六七八九十\d]{1,3})\s*[个条项位]?")
_SHIFT = re.compile(
    r"(?:推迟|延后|延期|顺延|往后推|往后挪|推后|挪后|晚)\s*([一二两三四五六七八九十\d]{1,3})\s*"
    r"(天|日|周|个?星期|个?礼拜)"
)
_HOUR = re.compile(
    r"(上午|早上|中午|下午|晚上)?\s*(\d{1,2}|[一二两三四五六七八九十]{1,3})\s*[点:：](半|\d{2})?"
)


def _number(text: str) -> int:
    if text.isdigit():
        return int(text)
    text = text.replace("两", "二")
    if text == "十":
        return 10
    if text.startswith("十"):
        return 10 + _NUMERALS.index(text[1])
    if "十" in text:
        tens, _, ones = text.partition("十")
        return _NUMERALS.index(tens) * 10 + (_NUMERALS.index(ones) if ones else 0)
    return _NUMERALS.index(text)


def _scope(advisor: AdvisorIdentity) -> Scope:
    """A manager looks after the whole store; an advisor after their own clients."""
    return Scope(store=advisor.store) if advisor.role == "manager" else Scope(owner=advisor.id)


def _mine(advisor: AdvisorIdentity) -> Any:
    if advisor.role == "manager":
        return FollowUp.store == advisor.store
    return FollowUp.owner_id == advisor.id


def _due_text(task: FollowUp, now: datetime) -> str:
    if overdue(task, now):
        minutes = int((now - task.due_at).total_seconds() // 60)
        late = f"{minutes}分钟" if minutes < 120 else f"{minutes // 60}小时"
        return f"已超时{late}（截止 {local_text(task.due_at)}）"
    return f"截止 {local_text(task.due_at)}"


class Listing:
    """Tasks with their clients and openers, as lines for chat and items for the payload."""

    def __init__(self, store: CardStore, rules: Rules, now: datetime) -> None:
        self.store = store
        self.rules = rules
        self.now = now
        self.today = local_day(now)
        self._cards: dict[str, ClientCard] = {}

    def card(self, client: Client) -> ClientCard:
        """Each client's card once per listing (several tasks may share a client)."""
        if client.id not in self._cards:
            self._cards[client.id] = ClientCard.of(client, history=0)
        return self._cards[client.id]

    def clients(self, tasks: list[FollowUp]) -> dict[str, Client]:
        return {c.id: c for c in self.store.get_many({t.client_id for t in tasks})}

    def label(self, task: FollowUp, client: Client | None) -> str:
        who = self.card(client).who if client else task.client_id
        return f"{who} · {self.rules.kinds[task.kind].title}"

    def item(self, task: FollowUp, client: Client | None) -> dict[str, Any]:
        card = self.card(client) if client else None
        line = opener(self.store.session, task, client, self.today, card) if client else None
        return {
            "id": task.id,
            "client": {
                "id": task.client_id,
                "name": client.name if client else "",
                "address": card.address if card else "",
            },
            "kind": task.kind,
            "kind_title": self.rules.kinds[task.kind].title,
            "due": local_iso(task.due_at),
            "status": display_status(task, self.now),
            "reason": task.reason,
            "opener": line,
            "owner": task.owner_id,
        }

    def render(self, tasks: list[FollowUp]) -> tuple[str, list[dict[str, Any]]]:
        clients = self.clients(tasks)
        items = [self.item(t, clients.get(t.client_id)) for t in tasks]
        lines = []
        for number, (task, item) in enumerate(zip(tasks, items, strict=True), 1):
            mark = "⏰" if item["status"] == "overdue" else "✅" if task.status == DONE else ""
            lines.append(
                f"{number}. {mark}{self.label(task, clients.get(task.client_id))}"
                f" · {_due_text(task, self.now)}\n   {task.reason}"
            )
            if item["opener"]:
                lines.append(f"   开场：{item['opener']}")
        return "\n".join(lines), items


def _remember(
    store: CardStore, advisor: AdvisorIdentity, tasks: list[FollowUp], now: datetime
) -> None:
    focus = store.session.get(FollowUpFocus, advisor.id)
    ids = [t.id for t in tasks]
    if focus is None:
        store.session.add(FollowUpFocus(advisor_id=advisor.id, task_ids=ids, listed_at=now))
    else:
        focus.task_ids, focus.listed_at = ids, now


def _list_reply(
    store: CardStore,
    turn: Turn,
    tasks: list[FollowUp],
    listing: Listing,
    key: str,
    variables: dict[str, Any],
) -> Reply:
    shown = tasks[:SHOWN]
    lines, items = listing.render(shown)
    if len(tasks) > SHOWN:
        lines += "\n" + Message("followup_more", {"count": len(tasks) - SHOWN}).text(turn.text)
    _remember(store, turn.advisor, shown, listing.now)
    reply = base_reply(turn, [Message(key, {**variables, "count": len(tasks), "lines": lines})])
    reply.extra["followups"] = items
    return reply


def list_today(store: CardStore, turn: Turn, now: datetime | None = None) -> Reply:
    """Open tasks due by the end of today (overdue included), most urgent first."""
    now = now or utcnow()
    rules = load_rules()
    generate(store.session, now, rules, _scope(turn.advisor))
    mine = FollowUp.owner_id == turn.advisor.id
    if turn.advisor.role == "manager":
        # The store's overdue complaint steps are the manager's business too.
        store_overdue = (
            (FollowUp.store == turn.advisor.store)
            & FollowUp.kind.in_(COMPLAINT_STEP_KINDS)
            & (FollowUp.due_at < now)
        )
        mine = mine | store_overdue
    tasks = store.session.scalars(
        select(FollowUp).where(FollowUp.status == OPEN, mine, FollowUp.due_at < end_of_day(now))
    ).all()
    ranked = rank(tasks, rules, now)
    listing = Listing(store, rules, now)
    if not ranked:
        return base_reply(turn, [Message("followup_today_none")])
    return _list_reply(store, turn, ranked, listing, "followup_today", {})


def list_birthdays(store: CardStore, turn: Turn, now: datetime | None = None) -> Reply:
    """Clients whose birthday falls in the next ``week_days`` days, soonest first."""
    now = now or utcnow()
    rules = load_rules()
    generate(store.session, now, rules, _scope(turn.advisor), lapsed=False)
    today = local_day(now)
    last = today + timedelta(days=rules.week_days - 1)
    tasks = store.session.scalars(
        select(FollowUp)
        .where(
            _mine(turn.advisor),
            FollowUp.kind == "birthday",
            FollowUp.status != CANCELLED,
            FollowUp.event_on >= today,
            FollowUp.event_on <= last,
        )
        .order_by(FollowUp.event_on, FollowUp.id)
    ).all()
    listing = Listing(store, rules, now)
    if not tasks:
        return base_reply(turn, [Message("followup_birthdays_none", {"days": rules.week_days})])
    return _list_reply(
        store, turn, list(tasks), listing, "followup_birthdays", {"days": rules.week_days}
    )


def list_overdue_complaints(store: CardStore, turn: Turn, now: datetime | None = None) -> Reply:
    """Complaint steps past their deadline; if none, the ones still running."""
    now = now or utcnow()
    rules = load_rules()
    generate(store.session, now, rules, _scope(turn.advisor), lapsed=False)
    tasks = store.session.scalars(
        select(FollowUp).where(
            _mine(turn.advisor), FollowUp.status == OPEN, FollowUp.kind.in_(COMPLAINT_STEP_KINDS)
        )
    ).all()
    ranked = rank(tasks, rules, now)
    late = [t for t in ranked if overdue(t, now)]
    listing = Listing(store, rules, now)
    if late:
        return _list_reply(store, turn, late, listing, "followup_overdue", {})
    if ranked:
        return _list_reply(store, turn, ranked, listing, "followup_overdue_none_open", {})
    return base_reply(turn, [Message("followup_overdue_none")])


# -- 完成了 / 推迟到周五 ---------------------------------------------------------------


def _focus(store: CardStore, advisor: AdvisorIdentity) -> list[FollowUp]:
    focus = store.session.get(FollowUpFocus, advisor.id)
    if focus is None:
        return []
    tasks = {
        t.id: t
        for t in store.session.scalars(select(FollowUp).where(FollowUp.id.in_(focus.task_ids)))
    }
    return [tasks[i] for i in focus.task_ids if i in tasks]


def _for_client(store: CardStore, turn: Turn, shown: list[FollowUp]) -> FollowUp | None:
    """The open task of the client the message names: the one shown first, else the earliest."""
    clients = [t.client for t in Resolver(store, turn).all_named() if t.client is not None]
    if len(clients) != 1:
        return None
    client_id = clients[0].id
    for task in shown:
        if task.client_id == client_id and task.status == OPEN:
            return task
    return store.session.scalars(
        select(FollowUp)
        .where(FollowUp.client_id == client_id, FollowUp.status == OPEN, _mine(turn.advisor))
        .order_by(FollowUp.due_at, FollowUp.id)
    ).first()


def _in_complaint(store: CardStore, turn: Turn, now: datetime) -> FollowUp | None:
    """During complaint handling, 完成了 is about the complaint's earliest open step."""
    state = turn.slots.get(FLOW_STATE)
    if not isinstance(state, dict) or state.get("flow") != "complaint" or not state.get("note_id"):
        return None
    generate(store.session, now, load_rules(), Scope(owner=turn.advisor.id), lapsed=False)
    return store.session.scalars(
        select(FollowUp)
        .where(
            FollowUp.note_id == state["note_id"],
            FollowUp.kind.in_(COMPLAINT_STEP_KINDS),
            FollowUp.status == OPEN,
        )
        .order_by(FollowUp.due_at)
    ).first()


def _target(store: CardStore, turn: Turn, now: datetime) -> FollowUp | Reply:
    shown = _focus(store, turn.advisor)
    if match := _ORDINAL.search(turn.text):
        number = _number(match.group(1))
        if not shown:
            return base_reply(turn, [Message("followup_nothing_listed")])
        if not 1 <= number <= len(shown):
            return base_reply(
                turn, [Message("followup_no_such", {"number": number, "count": len(shown)})]
            )
        return shown[number - 1]
    if (named := _for_client(store, turn, shown)) is not None:
        return named
    if (complaint := _in_complaint(store, turn, now)) is not None:
        return complaint
    still_open = [t for t in shown if t.status == OPEN]
    if len(still_open) == 1:
        return still_open[0]
    if still_open:
        listing = Listing(store, load_rules(), now)
        return _list_reply(store, turn, still_open, listing, "followup_which", {})
    return base_reply(turn, [Message("followup_nothing_listed")])


def _remaining(store: CardStore, turn: Turn, now: datetime) -> Message:
    count = len(
        store.session.scalars(
            select(FollowUp.id).where(
                FollowUp.owner_id == turn.advisor.id,
                FollowUp.status == OPEN,
                FollowUp.due_at < end_of_day(now),
            )
        ).all()
    )
    return (
        Message("followup_remaining", {"count": count}) if count else Message("followup_all_clear")
    )


def mark_done(store: CardStore, turn: Turn, now: datetime | None = None) -> Reply:
    now = now or utcnow()
    target = _target(store, turn, now)
    if isinstance(target, Reply):
        return target
    listing = Listing(store, load_rules(), now)
    client = store.get(target.client_id)
    label = listing.label(target, client)
    if target.status != OPEN:
        reply = base_reply(turn, [Message("followup_done_already", {"label": label})])
    else:
        close(store.session, target, DONE, now, turn.advisor.id)
        store.session.flush()
        reply = base_reply(
            turn, [Message("followup_done", {"label": label}), _remaining(store, turn, now)]
        )
    reply.extra["followups"] = [listing.item(target, client)]
    return reply


def new_due(text: str, task: FollowUp, rules: Rules, now: datetime) -> datetime | None:
    """When 推迟到周五 / 推迟两天 / 改到下周一下午3点 moves the task, in naive UTC."""
    today = local_day(now)
    day: date | None = None
    if shift := _SHIFT.search(text):
        unit_days = 1 if shift.group(2) in ("天", "日") else 7
        day = max(to_local(task.due_at).date(), today) + timedelta(
            days=_number(shift.group(1)) * unit_days
        )
    elif found := find_date(text, today):
        day = found.when
    if day is None:
        return None
    hour, minute = rules.remind_hour, 0
    if clock := _HOUR.search(text):
        hour = _number(clock.group(2))
        if clock.group(1) in ("下午", "晚上") and hour < 12:
            hour += 12
        if clock.group(3):
            minute = 30 if clock.group(3) == "半" else int(clock.group(3))
        if not (0 <= hour <= 23 and 0 <= minute <= 59):
            return None
    return utc_at(day, hour, minute)


def postpone_task(store: CardStore, turn: Turn, now: datetime | None = None) -> Reply:
    now = now or utcnow()
    rules = load_rules()
    target = _target(store, turn, now)
    if isinstance(target, Reply):
        return target
    listing = Listing(store, rules, now)
    client = store.get(target.client_id)
    label = listing.label(target, client)
    if target.kind in COMPLAINT_STEP_KINDS:
        message = Message(
            "followup_postpone_complaint", {"label": label, "due": local_text(target.due_at)}
        )
    elif target.status != OPEN:
        message = Message("followup_done_already", {"label": label})
    elif (due := new_due(turn.text, target, rules, now)) is None:
        message = Message("followup_postpone_when", {"label": label})
    elif due <= now:
        message = Message("followup_postpone_past", {"due": local_text(due)})
    else:
        postpone(store.session, target, due, rules)
        message = Message("followup_postponed", {"label": label, "due": local_text(due)})
    reply = base_reply(turn, [message])
    reply.extra["followups"] = [listing.item(target, client)]
    return reply
