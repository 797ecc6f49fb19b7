"""What is written on a card, and how a fact ends: added, superseded, retracted,
retired or moved — never silently duplicated, never deleted.

A card is only trusted if it holds one current value per thing it says (the
client drinks hot Americano now, not both hot and iced), and if whoever reads it
can see who changed what, when and from which store. So every change here sets a
preference's ``status`` and logs a :class:`PreferenceEvent`; the rows stay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from bot.advisors import AdvisorIdentity
from bot.cards import audit
from bot.cards.models import (
    CURRENT,
    RETIRED,
    RETRACTED,
    SUPERSEDED,
    Client,
    Preference,
    PreferenceEvent,
)
from bot.clock import utcnow
from bot.nlu.dates import find_date
from bot.nlu.preferences import ParsedPreference, allergen
from bot.nlu.vocabulary import Vocabulary

ADDED = "added"
EXISTS = "exists"
ASK = "ask"
NOT_ON_CARD = "not_on_card"
MOVED_IN = "moved_in"
MOVED_OUT = "moved_out"
RESTORED = "restored"
ALIAS = "alias"
ALLERGY = "过敏"
DATES = "重要日期"
# 还是要那个大包间: the words that say a note repeats what holds, not a change.
_STILL = re.compile(
    r"^(?:还是|依旧|依然|照旧|照样|仍然)(?:要|坐|喝|吃|用|选)?(?:那个|这个|那种|那间|那张)?"
)


@dataclass
class WriteOutcome:
    """What one write did: ``change`` is added / exists / superseded / retired /
    ask (the copilot must ask before replacing) / not_on_card (nothing to retire)."""

    change: str
    preference: Preference | None = None
    replaced: list[Preference] = field(default_factory=list)


def current(client: Client) -> list[Preference]:
    return [p for p in client.preferences if p.status == CURRENT]


def log(
    client_id: str,
    preference: Preference | None,
    action: str,
    advisor: AdvisorIdentity,
    detail: str = "",
    *,
    category: str = "",
    value: str = "",
) -> PreferenceEvent:
    return PreferenceEvent(
        client_id=client_id,
        preference_id=preference.id if preference else None,
        action=action,
        category=preference.category if preference else category,
        value=preference.value if preference else value,
        detail=detail[:200],
        advisor_id=advisor.id,
        advisor_name=advisor.name,
        store=advisor.store,
        at=utcnow(),
    )


class CardWriter:
    """Preference writes for one advisor inside the caller's transaction."""

    def __init__(self, session, vocabulary: Vocabulary, advisor: AdvisorIdentity) -> None:  # type: ignore[no-untyped-def]
        self.session = session
        self.vocabulary = vocabulary
        self.advisor = advisor

    # -- deciding what a new value does to the old ones ------------------------------

    def _occasion(self, value: str) -> str:
        """生日是12月3日 → 生日: the occasion without its date or filler words."""
        found = find_date(value, date.today())
        text = value[: found.start] + value[found.end :] if found else value
        return text.replace("是", "").replace("在", "").strip(" ，,的") if found else ""

    def conflicts(self, client: Client, parsed: ParsedPreference) -> tuple[list[Preference], bool]:
        """Current values the new one would replace, and whether that is certain.

        Same allergen, same occasion (生日), or the same topic word (冰美式 / 热美式
        share 美式; 不吃辣 / 能吃辣 share 辣) is a replacement; a different word on the
        same topic (美式 / 拿铁) is one only when the advisor said it changed.
        """
        family = self.vocabulary.family_of(parsed.category)
        candidates = [p for p in current(client) if p.category in family]
        if parsed.category == ALLERGY:
            wanted = allergen(parsed.value)
            same = [
                p for p in candidates
                if (a := allergen(p.value)) and (a in wanted or wanted in a)
            ]  # fmt: skip
            return same, True
        if parsed.category == DATES:
            occasion = self._occasion(parsed.value)
            if not occasion:
                return [], True
            return [p for p in candidates if self._occasion(p.value) == occasion], True
        topics = self.vocabulary.topics_of(parsed.value)
        if not topics:
            return [], True
        sure: list[Preference] = []
        unsure: list[Preference] = []
        for preference in candidates:
            theirs = self.vocabulary.topics_of(preference.value)
            shared = set(topics) & set(theirs)
            if not shared:
                continue
            if any(topics[t] == theirs[t] for t in shared) or parsed.change:
                sure.append(preference)
            elif not parsed.addition:
                unsure.append(preference)
        if sure:
            return sure, True
        return unsure, not unsure

    # -- writing ---------------------------------------------------------------------

    def write(
        self, client: Client, parsed: ParsedPreference, *, replace: bool | None = None
    ) -> WriteOutcome:
        """Record ``parsed`` on the card. ``replace`` answers an earlier question:
        True replaces the conflicting values, False keeps them beside the new one."""
        conflicting, certain = self.conflicts(client, parsed)
        if parsed.retire:
            if not conflicting:
                return WriteOutcome(NOT_ON_CARD)
            for old in conflicting:
                self._end(client, old, RETIRED, f"不再成立：{parsed.value}")
            self._touch(client)
            return WriteOutcome(RETIRED, None, conflicting)
        same = next(
            (
                p
                for p in current(client)
                if p.category == parsed.category and p.value == parsed.value
            ),
            None,
        )
        if same is not None:
            return WriteOutcome(EXISTS, same)
        kept = self._restated(client, parsed)
        if kept is not None:
            return WriteOutcome(EXISTS, kept)
        if conflicting and not certain and replace is None:
            return WriteOutcome(ASK, None, conflicting)
        replaced = conflicting if (certain or replace) else []
        preference = self._add(client, parsed)
        for old in replaced:
            self._end(client, old, SUPERSEDED, f"被「{parsed.value}」替换", by=preference)
        self._touch(client)
        return WriteOutcome(SUPERSEDED if replaced else ADDED, preference, replaced)

    @staticmethod
    def _restated(client: Client, parsed: ParsedPreference) -> Preference | None:
        """The current value a 还是… note repeats: 还是要那个大包间 says the card's
        「大包间 要能投屏」 still holds, not that it changed."""
        core = _STILL.sub("", parsed.value)
        if core == parsed.value or len(core) < 2:
            return None
        return next(
            (p for p in current(client) if p.category == parsed.category and core in p.value),
            None,
        )

    def _add(self, client: Client, parsed: ParsedPreference) -> Preference:
        now = utcnow()
        preference = self.session.scalars(
            select(Preference).where(
                Preference.client_id == client.id,
                Preference.category == parsed.category,
                Preference.value == parsed.value,
            )
        ).first()
        if preference is None:
            preference = Preference(category=parsed.category, value=parsed.value)
            client.preferences.append(preference)
        # A value that held before (retracted, superseded) comes back as this write.
        preference.status = CURRENT
        preference.recorded_by = self.advisor.name
        preference.advisor_id = self.advisor.id
        preference.store = self.advisor.store
        preference.recorded_at = now
        preference.changed_at = now
        preference.date_value = parsed.when
        self.session.flush()
        self.session.add(log(client.id, preference, ADDED, self.advisor))
        audit.record(
            self.session, self.advisor, client.id, "write", f"{parsed.category}·{parsed.value}"
        )
        return preference

    def _end(
        self, client: Client, preference: Preference, status: str, detail: str,
        by: Preference | None = None,
    ) -> None:  # fmt: skip
        preference.status = status
        preference.changed_at = utcnow()
        action = {SUPERSEDED: SUPERSEDED, RETIRED: RETIRED, RETRACTED: RETRACTED}[status]
        # A supersede names the new row, so retracting the new one restores the old.
        note = f"by:{by.id} {detail}" if by is not None else detail
        self.session.add(log(client.id, preference, action, self.advisor, note))
        audit.record(
            self.session, self.advisor, client.id, "retract" if status == RETRACTED else "write",
            f"{status}: {preference.category}·{preference.value}",
        )  # fmt: skip

    def _touch(self, client: Client) -> None:
        client.updated_at = utcnow()
        self.session.flush()

    # -- corrections --------------------------------------------------------------------

    def last_write(self) -> Preference | None:
        """The advisor's latest write that still stands on a card."""
        rows = self.session.scalars(
            select(PreferenceEvent)
            .where(
                PreferenceEvent.advisor_id == self.advisor.id,
                PreferenceEvent.action.in_((ADDED, MOVED_IN)),
            )
            .order_by(PreferenceEvent.id.desc())
            .limit(10)
        )
        for event in rows:
            preference = self.session.get(Preference, event.preference_id)
            if preference is not None and preference.status == CURRENT:
                return preference
        return None

    def retract(self, preference: Preference, reason: str = "顾问撤回") -> list[Preference]:
        """Take back a write; the values it had replaced are current again."""
        client = preference.client
        self._end(client, preference, RETRACTED, reason)
        restored = []
        replaced = self.session.scalars(
            select(PreferenceEvent).where(
                PreferenceEvent.client_id == client.id,
                PreferenceEvent.action == SUPERSEDED,
                PreferenceEvent.detail.startswith(f"by:{preference.id} "),
            )
        )
        for event in replaced:
            old = self.session.get(Preference, event.preference_id)
            if old is not None and old.status == SUPERSEDED:
                old.status = CURRENT
                old.changed_at = utcnow()
                self.session.add(log(client.id, old, RESTORED, self.advisor, "撤回后恢复"))
                restored.append(old)
        self._touch(client)
        return restored

    def move(self, preference: Preference, target: Client) -> Preference:
        """记错人了: the write leaves the wrong card and goes onto ``target``'s."""
        source = preference.client
        category, value, when = preference.category, preference.value, preference.date_value
        self.retract(preference, f"记错人了，移到{target.name}的卡上")
        self.session.add(log(source.id, preference, MOVED_OUT, self.advisor, f"→ {target.id}"))
        moved = self._add(target, ParsedPreference(category, value, when))
        self.session.add(log(target.id, moved, MOVED_IN, self.advisor, f"← {source.id}"))
        audit.record(
            self.session, self.advisor, source.id, "move", f"→ {target.id} {category}·{value}"
        )
        self._touch(target)
        return moved

    def find_current(self, client: Client, words: str) -> Preference | None:
        """The current value an advisor names (删掉不吃蒜那条 → 不吃蒜)."""
        matches = [
            p for p in current(client) if p.value in words or (len(words) >= 2 and words in p.value)
        ]
        return max(matches, key=lambda p: len(p.value)) if matches else None
