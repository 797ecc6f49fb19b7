"""Read-only views of a card: what replies and payloads show, phones always masked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.cards.models import Client, Preference, VisitNote
from bot.clock import local_iso, local_text
from bot.nlu.vocabulary import load_vocabulary

_DIGITS = re.compile(r"\d")


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

    @classmethod
    def of(cls, preference: Preference) -> PreferenceView:
        return cls(
            category=preference.category,
            value=preference.value,
            store=preference.store,
            recorded_by=preference.recorded_by,
            recorded_at=local_iso(preference.recorded_at),
        )

    def to_payload(self) -> dict[str, str]:
        return {
            "category": self.category,
            "value": self.value,
            "store": self.store,
            "recorded_by": self.recorded_by,
            "recorded_at": self.recorded_at,
        }


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

    # How many notes a card carries in replies: the latest matter mid-service.
    NOTES_SHOWN = 5

    @classmethod
    def of(cls, client: Client) -> ClientCard:
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
            preferences=tuple(PreferenceView.of(p) for p in client.preferences),
            notes=tuple(NoteView.of(n) for n in client.notes[: cls.NOTES_SHOWN]),
        )

    @property
    def address(self) -> str:
        """How staff address the client: surname + honorific (王先生), else the name."""
        if not self.honorific:
            return self.name
        return load_vocabulary().surname_of(self.name) + self.honorific

    def preference_values(self, category: str) -> list[str]:
        return [p.value for p in self.preferences if p.category == category]

    def to_payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "honorific": self.honorific,
            "tier": self.tier,
            "home_store": self.home_store,
            "phone": self.masked_phone,
            "advisor": self.advisor,
            "preferences": [p.to_payload() for p in self.preferences],
            "notes": [n.to_payload() for n in self.notes],
        }

    def render(self) -> str:
        """The card as a short chat message."""
        header = f"📇 {self.name}（{self.address}）"
        facts = " · ".join(x for x in (self.tier, self.home_store) if x)
        lines = [header]
        if facts:
            lines.append(facts)
        if self.masked_phone:
            lines.append(f"电话 {self.masked_phone}")
        if self.preferences:
            lines.append("偏好：")
            lines.extend(
                f"· {p.category}：{p.value}（{p.recorded_by}@{p.store}）" for p in self.preferences
            )
        else:
            lines.append("偏好：还没有记录")
        if self.notes:
            latest = self.notes[0]
            lines.append(f"最近记录（{latest.created_text} {latest.store}）：{latest.summary}")
        return "\n".join(lines)
