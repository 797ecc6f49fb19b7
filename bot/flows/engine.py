"""The step engine: deterministic transitions of a guided session.

State is a plain dict (kept in a Rasa slot between turns): which flow and step,
the facts relayed so far filed under their step, the checklist, buying signals,
and which scripts were already suggested. Every move is explained: a move past
steps that have no evidence names them as skipped instead of passing silently.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.clock import local_iso
from bot.flows.definition import STAY, Flow
from bot.flows.scripts import GENERAL, Library, Script

MAX_SUGGESTIONS = 3
BUYING_SIGNALS = ("client_interest", "client_hesitation", "client_price_objection")


@dataclass
class Fact:
    step: str
    signal: str
    text: str


@dataclass
class Session:
    flow: str
    step: str
    scenario: str
    opened_at: str
    client_id: str | None = None
    facts: list[Fact] = field(default_factory=list)
    checklist: dict[str, str] = field(default_factory=dict)
    signals: list[str] = field(default_factory=list)
    suggested: list[str] = field(default_factory=list)
    visited: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    product: str | None = None
    issue: str | None = None
    note_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Session:
        values = dict(data)
        values["facts"] = [Fact(**f) for f in values.get("facts", [])]
        return cls(**values)

    def facts_for(self, step: str) -> list[Fact]:
        return [f for f in self.facts if f.step == step]

    def count(self, signal: str) -> int:
        return sum(1 for f in self.facts if f.signal == signal)

    def latest(self, signal: str) -> str | None:
        found = [f.text for f in self.facts if f.signal == signal]
        return found[-1] if found else None


@dataclass(frozen=True)
class Move:
    """What a turn did to the step; ``scripts`` overrides the suggestion group."""

    before: str
    after: str
    skipped: tuple[str, ...] = ()
    manual: bool = False
    scripts: str | None = None

    @property
    def moved(self) -> bool:
        return self.before != self.after


def open_session(flow: Flow, scenario: str | None, client_id: str | None, now: datetime) -> Session:
    return Session(
        flow=flow.id,
        step=flow.start,
        scenario=scenario or GENERAL,
        opened_at=now.isoformat(timespec="seconds"),
        client_id=client_id,
        visited=[flow.start],
    )


def _enter(flow: Flow, session: Session, target: str, manual: bool) -> Move:
    before = session.step
    skipped: tuple[str, ...] = ()
    if not manual and flow.index(target) > flow.index(before):
        skipped = tuple(s for s in flow.skipped_between(before, target) if not session.facts_for(s))
        session.skipped.extend(s for s in skipped if s not in session.skipped)
    session.step = target
    if target not in session.visited:
        session.visited.append(target)
    return Move(before, target, skipped, manual)


def _capture(flow: Flow, session: Session, step_ids: list[str], text: str) -> None:
    for step_id in dict.fromkeys(step_ids):
        for item in flow.step(step_id).checklist:
            if item.id not in session.checklist and item.matches(text):
                session.checklist[item.id] = text


def _complete(flow: Flow, session: Session) -> Move | None:
    """A step that finishes when enough of its checklist is captured."""
    step = flow.step(session.step)
    if step.complete_at and step.complete_to:
        captured = sum(1 for item in step.checklist if item.id in session.checklist)
        if captured >= step.complete_at:
            return _enter(flow, session, step.complete_to, manual=False)
    return None


def relay(flow: Flow, session: Session, signal: str, text: str) -> Move:
    """File a relayed client statement and apply the step's rule for it."""
    fact_step = flow.fact_steps.get(signal, session.step)
    session.facts.append(Fact(fact_step, signal, text))
    if signal in BUYING_SIGNALS:
        session.signals.append(signal)
    _capture(flow, session, [fact_step, session.step], text)
    transition = flow.transition(session.step, signal)
    if transition is None or session.count(signal) < transition.min_facts:
        return _complete(flow, session) or Move(session.step, session.step)
    if transition.to == STAY:
        return Move(session.step, session.step, scripts=transition.scripts)
    move = _enter(flow, session, transition.to, manual=False)
    _capture(flow, session, [session.step], text)  # what moved us on may also fill the new step
    return _complete(flow, session) or move


def note(flow: Flow, session: Session, text: str) -> Move:
    """Information that is not a client signal (e.g. the complaint report itself)."""
    _capture(flow, session, [s.id for s in flow.steps], text)
    return _complete(flow, session) or Move(session.step, session.step)


def jump(flow: Flow, session: Session, target: str) -> Move:
    """The advisor moves the flow explicitly, forward or back."""
    return _enter(flow, session, target, manual=True)


def neighbour(flow: Flow, session: Session, offset: int) -> str:
    """The previous (-1) or next (+1) step in order, never onto an alternative ending."""
    index = flow.index(session.step) + offset
    index = max(0, min(index, len(flow.steps) - 1))
    return flow.steps[index].id


@dataclass(frozen=True)
class Suggestion:
    step: str
    text: str
    script_id: str

    def to_payload(self) -> dict[str, str]:
        return {"step": self.step, "text": self.text}


def rank(
    candidates: tuple[Script, ...],
    scenario: str,
    values: dict[str, str],
    avoid: list[str],
    used: set[str],
) -> list[tuple[int, Script, str]]:
    """(score, script, text) best first: scenario fit, then personal and session detail.

    Scripts already suggested in this session are left out: an advisor asking
    again wants another angle, not the same line.
    """
    ranked = []
    for script in candidates:
        if script.scenario not in (scenario, GENERAL):
            continue
        text = script.render(values)
        if text is None or any(term in text for term in avoid):
            continue
        score = 30 if script.scenario == scenario and scenario != GENERAL else 10
        score += 20 * len(script.placeholders & {"drink", "seat", "occasion", "color", "style"})
        score += 15 * len(script.placeholders & {"fact", "problem", "need", "issue"})
        score += 5 * len(script.placeholders & {"product"})
        if script.id not in used:
            ranked.append((score, script, text))
    ranked.sort(key=lambda row: (-row[0], row[1].id))
    return ranked


def suggest(
    library: Library,
    session: Session,
    group: str,
    values: dict[str, str],
    avoid: list[str],
    limit: int = MAX_SUGGESTIONS,
) -> list[Suggestion]:
    """Up to ``limit`` suggestions for ``group``, remembered so they are not repeated."""
    used = set(session.suggested)
    ranked = rank(library.group(session.flow, group), session.scenario, values, avoid, used)
    chosen = [Suggestion(group, text, script.id) for _, script, text in ranked[:limit]]
    session.suggested.extend(s.script_id for s in chosen)
    return chosen


def deadlines(flow: Flow, session: Session) -> list[dict[str, Any]]:
    opened = datetime.fromisoformat(session.opened_at)
    rows = []
    for step in flow.steps:
        if step.deadline_minutes:
            due = opened + timedelta(minutes=step.deadline_minutes)
            done = flow.index(session.step) > flow.index(step.id)
            rows.append({"step": step.id, "title": step.title, "due": local_iso(due), "done": done})
    return rows
