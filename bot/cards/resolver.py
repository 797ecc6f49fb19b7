"""Who the advisor means: the one resolver every action asks.

The card is only worth trusting if a fact lands on the client the advisor
meant. So the rules are strict and the same everywhere:

- a message that names a client resolves to that client or to nobody: a named
  stranger is reported, never replaced by whoever was on screen;
- the active client (the card on screen, the client being served) stands in
  only when nobody is named (他 / 她 / 这位 / nothing), and a 他 / 她 that
  contradicts the card's gender is a question, not a guess;
- several clients answering to one name is a question with the candidates,
  answered by button or in words (第二个, 尾号0006, 广州那位, the full name).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.cards.models import Client
from bot.cards.names import NLU, Mention, leading_name
from bot.cards.store import CardStore
from bot.nlu.preferences import strip_command
from bot.turn import FLOW_STATE, Turn

CLIENT = "client"
CHOOSE = "choose"
NOT_FOUND = "not_found"
NOBODY = "nobody"
MISMATCH = "mismatch"

_ORDINALS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "1": 1, "2": 2, "3": 3, "4": 4,
             "5": 5}  # fmt: skip
_ORDINAL = re.compile(
    r"第\s*([一二两三四五1-5])|([1-5一二三四五])\s*(?:号|个|位)?$|^(?:选|要)?\s*([1-5])"
)
_TAIL = re.compile(r"(\d{4})")
_TIERS = ("钻石", "白金", "金卡", "贵宾", "黑卡")


@dataclass
class Target:
    """The answer to "whose card?": ``kind`` says which of the cases above holds."""

    kind: str
    client: Client | None = None
    mention: str = ""
    candidates: list[Client] = field(default_factory=list)
    # "named" when the message named the client, "active" when the card on screen stood in.
    via: str = ""
    # For CHOOSE: how many clients answer to the name (candidates holds the best few),
    # and the mention itself, so an answer can narrow beyond those shown.
    total: int = 0
    named_as: Mention | None = None
    # For NOT_FOUND: cards with a nearly matching name, to look at (never to write to).
    near: list[Client] = field(default_factory=list)


def nlu_spans(turn: Turn) -> list[tuple[int, int]]:
    return [
        (int(e["start"]), int(e["end"]))
        for e in turn.entities
        if e.get("entity") == "client_name" and e.get("start") is not None
    ]


def spans(mentions: Sequence[Mention]) -> list[tuple[int, int]]:
    return [(m.start, m.end) for m in mentions]


def subject(mentions: Sequence[Mention], fact_at: int | None) -> Mention:
    """The mention a fact is about: the last one before the fact, else the first."""
    if fact_at is not None:
        before = [m for m in mentions if m.start < fact_at]
        if before:
            return before[-1]
    return mentions[0]


class Resolver:
    """Resolves one turn against the card store."""

    def __init__(self, store: CardStore, turn: Turn) -> None:
        self.store = store
        self.turn = turn
        self.mentions = store.mentions(turn.text, nlu_spans(turn))
        if not self.mentions:
            # A stranger's name the model did not mark (查一下张伟) still counts as named.
            guess = leading_name(strip_command(turn.text), store.surnames)
            if guess:
                self.mentions = [Mention(guess, turn.text.find(guess), NLU)]

    @property
    def active(self) -> Client | None:
        """The client being served if a session is open, else the card on screen."""
        state = self.turn.slots.get(FLOW_STATE)
        client_id = state.get("client_id") if isinstance(state, dict) else None
        client_id = client_id or self.turn.active_client_id
        return self.store.get(client_id) if client_id else None

    def named(self, mention: Mention) -> Target:
        found = self.store.candidates(mention, self.turn.advisor)
        if found.total == 0:
            return Target(NOT_FOUND, mention=mention.text, near=self.store.near_misses(mention))
        if found.total == 1:
            return Target(CLIENT, found.clients[0], mention.text, via="named")
        active = self.active
        if active is not None and self.store.means(mention, active):
            # 王先生 while 王建国 is on screen: the one being served.
            return Target(CLIENT, active, mention.text, via="named")
        return Target(
            CHOOSE, mention=mention.text, candidates=found.clients, total=found.total,
            named_as=mention,
        )  # fmt: skip

    def target(self, fact_at: int | None = None) -> Target:
        """Whose card this turn is about (``fact_at``: where the fact starts)."""
        chosen = self.turn.entity("client_id")
        if chosen:
            client = self.store.get(chosen)
            return (
                Target(CLIENT, client, chosen, via="named")
                if client
                else Target(NOT_FOUND, mention=chosen)
            )
        if self.mentions:
            return self.named(subject(self.mentions, fact_at))
        active = self.active
        if active is None:
            return Target(NOBODY)
        gender = self.store.vocabulary.pronoun_gender(self.turn.text)
        if gender and active.gender and gender != active.gender:
            return Target(MISMATCH, active, via="active")
        return Target(CLIENT, active, via="active")

    def all_named(self) -> list[Target]:
        """Every client the message names, once each (two clients in one message)."""
        seen: set[str] = set()
        found = []
        for mention in self.mentions:
            target = self.named(mention)
            key = target.client.id if target.client else f"?{target.mention}"
            if key not in seen:
                seen.add(key)
                found.append(target)
        return found


def pick(answer: str, candidates: Sequence[Client], store: CardStore) -> list[Client]:
    """The candidates an answer in words points at: 第二个, 尾号0006, 广州那位, 钻石卡那位,
    赵子轩. Returns the candidates that fit what the answer says; an answer that says
    nothing about any of them (another name) picks nobody."""
    text = answer.strip()
    ordinal = _ORDINAL.search(text)
    if ordinal and not _TAIL.search(text):
        index = _ORDINALS[next(g for g in ordinal.groups() if g)] - 1
        return [candidates[index]] if 0 <= index < len(candidates) else []
    if "最后" in text and candidates:
        return [candidates[-1]]
    fits = list(candidates)
    said = False
    if tail := _TAIL.search(text):
        said = True
        fits = [c for c in fits if re.sub(r"\D", "", c.phone or "").endswith(tail.group(1))]
    if named := [c for c in fits if c.name in text]:
        said, fits = True, named
    if stores := [c for c in fits if _store_mentioned(c.home_store, text)]:
        said, fits = True, stores
    if tiers := [t for t in _TIERS if t in text]:
        said = True
        fits = [c for c in fits if any(t in (c.tier or "") for t in tiers)]
    return fits if said else []


def _store_mentioned(store_name: str, text: str) -> bool:
    """广州太古汇店 is meant by 广州, 太古汇, 广州太古汇 or the full name."""
    name = (store_name or "").removesuffix("店")
    if not name:
        return False
    if name in text:
        return True
    parts = [name[i : i + 2] for i in range(0, len(name) - 1)]
    return any(part in text for part in parts if len(part) == 2 and part not in ("店里",))
