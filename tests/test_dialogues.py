"""Multi-turn dialogues through the copilot channel, judged by the cards they leave.

A reply can read well while the wrong card changed, so each case in
``tests/dialogues/*.yml`` is a conversation sent to the real servers (Rasa, the
action server and the NLU service over HTTP, started as ``copilot up`` starts
them) and is judged twice: every turn by its reply payload, and at the end by
the database itself — which values are current on which card, their statuses
and dates, the history events, the aliases — and no card may change that the
case did not expect to change.

Every case talks as its own advisor (fresh id and token), so conversations
share no state, and writes only to clients of its own (``tests/dialogues/cast.yml``),
so the cases run in any order.

A case::

    - id: zhao-taikoo-hui                  # unique slug, also the pytest id
      about: what it shows
      store: 北京SKP店                     # the advisor's store (default 上海恒隆店)
      recent: [戴琪, 宁博]                  # cards this advisor opened before the case
      turns:
        - say: 给赵先生记一下 他爱喝凤凰单枞     # what the advisor types
          expect: {question: client, options: [赵子轩, 赵立峰, 赵文博], writes: []}
        - press: 赵子轩                      # a button: by index (1-based) or title text
          expect: {client: 赵子轩, writes: [{client: 赵子轩, category: 饮品, value: ~单枞}]}
      touched: [赵子轩]       # exactly the cards this case changes (default: none);
      may_touch: []          # or instead: cards it may change
      cards:
        赵子轩:
          current_in: {饮品: [~单枞]}

Turn expectations (all optional): ``client`` (payload client name, or null),
``not_found``, ``question`` (kind, or null), ``options`` (names the offered
buttons include), ``writes`` (exactly these writes, in any order; keys client,
category, value, change), ``mode``, ``has`` / ``lacks`` (reply text substrings),
``order`` (substrings appearing in this order), ``first_preference`` (the card's
first preference, which must be marked ``safety``).

Card expectations: ``current`` (exactly these current values on the card),
``current_in`` (exactly these per category), ``has``, ``not_current``, ``count``
(current values per category), ``values_lack`` (no current value contains it),
``status`` (value → status of every matching row), ``date`` (value → its
date_value: ``{days: 2}``, ``{next_month_day: 3}``, ``{next_week_day: 3}`` or
``{month: 6, day: 18}``, today being the date in Asia/Shanghai), ``events``
(this case's history events on the card include these), ``aliases``, ``notes``
(a visit note this case wrote contains each).

A value is ``拿铁`` (exactly), ``~拿铁`` (containing), optionally ``饮品:`` first
(and in that category). ``@2`` names the client of the 2nd option offered before
that turn, so "第二个" can be checked whatever order the options come in.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import demo
from bot.advisors import AdvisorIdentity, issue_token, upsert_advisor
from bot.cards import audit, db
from bot.cards.models import (
    CURRENT,
    Advisor,
    Client,
    ClientAlias,
    Preference,
    PreferenceEvent,
    VisitNote,
)
from bot.cards.names import alias_key
from bot.clock import LOCAL_TZ, utcnow
from bot.nlu.vocabulary import load_vocabulary
from bot.server import Servers, free_port, running
from tests.test_e2e import post

pytestmark = pytest.mark.servers

ROOT = Path(__file__).resolve().parent.parent
DIALOGUES = ROOT / "tests" / "dialogues"
CAST_FILE = DIALOGUES / "cast.yml"
TRAINING_FILES = (*ROOT.glob("data/nlu/*.yml"), *ROOT.glob("tests/nlu*/*.yml"))
DEFAULT_STORE = "上海恒隆店"
CATEGORIES = frozenset(load_vocabulary().category_names)

CASE_KEYS = {
    "id", "about", "store", "recent", "turns", "touched", "may_touch", "cards", "known_nlu_miss",
}  # fmt: skip
TURN_KEYS = {"say", "press", "expect"}
EXPECT_KEYS = {
    "client",
    "not_found",
    "question",
    "options",
    "writes",
    "mode",
    "has",
    "lacks",
    "order",
    "first_preference",
}
WRITE_KEYS = {"client", "category", "value", "change"}
CARD_KEYS = {
    "current",
    "current_in",
    "has",
    "not_current",
    "count",
    "values_lack",
    "status",
    "date",
    "events",
    "aliases",
    "notes",
}
DATE_KEYS = ({"days"}, {"next_month_day"}, {"next_week_day"}, {"month", "day"})
PICK = re.compile(r"^@(\d+)$")

T = TypeVar("T")
U = TypeVar("U")


# -- the case files ------------------------------------------------------------------


@dataclass(frozen=True)
class ValueSpec:
    """``拿铁`` matches exactly, ``~拿铁`` any value containing it; ``饮品:`` narrows
    the category."""

    spec: str
    category: str | None
    text: str
    partial: bool

    @classmethod
    def parse(cls, spec: str) -> ValueSpec:
        head, colon, rest = spec.partition(":")
        category = head if colon and head in CATEGORIES else None
        text = rest if category else spec
        partial = text.startswith("~")
        return cls(spec, category, text[1:] if partial else text, partial)

    def matches(self, category: str, value: str) -> bool:
        if self.category and category != self.category:
            return False
        return self.text in value if self.partial else value == self.text


@dataclass(frozen=True)
class Step:
    say: str | None
    press: int | str | None
    expect: dict[str, Any]

    @property
    def label(self) -> str:
        return repr(self.say) if self.say is not None else f"[press {self.press}]"


@dataclass(frozen=True)
class Case:
    id: str
    about: str
    source: str
    store: str
    recent: tuple[str, ...]
    steps: tuple[Step, ...]
    touched: tuple[str, ...] | None
    may_touch: tuple[str, ...]
    cards: dict[str, dict[str, Any]]
    # Why the model still misreads a turn of this case (the case runs, marked xfail,
    # and reports XPASS once the model reads it right).
    known_nlu_miss: str = ""

    def names(self) -> set[str]:
        """Every client name the case's expectations refer to (for the static check)."""
        names = {*self.recent, *(self.touched or ()), *self.may_touch, *self.cards}
        for step in self.steps:
            names.update(step.expect.get("options") or ())
            if step.expect.get("client"):
                names.add(step.expect["client"])
            names.update(w["client"] for w in step.expect.get("writes") or () if "client" in w)
        return {n for n in names if not PICK.match(n)}


class CaseError(ValueError):
    """A case file is malformed; the message names the file and the case."""


def _unknown(where: str, given: dict[str, Any], allowed: set[str]) -> None:
    extra = set(given) - allowed
    if extra:
        raise CaseError(f"{where}: unknown key(s) {sorted(extra)}; allowed: {sorted(allowed)}")


def _parse_case(raw: dict[str, Any], source: str) -> Case:
    where = f"{source}: case {raw.get('id', '?')}"
    _unknown(where, raw, CASE_KEYS)
    steps = []
    for number, turn in enumerate(raw.get("turns") or [], 1):
        _unknown(f"{where} turn {number}", turn, TURN_KEYS)
        if ("say" in turn) == ("press" in turn):
            raise CaseError(f"{where} turn {number}: give exactly one of say / press")
        expect = turn.get("expect") or {}
        _unknown(f"{where} turn {number} expect", expect, EXPECT_KEYS)
        for write in expect.get("writes") or []:
            _unknown(f"{where} turn {number} writes", write, WRITE_KEYS)
        steps.append(Step(turn.get("say"), turn.get("press"), expect))
    if not steps:
        raise CaseError(f"{where}: no turns")
    cards = raw.get("cards") or {}
    for name, spec in cards.items():
        _unknown(f"{where} card {name}", spec, CARD_KEYS)
        for value, when in (spec.get("date") or {}).items():
            if set(when) not in DATE_KEYS:
                raise CaseError(f"{where} card {name} date {value}: use one of {DATE_KEYS}")
    if "touched" in raw and "may_touch" in raw:
        raise CaseError(f"{where}: give touched or may_touch, not both")
    touched = raw.get("touched", None if "may_touch" in raw else [])
    return Case(
        id=str(raw["id"]),
        about=str(raw.get("about", "")),
        source=source,
        store=str(raw.get("store", DEFAULT_STORE)),
        recent=tuple(raw.get("recent") or ()),
        steps=tuple(steps),
        touched=None if touched is None else tuple(touched),
        may_touch=tuple(raw.get("may_touch") or ()),
        cards=cards,
        known_nlu_miss=str(raw.get("known_nlu_miss", "")),
    )


def load_cases() -> list[Case]:
    cases: list[Case] = []
    for path in sorted(DIALOGUES.glob("*.yml")):
        if path == CAST_FILE:
            continue
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        cases.extend(_parse_case(raw, path.name) for raw in document.get("cases") or [])
    ids = [case.id for case in cases]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise CaseError(f"case ids used twice: {duplicated}")
    return cases


def load_cast() -> list[dict[str, Any]]:
    return list(yaml.safe_load(CAST_FILE.read_text(encoding="utf-8"))["clients"])


CASES = load_cases()


# -- the server stack and its database -----------------------------------------------


def seed_cast(session: Session, cast: list[dict[str, Any]]) -> None:
    """The cast's cards, written as an import would leave them, two months old."""
    vocabulary = load_vocabulary()
    start = utcnow() - timedelta(days=60)
    for row in cast:
        client = Client(
            id=row["id"],
            name=row["name"],
            honorific=row["honorific"],
            gender=row["gender"],
            phone=row["phone"],
            tier=row["tier"],
            home_store=row["home_store"],
            advisor="A001",
            surname=vocabulary.surname_of(row["name"]),
            created_at=start,
            updated_at=start,
        )
        for day, preference in enumerate(row.get("preferences") or []):
            if isinstance(preference, str):
                category, _, value = preference.partition(":")
                when = None
            else:
                category, value = preference["category"], preference["value"]
                when = date.fromisoformat(preference["date"])
            client.preferences.append(
                Preference(
                    category=category,
                    value=value,
                    recorded_by="档案导入",
                    store=row["home_store"],
                    recorded_at=start + timedelta(days=day),
                    status=CURRENT,
                    date_value=when,
                )
            )
        for alias in row.get("aliases") or []:
            client.aliases.append(
                ClientAlias(
                    alias=alias,
                    key=alias_key(alias),
                    kind="alias",
                    recorded_by="档案导入",
                    recorded_at=start,
                )
            )
        session.add(client)
    session.flush()
    twice = session.execute(
        select(Client.name).group_by(Client.name).having(func.count() > 1)
    ).scalars()
    assert not list(twice), "cast names must not repeat demo or cast names"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, trained_model: Path) -> Iterator[Servers]:
    folder = tmp_path_factory.mktemp("dialogues")
    url = f"sqlite:///{folder / 'copilot.db'}"
    db.upgrade(url)
    with db.session_scope(url) as session:
        demo.load_if_empty(session)
        seed_cast(session, load_cast())
    with running(
        url, free_port(), free_port(), "127.0.0.1", folder / "log", nlu_port=free_port()
    ) as started:
        yield started


def client_named(session: Session, name: str) -> Client:
    return session.scalars(select(Client).where(Client.name == name)).one()


def seed_recent(session: Session, advisor: Advisor, names: Sequence[str]) -> None:
    """Make ``names`` this advisor's recent clients, the last one the most recent:
    cards the advisor opened earlier (the access log the copilot reads them from)
    and served, with no card left active in the conversation."""
    identity = AdvisorIdentity.of(advisor)
    for name in names:
        client = client_named(session, name)
        audit.record(session, identity, client.id, "read", "action_lookup_client")
        client.notes.append(
            VisitNote(
                kind="visit",
                advisor_id=advisor.id,
                store=advisor.store,
                summary="试戴了几款，没有下单",
                details={},
                created_at=utcnow(),
            )
        )
        session.flush()


@dataclass(frozen=True)
class Snapshot:
    """What the cards hold before a case, to tell which cards the case changed."""

    preferences: dict[int, tuple[Any, ...]]
    aliases: frozenset[tuple[str, str]]
    last_event: int
    last_note: int

    @classmethod
    def take(cls, session: Session) -> Snapshot:
        rows = session.execute(
            select(
                Preference.id,
                Preference.client_id,
                Preference.category,
                Preference.value,
                Preference.status,
                Preference.date_value,
            )
        ).all()
        return cls(
            preferences={row[0]: tuple(row[1:]) for row in rows},
            aliases=frozenset(
                session.execute(select(ClientAlias.client_id, ClientAlias.key)).all()
            ),
            last_event=session.scalar(select(func.max(PreferenceEvent.id))) or 0,
            last_note=session.scalar(select(func.max(VisitNote.id))) or 0,
        )

    def changed_since(self, session: Session) -> set[str]:
        """Names of the clients whose preferences, aliases or history changed since."""
        now = Snapshot.take(session)
        ids: set[str] = set()
        for key in self.preferences.keys() | now.preferences.keys():
            before, after = self.preferences.get(key), now.preferences.get(key)
            if before != after:
                ids.update(row[0] for row in (before, after) if row)
        ids.update(client_id for client_id, _ in self.aliases ^ now.aliases)
        ids.update(
            session.scalars(
                select(PreferenceEvent.client_id).where(PreferenceEvent.id > self.last_event)
            )
        )
        if not ids:
            return set()
        return set(session.scalars(select(Client.name).where(Client.id.in_(ids))))


# -- talking -------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One turn's reply: the texts joined, the buttons, the last copilot payload."""

    text: str
    buttons: list[dict[str, str]]
    copilot: dict[str, Any]

    @classmethod
    def of(cls, replies: list[dict[str, Any]]) -> Answer:
        payloads = [(r.get("custom") or {}).get("copilot") for r in replies]
        return cls(
            text="\n".join(r.get("text") or "" for r in replies),
            buttons=[b for r in replies for b in r.get("buttons") or []],
            copilot=next((p for p in reversed(payloads) if isinstance(p, dict)), {}),
        )

    @property
    def client_name(self) -> str | None:
        client = self.copilot.get("client")
        return client.get("name") if isinstance(client, dict) else None

    @property
    def options(self) -> list[str]:
        """The client each offered option names: "王建国 · 上海恒隆店 · 钻石 · 尾号3100"."""
        titles = [b["title"] for b in self.buttons]
        if not titles:
            question = self.copilot.get("question") or {}
            titles = [o.get("title", "") for o in question.get("options") or []]
        return [title.split("·")[0].strip() for title in titles]


@dataclass
class Conversation:
    servers: Servers
    token: str
    last: Answer | None = None
    offered: list[str] = field(default_factory=list)
    picks: dict[str, str] = field(default_factory=dict)

    def send(self, step: Step) -> Answer:
        if step.press is not None:
            message = self.button(step.press)
        else:
            assert step.say is not None
            message = step.say
        status, replies = post(self.servers, {"message": message}, self.token)
        if status != 200 or not isinstance(replies, list) or not replies:
            raise Stop(f"HTTP {status}: {replies!r}")
        if self.last is not None and self.last.options:
            self.offered = self.last.options
        self.last = Answer.of(replies)
        return self.last

    def button(self, which: int | str) -> str:
        buttons = self.last.buttons if self.last else []
        titles = [b["title"] for b in buttons]
        if isinstance(which, int):
            if not 1 <= which <= len(buttons):
                raise Stop(f"no button {which}; the reply offered {titles}")
            return buttons[which - 1]["payload"]
        for button in buttons:
            if which in button["title"]:
                return button["payload"]
        raise Stop(f"no button titled like {which!r}; the reply offered {titles}")

    def name(self, ref: str | None) -> str | None:
        """A client name, or for ``@N`` the client of the N-th option offered before."""
        match = PICK.match(ref or "")
        if not match or ref is None:
            return ref
        if ref not in self.picks:
            index = int(match.group(1))
            if not 1 <= index <= len(self.offered):
                return f"<{ref}: only {len(self.offered)} options were offered>"
            self.picks[ref] = self.offered[index - 1]
        return self.picks[ref]


class Stop(Exception):
    """The conversation cannot go on (no such button, an HTTP error)."""


# -- checking ------------------------------------------------------------------------


def one_to_one(wanted: Sequence[T], found: Sequence[U], fits: Callable[[T, U], bool]) -> bool:
    """Can every wanted item be paired with its own found item, none left over?"""
    if len(wanted) != len(found):
        return False
    owner: dict[int, int] = {}

    def place(i: int, seen: set[int]) -> bool:
        for j, item in enumerate(found):
            if j not in seen and fits(wanted[i], item):
                seen.add(j)
                if j not in owner or place(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    return all(place(i, set()) for i in range(len(wanted)))


def write_fits(conversation: Conversation) -> Callable[[dict[str, Any], dict[str, Any]], bool]:
    def fits(spec: dict[str, Any], write: dict[str, Any]) -> bool:
        if "client" in spec and write.get("client_name") != conversation.name(spec["client"]):
            return False
        if "category" in spec and write.get("category") != spec["category"]:
            return False
        if "change" in spec and write.get("change") != spec["change"]:
            return False
        value = ValueSpec.parse(str(spec.get("value", "~")))
        return value.matches(str(write.get("category")), str(write.get("value")))

    return fits


def check_answer(expect: dict[str, Any], answer: Answer, conversation: Conversation) -> list[str]:
    problems: list[str] = []
    copilot = answer.copilot
    if "client" in expect and answer.client_name != conversation.name(expect["client"]):
        wanted = conversation.name(expect["client"])
        problems.append(f"shows client {answer.client_name!r}, expected {wanted!r}")
    if "not_found" in expect and copilot.get("not_found") != expect["not_found"]:
        problems.append(
            f"not_found is {copilot.get('not_found')!r}, expected {expect['not_found']!r}"
        )
    if "question" in expect:
        kind = (copilot.get("question") or {}).get("kind")
        if kind != expect["question"]:
            problems.append(f"question kind is {kind!r}, expected {expect['question']!r}")
    missing = [n for n in expect.get("options") or () if n not in answer.options]
    if missing:
        problems.append(f"options {answer.options} lack {missing}")
    if "mode" in expect and copilot.get("mode") != expect["mode"]:
        problems.append(f"mode is {copilot.get('mode')!r}, expected {expect['mode']!r}")
    problems += [f"text lacks {s!r}" for s in expect.get("has") or () if s not in answer.text]
    problems += [f"text contains {s!r}" for s in expect.get("lacks") or () if s in answer.text]
    order = expect.get("order") or []
    positions = [answer.text.find(s) for s in order]
    if -1 in positions or positions != sorted(positions):
        problems.append(f"text does not have {order} in this order")
    if "first_preference" in expect:
        preferences = ((copilot.get("client") or {}).get("preferences")) or [{}]
        first = preferences[0]
        spec = ValueSpec.parse(expect["first_preference"])
        if not spec.matches(str(first.get("category")), str(first.get("value"))):
            problems.append(f"first preference is {first}, expected {spec.spec}")
        elif first.get("safety") is not True:
            problems.append(f"first preference {first} is not marked safety")
    if "writes" in expect:
        writes = copilot.get("writes") or []
        if not one_to_one(expect["writes"], writes, write_fits(conversation)):
            problems.append(f"writes are {writes}, expected {expect['writes']}")
    return problems


def local_today() -> date:
    return datetime.now(LOCAL_TZ).date()


def date_fits(spec: dict[str, int], value: date | None, todays: set[date]) -> bool:
    if value is None:
        return False
    if "month" in spec:
        return (value.month, value.day) == (spec["month"], spec["day"])
    wanted = set()
    for today in todays:
        if "days" in spec:
            wanted.add(today + timedelta(days=spec["days"]))
        elif "next_month_day" in spec:
            year, month = divmod(today.year * 12 + today.month, 12)  # month is 0-based here
            wanted.add(date(year, month + 1, spec["next_month_day"]))
        else:
            monday = today - timedelta(days=today.weekday())
            wanted.add(monday + timedelta(days=7 + spec["next_week_day"] - 1))
    return value in wanted


def check_card(
    session: Session, name: str, spec: dict[str, Any], before: Snapshot, todays: set[date]
) -> list[str]:
    client = client_named(session, name)
    rows = list(client.preferences)
    current = [p for p in rows if p.status == CURRENT]
    shown = [f"{p.category}:{p.value}" for p in current]
    problems: list[str] = []

    def fits(spec: ValueSpec, row: Preference) -> bool:
        return spec.matches(row.category, row.value)

    if "current" in spec:
        wanted = [ValueSpec.parse(v) for v in spec["current"]]
        if not one_to_one(wanted, current, fits):
            problems.append(f"current values are {shown}, expected exactly {spec['current']}")
    for category, values in (spec.get("current_in") or {}).items():
        inside = [p for p in current if p.category == category]
        if not one_to_one([ValueSpec.parse(v) for v in values], inside, fits):
            problems.append(
                f"current {category} values are {[p.value for p in inside]}, expected {values}"
            )
    for value in spec.get("has") or ():
        if not any(fits(ValueSpec.parse(value), p) for p in current):
            problems.append(f"no current value matches {value!r} (current: {shown})")
    for value in spec.get("not_current") or ():
        if any(fits(ValueSpec.parse(value), p) for p in current):
            problems.append(f"{value!r} is still current (current: {shown})")
    for category, count in (spec.get("count") or {}).items():
        inside = [p.value for p in current if p.category == category]
        if len(inside) != count:
            problems.append(f"{len(inside)} current {category} values {inside}, expected {count}")
    for word in spec.get("values_lack") or ():
        problems += [f"current value {v!r} contains {word!r}" for v in shown if word in v]
    for value, status in (spec.get("status") or {}).items():
        matching = [p for p in rows if fits(ValueSpec.parse(value), p)]
        if not matching or any(p.status != status for p in matching):
            got = [(p.value, p.status) for p in matching]
            problems.append(f"rows matching {value!r} are {got}, expected status {status}")
    for value, when in (spec.get("date") or {}).items():
        matching = [p for p in current if fits(ValueSpec.parse(value), p)]
        if not matching or not all(date_fits(when, p.date_value, todays) for p in matching):
            got = [(p.value, p.date_value) for p in matching]
            problems.append(f"current {value!r} rows are {got}, expected date {when}")
    events = session.scalars(
        select(PreferenceEvent).where(
            PreferenceEvent.client_id == client.id, PreferenceEvent.id > before.last_event
        )
    ).all()
    for wanted_event in spec.get("events") or ():
        value = ValueSpec.parse(str(wanted_event.get("value", "~")))
        if not any(
            e.action == wanted_event["action"] and value.matches(e.category, e.value)
            for e in events
        ):
            history = [(e.action, e.category, e.value) for e in events]
            problems.append(f"no {wanted_event} among this case's events {history}")
    aliases = {a.alias.lower() for a in client.aliases}
    problems += [
        f"alias {a!r} missing (has {sorted(aliases)})"
        for a in spec.get("aliases") or ()
        if a.lower() not in aliases
    ]
    notes = session.scalars(
        select(VisitNote).where(VisitNote.client_id == client.id, VisitNote.id > before.last_note)
    ).all()
    written = [n.summary + json.dumps(n.details, ensure_ascii=False) for n in notes]
    for words in spec.get("notes") or ():
        if not any(words in text for text in written):
            problems.append(f"no visit note from this case mentions {words!r} ({written})")
    return [f"card {name}: {p}" for p in problems]


def run_case(servers: Servers, case: Case) -> list[str]:
    """Play the case's turns, then read the cards; every problem found, in order."""
    with db.session_scope(servers.db_url) as session:
        advisor = upsert_advisor(session, f"dlg-{case.id}"[:64], "测试顾问", case.store, "advisor")
        token = issue_token(session, advisor)
        seed_recent(session, advisor, case.recent)
        before = Snapshot.take(session)
    todays = {local_today()}
    conversation = Conversation(servers, token)
    problems: list[str] = []
    for number, step in enumerate(case.steps, 1):
        try:
            answer = conversation.send(step)
        except Stop as stopped:
            problems.append(f"turn {number} {step.label}: stopped: {stopped}")
            break
        found = check_answer(step.expect, answer, conversation)
        if found:
            reply = answer.text.replace("\n", " ⏎ ")[:300]
            problems += [f"turn {number} {step.label}: {p}" for p in found]
            problems.append(f"    reply: {reply}")
    todays.add(local_today())
    with db.session_scope(servers.db_url) as session:
        for ref, spec in case.cards.items():
            name = conversation.name(ref)
            if name is None or name.startswith("<"):
                problems.append(f"card {ref}: {name}")
                continue
            problems += check_card(session, name, spec, before, todays)
        changed = before.changed_since(session)
        if case.touched is not None:
            wanted = {conversation.name(n) for n in case.touched}
            if changed != wanted:
                problems.append(
                    f"cards changed: {sorted(changed)}, expected {sorted(map(str, wanted))}"
                )
        else:
            allowed = {conversation.name(n) for n in case.may_touch}
            if changed - allowed:
                problems.append(f"cards changed that should not: {sorted(changed - allowed)}")
    return problems


# -- the tests -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, marks=pytest.mark.xfail(reason=c.known_nlu_miss, strict=False))
        if c.known_nlu_miss
        else c
        for c in CASES
    ],
    ids=[case.id for case in CASES],
)
def test_dialogue(stack: Servers, case: Case) -> None:
    stopped = stack.exited()
    if stopped:
        pytest.fail(stopped)
    problems = run_case(stack, case)
    assert not problems, f"{case.source} · {case.id}: {case.about}\n" + "\n".join(problems)


def test_cases_name_only_known_clients() -> None:
    """A misspelt name in an expectation would make a case pass or fail for nothing."""
    with (ROOT / "data" / "demo" / "clients.csv").open(encoding="utf-8") as handle:
        known = {row["name"] for row in csv.DictReader(handle)}
    known |= {row["name"] for row in load_cast()}
    unknown = {case.id: sorted(case.names() - known) for case in CASES if case.names() - known}
    assert not unknown
    assert len(CASES) >= 45


_MARKUP = re.compile(r"\[([^\]]+)\]\([^)]*\)|\{[^}]*\}")


def training_examples() -> set[str]:
    examples: set[str] = set()
    for path in TRAINING_FILES:
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            for line in str(block.get("examples", "")).splitlines():
                examples.add(re.sub(r"\s+", "", _MARKUP.sub(r"\1", line.strip().lstrip("- "))))
    return examples


def test_messages_are_not_training_examples() -> None:
    """The cases test understanding, not recall: no message is a training example."""
    examples = training_examples()
    copied = [
        (case.id, step.say)
        for case in CASES
        for step in case.steps
        if step.say and re.sub(r"\s+", "", step.say) in examples
    ]
    assert not copied
