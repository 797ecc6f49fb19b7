"""The role-play client: deterministic reactions to what the trainee does.

Each trainee line is read into moves (bot/roleplay/moves.py): a greeting or a
cup of tea gets an answer in kind, an open question at a stage whose groundwork
is laid reveals the persona's next fact, a generic implication question gets a
partial acknowledgement that invites a sharper one, a pitch before the need is
stated or pressuring phrasing cools the client, and a hook or a close after the
need was met ends the session. Answers come from the persona's bank for the
move and the client's trust band and are never repeated within a session. The
same trainee lines always produce the same conversation, which is what makes
the score explainable and repeatable.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from bot.flows.scripts import Forbidden
from bot.roleplay.moves import Catalogue
from bot.roleplay.personas import BANDS, Persona, Rules
from bot.roleplay.stages import FlowStages, Stage

PITCH = "pitch"
CLOSE = "close"


@dataclass
class Line:
    who: str  # "advisor" or "client"
    text: str
    # advisor: the NLU intent of the line; client: what the answer is (fact:problem,
    # answer:drink, objection, buy …), so a transcript explains itself
    kind: str = ""
    moves: list[str] = field(default_factory=list)  # advisor: the moves read from the line
    open: bool | None = None  # advisor: whether its question was open
    turn: int = 0  # the trainee turn the line belongs to, from 1


@dataclass
class RoleplayState:
    persona: str
    trust: int
    transcript: list[Line] = field(default_factory=list)
    revealed: dict[str, int] = field(default_factory=dict)  # facts given, per stage
    covered: dict[str, int] = field(default_factory=dict)  # stage -> the turn that covered it
    early: dict[str, int] = field(default_factory=dict)  # stage -> first turn tried too early
    generic: list[int] = field(default_factory=list)  # turns of generic implication questions
    value_turn: int | None = None  # the first pitch that met the stated need
    first_pitch: int | None = None
    objections_raised: int = 0
    forbidden_hits: list[int] = field(default_factory=list)  # turns
    rapport_seen: list[str] = field(default_factory=list)
    repeats_used: int = 0
    outcome: str | None = None  # purchase, hook, left, satisfied, ended
    started_at: str = ""

    @property
    def ended(self) -> bool:
        return self.outcome is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RoleplayState:
        """A state from the slot; keys of an older layout are ignored."""
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        line_keys = {f.name for f in fields(Line)}
        values["transcript"] = [
            Line(**{k: v for k, v in line.items() if k in line_keys})
            for line in values.get("transcript", [])
        ]
        return cls(**values)

    def advisor_lines(self) -> list[Line]:
        return [line for line in self.transcript if line.who == "advisor"]

    def said(self) -> set[str]:
        return {line.text for line in self.transcript if line.who == "client"}


def start(persona: Persona) -> RoleplayState:
    state = RoleplayState(persona=persona.id, trust=persona.trust)
    state.transcript.append(Line("client", persona.opening, "opening"))
    return state


class Simulator:
    """Plays one persona under the shared rules."""

    def __init__(
        self,
        persona: Persona,
        rules: Rules,
        forbidden: Forbidden,
        catalogue: Catalogue,
        stages: FlowStages,
    ) -> None:
        self.persona = persona
        self.rules = rules
        self.forbidden = forbidden
        self.catalogue = catalogue
        self.stages = stages

    def respond(self, state: RoleplayState, intent: str, text: str) -> str:
        """The client's answer to one trainee line; updates ``state``."""
        if state.ended:
            raise ValueError("the role-play has ended")
        turn = len(state.advisor_lines()) + 1
        done = [s.moves[0] for s in self.stages.stages if s.id in state.covered]
        reading = self.catalogue.read(text, intent, self.persona.flow, self._due(state), done)
        is_open = self.rules.is_open(text) if reading.question else None
        state.transcript.append(Line("advisor", text, intent, list(reading.moves), is_open, turn))
        for move in reading.moves:
            if move in self.catalogue.ids("rapport") and move not in state.rapport_seen:
                state.rapport_seen.append(move)
                self._adjust(state, "rapport")
        parts: list[tuple[str, str | None]]
        if self.forbidden.find(text):
            state.forbidden_hits.append(turn)
            self._adjust(state, "forbidden")
            parts = [("pressured", self._pick(state, self.persona.lines["pressured"]))]
        elif self.persona.flow == "complaint":
            parts = self._complaint(state, reading.moves, turn)
        else:
            parts = self._reception(state, reading.moves, reading.question, is_open, turn, text)
        if not state.ended and state.trust < self.rules.leave_below:
            parts = [("leave", self._pick(state, self.persona.lines["leave"]))]
        if any(answer is None for _, answer in parts):
            # Everything in character has been said: the client has had enough.
            parts = [("leave", self._pick(state, self.persona.lines["leave"]) or "")]
        if parts[0][0] == "leave":
            state.outcome = "left"
        for kind, answer in parts:
            state.transcript.append(Line("client", answer or "", kind, turn=turn))
        return "".join(answer or "" for _, answer in parts)

    # -- reception -------------------------------------------------------

    def _reception(
        self,
        state: RoleplayState,
        moves: tuple[str, ...],
        question: str | None,
        is_open: bool | None,
        turn: int,
        text: str,
    ) -> list[tuple[str, str | None]]:
        parts: list[tuple[str, str | None]] = []
        if question is not None:
            parts.append(self._question(state, question, bool(is_open), turn, text))
        elif PITCH in moves or self._offers_value(state, moves, text):
            parts.append(self._pitch(state, turn, text))
        ending = self.catalogue.ids("close") + self.catalogue.ids("hook")
        closing = [m for m in state.transcript[-1].moves if m in ending]
        if closing and not state.ended:
            parts.append(self._closing(state, closing, turn))
        if not parts:
            # The client answers the last thing offered (…先坐，给您倒杯茶？ is about tea).
            rapport = [m for m in moves if m in self.catalogue.ids("rapport")]
            key = max(rapport, key=lambda m: self._offered_at(m, text)) if rapport else "other"
            parts.append((f"answer:{key}", self._answer(state, key)))
        return parts

    def _offered_at(self, move: str, text: str) -> int:
        return max((end for _, end in self.catalogue.moves[move].spans(text)), default=0)

    def _question(
        self, state: RoleplayState, move: str, is_open: bool, turn: int, text: str
    ) -> tuple[str, str | None]:
        stage = self.stages.worked_by((move,))[0]
        band = self.rules.band(state.trust)
        if band == "cool":
            self._adjust(state, "open_on_stage" if is_open else "closed_on_stage")
            return f"answer:{move}", self._answer(state, move, band)
        if stage.needs and stage.needs not in state.covered:
            state.early.setdefault(stage.id, turn)
            self._adjust(state, "too_early")
            return f"answer:{move}", self._answer(state, move)
        if not is_open and not stage.closed_ok:
            self._adjust(state, "closed_on_stage")
            return "answer:closed", self._answer(state, "closed")
        if stage.id == "implication" and not self._sharp(state, text):
            state.generic.append(turn)
            self._adjust(state, "implication_generic")
            return f"answer:{move}", self._answer(state, move)
        fact = self._reveal(state, stage, turn)
        if fact is None:
            return self._repeat(state, stage, move)
        key = {"implication": "implication_lands", "need": "need_stated"}.get(stage.id)
        self._adjust(state, key or "open_on_stage")
        return f"fact:{stage.id}", fact

    def _sharp(self, state: RoleplayState, text: str) -> bool:
        """An implication question tied to what the client said, or to what matters
        to this client, rather than a generic 会有什么影响."""
        if any(word in text for word in self.persona.implication_triggers):
            return True
        heard = [self.persona.opening]
        for stage_id in ("situation", "problem"):
            heard += self.persona.facts[stage_id][: state.revealed.get(stage_id, 0)]
        return bool(self.rules.pairs(text) & self.rules.pairs("".join(heard)))

    def _pitch(self, state: RoleplayState, turn: int, text: str) -> tuple[str, str | None]:
        if state.first_pitch is None:
            state.first_pitch = turn
        if "need" not in state.covered:
            self._adjust(state, "pitch_early")
            return "answer:pitch", self._answer(state, PITCH)
        if not self.meets_need(state, text):
            self._adjust(state, "pitch_miss")
            return "pitch_miss", self._pick(state, self.persona.lines["pitch_miss"])
        if state.value_turn is None:
            state.value_turn = turn
            self._adjust(state, "pitch_match")
            return "pitch_match", self._pick(state, self.persona.lines["pitch_match"])
        return self._decision(state, closing=False)

    def _offers_value(self, state: RoleplayState, moves: tuple[str, ...], text: str) -> bool:
        """A line that answers the stated need is value, whatever else it does:
        靠窗那桌给您预留好，菜单按无蒜不辣没坚果排 proposes as it closes. It
        is recorded as a pitch on the line."""
        spoken = set(moves) - set(self.catalogue.ids("close") + self.catalogue.ids("hook"))
        if spoken or state.value_turn is not None or "need" not in state.covered:
            return False
        if not self.meets_need(state, text):
            return False
        line = state.transcript[-1]
        # Reserving what was asked for is part of the proposal, not a close.
        line.moves = [move for move in line.moves if move != CLOSE] + [PITCH]
        return True

    def meets_need(self, state: RoleplayState, text: str) -> bool:
        """A pitch that picks up the need the client stated."""
        if any(word in text for word in self.persona.need_keywords):
            return True
        stated = "".join(self.persona.facts["need"][: state.revealed.get("need", 0)])
        return bool(self.rules.pairs(text) & self.rules.pairs(stated))

    def _closing(self, state: RoleplayState, moves: list[str], turn: int) -> tuple[str, str | None]:
        move = CLOSE if CLOSE in moves else moves[0]
        if state.value_turn is None:
            self._adjust(state, "close_early" if move == CLOSE else "hook_early")
            return f"answer:{move}", self._answer(state, move, self._lower(state))
        if move == CLOSE:
            return self._decision(state, closing=True)
        band = self.rules.band(state.trust)
        answer = self._answer(state, move, band)
        if band == "cool" or answer is None:
            return f"answer:{move}", answer
        state.outcome = "hook"
        return "hook", answer + (self._pick(state, self.persona.lines["hook"]) or "")

    def _decision(self, state: RoleplayState, closing: bool) -> tuple[str, str | None]:
        """After value: asked for the decision, buy if trust is high enough; else
        the next objection; then buying signals, for the trainee to close on."""
        if closing and state.trust >= self.persona.buying_threshold:
            state.outcome = "purchase"
            return "buy", self._pick(state, self.persona.lines["buy"])
        if state.objections_raised < len(self.persona.objections):
            state.objections_raised += 1
            return "objection", self.persona.objections[state.objections_raised - 1]
        interest = None if closing else self._pick(state, self.persona.lines["interest"])
        return ("interest", interest) if interest else ("answer:close", self._answer(state, CLOSE))

    # -- complaint -------------------------------------------------------

    def _complaint(
        self, state: RoleplayState, moves: tuple[str, ...], turn: int
    ) -> list[tuple[str, str | None]]:
        worked = self.stages.worked_by(moves)
        if not worked:
            key = next((m for m in reversed(moves) if m in self.persona.answers), "other")
            return [(f"answer:{key}", self._answer(state, key))]
        parts: list[tuple[str, str | None]] = []
        for stage in worked:
            move = next(m for m in stage.moves if m in moves)
            if stage.id in state.covered:
                fact = self._reveal(state, stage, turn)
                parts.append(
                    (f"fact:{stage.id}", fact)
                    if fact
                    else (f"answer:{move}", self._answer(state, move))
                )
                continue
            if stage.needs and stage.needs not in state.covered:
                state.early.setdefault(stage.id, turn)
                self._adjust(state, "complaint_skip")
                parts.append((f"answer:{move}", self._answer(state, move, "cool")))
                break
            parts.append((f"fact:{stage.id}", self._reveal(state, stage, turn)))
            self._adjust(state, "complaint_step")
        if all(stage_id in state.covered for stage_id in self.stages.ids):
            satisfied = state.trust >= self.persona.buying_threshold
            state.outcome = "satisfied" if satisfied else "hook"
            key = "satisfied" if satisfied else "hook"
            parts.append((key, self._pick(state, self.persona.lines[key])))
        return parts[-2:]

    # -- shared ----------------------------------------------------------

    def _due(self, state: RoleplayState) -> str | None:
        """The question move of the first stage not covered yet."""
        stage = next((s for s in self.stages.stages if s.id not in state.covered), None)
        return stage.moves[0] if stage is not None else None

    def _reveal(self, state: RoleplayState, stage: Stage, turn: int) -> str | None:
        facts = self.persona.facts[stage.id]
        shown = state.revealed.get(stage.id, 0)
        if shown >= len(facts):
            return None
        state.revealed[stage.id] = shown + 1
        state.covered.setdefault(stage.id, turn)
        return facts[shown]

    def _repeat(self, state: RoleplayState, stage: Stage, move: str) -> tuple[str, str | None]:
        """Asked again after every fact of the stage is out: said again once in other
        words, then the move's own answers."""
        templates = self.persona.lines["repeat"]
        facts = self.persona.facts[stage.id]
        while state.repeats_used < len(templates):
            template = templates[state.repeats_used]
            state.repeats_used += 1
            line = template.format(fact=facts[state.repeats_used % len(facts)])
            if line not in state.said():
                return "repeat", line
        return f"answer:{move}", self._answer(state, move)

    def _answer(self, state: RoleplayState, key: str, band: str | None = None) -> str | None:
        """An answer to ``key`` in the band, one not said yet; other bands, then
        the persona's general answers, when the band's are used up."""
        band = band or self.rules.band(state.trust)
        order = [band] + [b for b in BANDS if b != band]
        for bank in (key, "other"):
            for each in order:
                picked = self._pick(state, self.persona.answers[bank][each])
                if picked is not None:
                    return picked
        return None

    def _pick(self, state: RoleplayState, options: tuple[str, ...]) -> str | None:
        """The first option not said yet, starting at a turn-dependent place."""
        said = state.said()
        start_at = len(state.transcript) % len(options)
        for offset in range(len(options)):
            option = options[(start_at + offset) % len(options)]
            if option not in said:
                return option
        return None

    def _lower(self, state: RoleplayState) -> str:
        """A hook or close before any value: answered one band cooler."""
        index = BANDS.index(self.rules.band(state.trust))
        return BANDS[max(0, index - 1)]

    def _adjust(self, state: RoleplayState, key: str) -> None:
        state.trust = max(0, min(100, state.trust + self.rules.trust[key]))
