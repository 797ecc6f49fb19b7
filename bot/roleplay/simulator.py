"""The role-play client: deterministic reactions to how the advisor asks.

Good, open, well-ordered questions raise trust and reveal the persona's facts
stage by stage; a pitch before the need is stated, a closed or pressuring
question, or forbidden phrasing lowers trust until the client turns guarded or
leaves. The same advisor lines always produce the same conversation, which is
what makes the score explainable and repeatable.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bot.flows.scripts import Forbidden
from bot.roleplay.personas import Persona, Rules

ASK_STAGE = {
    "ask_situation": "situation",
    "ask_problem": "problem",
    "ask_implication": "implication",
    "ask_need_payoff": "need",
}
PITCH = "pitch_product"
# What each reception stage needs revealed before a question about it can land.
PREREQUISITE = {"problem": "situation", "implication": "problem", "need": "implication"}


@dataclass
class Line:
    who: str  # "advisor" or "client"
    text: str
    kind: str = ""  # the advisor's question type or complaint step; the client's stage
    open: bool | None = None


@dataclass
class RoleplayState:
    persona: str
    trust: int
    transcript: list[Line] = field(default_factory=list)
    revealed: dict[str, int] = field(default_factory=dict)
    landed: bool = False
    need_stated: bool = False
    pitched_early: bool = False
    pitch_matched: bool = False
    objections_raised: int = 0
    steps_done: list[str] = field(default_factory=list)
    forbidden_hits: list[str] = field(default_factory=list)
    outcome: str | None = None  # purchase, hook, left, satisfied
    started_at: str = ""

    @property
    def ended(self) -> bool:
        return self.outcome is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RoleplayState:
        values = dict(data)
        values["transcript"] = [Line(**line) for line in values.get("transcript", [])]
        return cls(**values)

    def advisor_lines(self) -> list[Line]:
        return [line for line in self.transcript if line.who == "advisor"]


def start(persona: Persona) -> RoleplayState:
    state = RoleplayState(persona=persona.id, trust=persona.trust)
    state.transcript.append(Line("client", persona.opening, "opening"))
    return state


class Simulator:
    """Plays one persona under the shared rules."""

    def __init__(self, persona: Persona, rules: Rules, forbidden: Forbidden) -> None:
        self.persona = persona
        self.rules = rules
        self.forbidden = forbidden

    def respond(self, state: RoleplayState, kind: str, text: str) -> str:
        """The client's answer to one advisor line; updates ``state``."""
        if state.ended:
            return self.persona.line("repeat").format(fact="今天就先这样吧。")
        is_question = kind in ASK_STAGE
        line = Line("advisor", text, kind, self.rules.is_open(text) if is_question else None)
        state.transcript.append(line)
        hits = self.forbidden.find(text)
        if hits:
            state.forbidden_hits.append(text)
            reply = self._adjust(state, "forbidden", self.persona.line("pressured"))
        elif self.persona.flow == "complaint":
            reply = self._complaint(state, text)
        else:
            reply = self._reception(state, kind, text, line.open)
        if not state.ended and state.trust < self.rules.leave_below:
            state.outcome = "left"
            reply = self.persona.line("leave")
        state.transcript.append(Line("client", reply, "reply"))
        return reply

    def _adjust(self, state: RoleplayState, key: str, reply: str) -> str:
        state.trust = max(0, min(100, state.trust + self.rules.trust[key]))
        return reply

    def _guarded(self, state: RoleplayState) -> str:
        return self.persona.line("guarded", len(state.transcript))

    def _reveal(self, state: RoleplayState, stage: str) -> str | None:
        facts = self.persona.facts[stage]
        shown = state.revealed.get(stage, 0)
        if shown >= len(facts):
            return self.persona.line("repeat").format(fact=facts[-1])
        state.revealed[stage] = shown + 1
        return facts[shown]

    def _reception(self, state: RoleplayState, kind: str, text: str, is_open: bool | None) -> str:
        if kind == PITCH:
            return self._pitch(state, text)
        stage = ASK_STAGE.get(kind)
        if stage is None:
            if any(cue in text for cue in self.rules.hook_cues) and state.objections_raised:
                state.outcome = "hook"
                return self.persona.line("hook")
            replies = self.rules.rapport_replies
            return self._adjust(state, "greeting", replies[len(state.transcript) % len(replies)])
        needs = PREREQUISITE.get(stage)
        if needs and not state.revealed.get(needs):
            return self._adjust(state, "too_early", self._guarded(state))
        if state.trust < self.rules.guarded_below:
            key = "open_on_stage" if is_open else "closed_on_stage"
            return self._adjust(state, key, self._guarded(state))
        if not is_open and stage != "need":
            return self._adjust(
                state, "closed_on_stage", self.persona.line("closed", len(state.transcript))
            )
        if stage == "implication":
            if not any(word in text for word in self.persona.implication_triggers):
                return self._adjust(state, "closed_on_stage", self.persona.line("closed", 0))
            state.landed = True
            return self._adjust(state, "implication_lands", self._reveal(state, stage) or "")
        if stage == "need":
            state.need_stated = True
            return self._adjust(state, "need_stated", self._reveal(state, stage) or "")
        return self._adjust(state, "open_on_stage", self._reveal(state, stage) or "")

    def _pitch(self, state: RoleplayState, text: str) -> str:
        if not state.need_stated:
            state.pitched_early = True
            return self._adjust(state, "pitch_early", self.persona.line("pitch_early"))
        if not any(word in text for word in self.persona.need_keywords):
            return self._adjust(state, "pitch_miss", self.persona.line("pitch_miss"))
        first_match = not state.pitch_matched
        state.pitch_matched = True
        reply = (
            self._adjust(state, "pitch_match", self.persona.line("pitch_match"))
            if first_match
            else ""
        )
        if state.trust >= self.persona.buying_threshold:
            state.outcome = "purchase"
            return f"{reply}{self.persona.line('buy')}"
        if state.objections_raised < len(self.persona.objections):
            objection = self.persona.objections[state.objections_raised]
            state.objections_raised += 1
            return f"{reply}{objection}"
        state.outcome = "hook" if state.trust >= self.rules.guarded_below else "left"
        return self.persona.line("hook" if state.outcome == "hook" else "leave")

    def _complaint(self, state: RoleplayState, text: str) -> str:
        cues = self.persona.step_cues or {}
        matched = [
            step for step in self.persona.stages if any(c in text for c in cues.get(step, ()))
        ]
        if not matched:
            return self._guarded(state)
        expected = self.persona.stages[len(state.steps_done)] if len(state.steps_done) < 5 else None
        step = expected if expected in matched else matched[0]
        state.transcript[-1].kind = step
        if step in state.steps_done:
            return self.persona.line("repeat").format(fact=self.persona.facts[step][0])
        if step != expected:
            return self._adjust(state, "complaint_skip", self._guarded(state))
        state.steps_done.append(step)
        index = len([s for s in state.steps_done if s == step]) - 1
        reply = self._adjust(
            state, "complaint_step", self.persona.facts[step][index % len(self.persona.facts[step])]
        )
        if len(state.steps_done) == len(self.persona.stages):
            satisfied = state.trust >= self.persona.buying_threshold
            state.outcome = "satisfied" if satisfied else "hook"
            reply += self.persona.line("satisfied" if satisfied else "hook")
        return reply
