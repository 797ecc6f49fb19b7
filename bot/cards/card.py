"""Read-only views of a card: what replies and payloads show, phones always masked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Integer, bindparam, select
from sqlalchemy.orm import object_session

from bot.cards.models import CURRENT, Client, ClientAlias, Preference, PreferenceEvent, VisitNote
from bot.clock import local_iso, local_text
from bot.nlu.vocabulary import load_vocabulary
from bot.purchases.value import card_value, render_value

_DIGITS = re.compile(r"\d")
# Safety facts: listed first and marked in every rendering of a card.
SAFETY_CATEGORIES = ("过敏",)
SAFETY_MARK = "⚠️"


def mask_phone(phone: str) -> str:
    """138****0001: the first 3 and last 4 digits stay, so a colleague can confirm."""
    digits = "".join(_DIGITS.findall(phone or ""))
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]  # +86 mainland prefix
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


def phone_tail(phone: str) -> str:
    digits = "".join(_DIGITS.findall(phone or ""))
    return digits[-4:]


@dataclass(frozen=True)
class PreferenceView:
    category: str
    value: str
    store: str
    recorded_by: str
    recorded_at: str
    date: str | None = None

    @classmethod
    def of(cls, preference: Preference) -> PreferenceView:
        return cls(
            category=preference.category,
            value=preference.value,
            store=preference.store,
            recorded_by=preference.recorded_by,
            recorded_at=local_iso(preference.recorded_at),
            date=preference.date_value.isoformat() if preference.date_value else None,
        )

    @property
    def safety(self) -> bool:
        return self.category in SAFETY_CATEGORIES

    @property
    def label(self) -> str:
        """饮品：白茶, or ⚠️过敏：坚果过敏 for a safety fact."""
        mark = SAFETY_MARK if self.safety else ""
        return f"{mark}{self.category}：{self.value}"

    def to_payload(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "value": self.value,
            "store": self.store,
            "recorded_by": self.recorded_by,
            "recorded_at": self.recorded_at,
            "date": self.date,
            "safety": self.safety,
        }


def current_views(preferences: list[Preference]) -> tuple[PreferenceView, ...]:
    """The values that hold now, safety facts first, otherwise in recorded order."""
    views = [PreferenceView.of(p) for p in preferences if p.status == CURRENT]
    return tuple(sorted(views, key=lambda v: not v.safety))


# How an event reads in a card's history.
ACTION_WORDS = {
    "added": "记下",
    "superseded": "被替换",
    "retracted": "撤回",
    "retired": "不再成立",
    "restored": "恢复",
    "moved_in": "移入",
    "moved_out": "移出",
    "alias": "别名",
}


@dataclass(frozen=True)
class HistoryView:
    """One change on a card: who changed what, when, from which store."""

    action: str
    category: str
    value: str
    detail: str
    advisor: str
    store: str
    at: str
    at_text: str

    @classmethod
    def of(cls, event: PreferenceEvent) -> HistoryView:
        return cls(
            action=event.action,
            category=event.category,
            value=event.value,
            detail=event.detail.split(" ", 1)[-1]
            if event.detail.startswith("by:")
            else event.detail,
            advisor=event.advisor_name,
            store=event.store,
            at=local_iso(event.at),
            at_text=local_text(event.at),
        )

    def to_payload(self) -> dict[str, str]:
        return {
            "action": self.action,
            "category": self.category,
            "value": self.value,
            "detail": self.detail,
            "advisor": self.advisor,
            "store": self.store,
            "at": self.at,
        }

    def render(self) -> str:
        word = ACTION_WORDS.get(self.action, self.action)
        detail = f"（{self.detail}）" if self.detail else ""
        who = f"{self.advisor}@{self.store}"
        return f"{self.at_text} {who} {word} {self.category}：{self.value}{detail}"


@cache
def _reads() -> dict[str, Any]:
    """The queries a card is read with, built once with bound parameters: a card is
    read on nearly every turn, and the relationships' lazy loads rebuilt and re-keyed
    their statements each time, which cost several times running them."""
    client_id = bindparam("client_id")
    return {
        "preferences": select(Preference)
        .where(Preference.client_id == client_id, Preference.status == CURRENT)
        .order_by(Preference.recorded_at),
        "aliases": select(ClientAlias.alias)
        .where(ClientAlias.client_id == client_id)
        .order_by(ClientAlias.id),
        "notes": select(VisitNote)
        .where(VisitNote.client_id == client_id)
        .order_by(VisitNote.created_at.desc()),
        "history": select(PreferenceEvent)
        .where(PreferenceEvent.client_id == client_id)
        .order_by(PreferenceEvent.id.desc())
        .limit(bindparam("limit", type_=Integer)),
    }


def card_history(client: Client, limit: int) -> tuple[HistoryView, ...]:
    """The latest ``limit`` changes to the client's card, newest first."""
    session = object_session(client)
    if session is None or limit <= 0:
        return ()
    events = session.scalars(_reads()["history"], {"client_id": client.id, "limit": limit})
    return tuple(HistoryView.of(e) for e in events)


@dataclass(frozen=True)
class NoteView:
    kind: str
    summary: str
    store: str
    advisor_id: str
    created_at: str
    created_text: str
    status: str | None
    follow_up_on: str | None
    details: dict[str, Any]

    @classmethod
    def of(cls, note: VisitNote) -> NoteView:
        return cls(
            kind=note.kind,
            summary=note.summary,
            store=note.store,
            advisor_id=note.advisor_id,
            created_at=local_iso(note.created_at),
            created_text=local_text(note.created_at),
            status=note.status,
            follow_up_on=note.follow_up_on.isoformat() if note.follow_up_on else None,
            details=dict(note.details or {}),
        )

    def to_payload(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "summary": self.summary,
            "store": self.store,
            "advisor_id": self.advisor_id,
            "created_at": self.created_at,
            "status": self.status,
            "follow_up_on": self.follow_up_on,
            "details": self.details,
        }


@dataclass(frozen=True)
class ClientCard:
    """A snapshot of one client's card, detached from the database session."""

    id: str
    name: str
    honorific: str
    gender: str
    masked_phone: str
    phone_tail: str
    tier: str
    home_store: str
    advisor: str
    wecom_external_userid: str | None
    preferences: tuple[PreferenceView, ...]
    notes: tuple[NoteView, ...]
    aliases: tuple[str, ...] = ()
    history: tuple[HistoryView, ...] = ()
    # Last visit, spend band and RFM segment (bot.purchases.value); no amounts.
    value: dict[str, Any] | None = None

    # How many notes and changes a card carries in replies: the latest matter mid-service.
    NOTES_SHOWN = 5
    HISTORY_SHOWN = 10

    @classmethod
    def of(cls, client: Client, history: int = HISTORY_SHOWN) -> ClientCard:
        session = object_session(client)
        if session is None:  # a detached client: what it has loaded
            preferences = [p for p in client.preferences if p.status == CURRENT]
            aliases, notes = [a.alias for a in client.aliases], list(client.notes)
        else:
            reads, key = _reads(), {"client_id": client.id}
            preferences = list(session.scalars(reads["preferences"], key))
            aliases = list(session.scalars(reads["aliases"], key))
            notes = list(session.scalars(reads["notes"], key))
        return cls(
            id=client.id,
            name=client.name,
            honorific=client.honorific,
            gender=client.gender,
            masked_phone=mask_phone(client.phone),
            phone_tail=phone_tail(client.phone),
            tier=client.tier,
            home_store=client.home_store,
            advisor=client.advisor,
            wecom_external_userid=client.wecom_external_userid,
            preferences=current_views(preferences),
            aliases=tuple(aliases),
            history=card_history(client, history),
            notes=tuple(NoteView.of(n) for n in notes[: cls.NOTES_SHOWN]),
            value=card_value(client, notes),
        )

    @property
    def address(self) -> str:
        """How staff address the client: surname + honorific (王先生), else the name."""
        if not self.honorific:
            return self.name
        return load_vocabulary().surname_of(self.name) + self.honorific

    @property
    def who(self) -> str:
        """Whose card, as a write reply names it: 王先生（王建国 · 上海恒隆店）."""
        place = f" · {self.home_store}" if self.home_store else ""
        return f"{self.address}（{self.name}{place}）"

    def preference_values(self, category: str) -> list[str]:
        return [p.value for p in self.preferences if p.category == category]

    def safety_line(self) -> str | None:
        """⚠️ 过敏：坚果过敏；对香精过敏 — repeated at the top of every reply about the client."""
        facts = [p.value for p in self.preferences if p.safety]
        if not facts:
            return None
        return f"{SAFETY_MARK} {self.address}过敏：{'；'.join(facts)}"

    def to_payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "honorific": self.honorific,
            "tier": self.tier,
            "home_store": self.home_store,
            "phone": self.masked_phone,
            "advisor": self.advisor,
            "aliases": list(self.aliases),
            "safety": [p.value for p in self.preferences if p.safety],
            "preferences": [p.to_payload() for p in self.preferences],
            "notes": [n.to_payload() for n in self.notes],
            "history": [h.to_payload() for h in self.history],
            "value": self.value,
        }

    def render(self) -> str:
        """The card as a short chat message."""
        header = f"📇 {self.name}（{self.address}）"
        facts = " · ".join(x for x in (self.tier, self.home_store) if x)
        lines = [header]
        if facts:
            lines.append(facts)
        if self.value:
            lines.append(render_value(self.value))
        if self.aliases:
            lines.append(f"也叫：{'、'.join(self.aliases)}")
        if self.masked_phone:
            lines.append(f"电话 {self.masked_phone}")
        if safety := self.safety_line():
            lines.append(safety)
        if self.preferences:
            lines.append("偏好：")
            lines.extend(f"· {p.label}（{p.recorded_by}@{p.store}）" for p in self.preferences)
        else:
            lines.append("偏好：还没有记录")
        if self.notes:
            latest = self.notes[0]
            lines.append(f"最近记录（{latest.created_text} {latest.store}）：{latest.summary}")
        return "\n".join(lines)

    def render_history(self) -> str:
        if not self.history:
            return "改动记录：还没有"
        return "\n".join(["改动记录（新的在前）：", *(f"· {h.render()}" for h in self.history)])
