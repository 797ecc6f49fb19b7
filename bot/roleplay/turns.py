"""Role-play turns: start a persona, answer in character, hint, score at the end.

While a role-play is running, whatever the advisor types is a line to the
client (a greeting, a question, a pitch), except the copilot commands to end,
get a hint or ask for help; :func:`takes_over` routes those turns here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from bot.cards.models import Roleplay
from bot.cards.store import CardStore
from bot.cards.turns import base_reply
from bot.clock import utcnow
from bot.flows.engine import rank
from bot.flows.scripts import load_library
from bot.replies import Message, Reply
from bot.roleplay.personas import Persona, load_personas, load_rules
from bot.roleplay.scoring import Scorecard, score
from bot.roleplay.simulator import RoleplayState, Simulator, start
from bot.turn import MODE, ROLEPLAY_STATE, Turn

# Words that pick a persona when starting (besides its name and title).
PERSONA_HINTS = {
    "投诉": "vip_complaint_brooch",
    "胸针": "vip_complaint_brooch",
    "手表": "tech_founder_watch",
    "腕表": "tech_founder_watch",
    "机械表": "tech_founder_watch",
    "护肤": "skeptic_skincare",
    "国货": "skeptic_skincare",
    "美妆": "skeptic_skincare",
    "餐厅": "regular_diner",
    "订位": "regular_diner",
    "宴请": "regular_diner",
    "熟客": "regular_diner",
    "纪念日": "anniversary_gift",
    "礼物": "anniversary_gift",
    "比价": "price_comparer_bag",
    "免税": "price_comparer_bag",
    "代购": "price_comparer_bag",
    "包": "price_comparer_bag",
}
# Copilot commands that keep their meaning during a role-play.
COMMANDS = {"end_session", "next_step", "help", "start_roleplay", "goodbye"}
HINT_GROUPS = {"situation": "situation", "problem": "problem", "implication": "implication",
               "need": "need_payoff"}  # fmt: skip


def _state(turn: Turn) -> RoleplayState | None:
    data = turn.slots.get(ROLEPLAY_STATE)
    return RoleplayState.from_dict(data) if isinstance(data, dict) else None


def choose_persona(store: CardStore, turn: Turn) -> Persona:
    """The persona the advisor named; otherwise the next one they have not practised."""
    personas = load_personas()
    for persona in personas.values():
        if persona.name in turn.text or persona.title in turn.text or persona.id in turn.text:
            return persona
    for word, persona_id in sorted(PERSONA_HINTS.items(), key=lambda kv: -len(kv[0])):
        if word in turn.text and persona_id in personas:
            return personas[persona_id]
    done = store.session.scalar(
        select(func.count()).select_from(Roleplay).where(Roleplay.advisor_id == turn.advisor.id)
    )
    ordered = sorted(personas)
    return personas[ordered[int(done or 0) % len(ordered)]]


def _payload(
    persona: Persona, state: RoleplayState, card: Scorecard | None = None
) -> dict[str, Any]:
    coverage = (
        {s: s in state.steps_done for s in persona.stages}
        if persona.flow == "complaint"
        else {
            s: bool(state.revealed.get(s)) if s != "implication" else state.landed
            for s in persona.stages
        }
    )
    if persona.flow != "complaint":
        coverage["need"] = state.need_stated
    return {
        "persona": persona.id,
        "name": persona.name,
        "title": persona.title,
        "flow": persona.flow,
        "trust": state.trust,
        "coverage": coverage,
        "outcome": state.outcome,
        "scorecard": card.to_dict() if card else None,
    }


def _reply(persona: Persona, state: RoleplayState | None, messages: list[Message],
           card: Scorecard | None = None) -> Reply:  # fmt: skip
    running = state is not None and not state.ended
    reply = Reply(messages=messages, mode="roleplay" if running else "idle")
    reply.roleplay = _payload(persona, state, card) if state else None
    reply.slots[MODE] = reply.mode
    reply.slots[ROLEPLAY_STATE] = state.to_dict() if running and state else None
    return reply


def start_roleplay(store: CardStore, turn: Turn) -> Reply:
    persona = choose_persona(store, turn)
    state = start(persona)
    state.started_at = utcnow().isoformat(timespec="seconds")
    intro = Message(
        "roleplay_started",
        {"title": persona.title, "name": persona.name, "profile": persona.profile},
    )
    opening = Message("roleplay_client", {"name": persona.name, "line": persona.opening})
    return _reply(persona, state, [intro, opening])


def _finish(store: CardStore, turn: Turn, persona: Persona, state: RoleplayState) -> Scorecard:
    card = score(persona, load_rules(), load_library(), state.advisor_lines())
    store.session.add(
        Roleplay(
            advisor_id=turn.advisor.id,
            persona_id=persona.id,
            transcript=[line.__dict__ for line in state.transcript],
            checks=[c.__dict__ for c in card.checks],
            score=card.score,
            outcome=state.outcome or "ended",
            started_at=datetime.fromisoformat(state.started_at) if state.started_at else utcnow(),
            ended_at=utcnow(),
        )
    )
    store.session.flush()
    return card


def advisor_line(store: CardStore, turn: Turn) -> Reply:
    """One line from the advisor to the role-play client."""
    state = _state(turn)
    if state is None:
        return base_reply(turn, [Message("roleplay_not_running")])
    persona = load_personas()[state.persona]
    simulator = Simulator(persona, load_rules(), load_library().forbidden)
    answer = simulator.respond(state, turn.intent, turn.text)
    messages = [Message("roleplay_client", {"name": persona.name, "line": answer})]
    card = None
    if state.ended:
        card = _finish(store, turn, persona, state)
        messages.append(Message("roleplay_scorecard", {"scorecard": card.render()}))
    return _reply(persona, state, messages, card)


def hint(store: CardStore, turn: Turn) -> Reply:
    state = _state(turn)
    if state is None:
        return base_reply(turn, [Message("roleplay_not_running")])
    persona = load_personas()[state.persona]
    if persona.flow == "complaint":
        flow, group = (
            "complaint",
            next((s for s in persona.stages if s not in state.steps_done), "improve"),
        )
    else:
        stage = next((s for s in persona.stages if not _covered(state, s)), None)
        flow, group = "reception", HINT_GROUPS.get(stage or "", "value")
    library = load_library()
    ranked = rank(
        library.group(flow, group), persona.scenario, {"address": persona.name}, [], set()
    )
    lines = "\n".join(f"{i}. {text}" for i, (_, _, text) in enumerate(ranked[:2], 1))
    return _reply(persona, state, [Message("roleplay_hint", {"lines": lines})])


def _covered(state: RoleplayState, stage: str) -> bool:
    if stage == "implication":
        return state.landed
    if stage == "need":
        return state.need_stated
    return bool(state.revealed.get(stage))


def end_roleplay(store: CardStore, turn: Turn) -> Reply:
    state = _state(turn)
    if state is None:
        return base_reply(turn, [Message("roleplay_not_running")])
    persona = load_personas()[state.persona]
    card = _finish(store, turn, persona, state)
    state.outcome = state.outcome or "ended"
    return _reply(
        persona, state, [Message("roleplay_scorecard", {"scorecard": card.render()})], card
    )


Handler = Callable[[CardStore, Turn], Reply]


def takes_over(turn: Turn) -> Handler | None:
    """The role-play handler for this turn, if a role-play is running."""
    if turn.mode != "roleplay" or _state(turn) is None:
        return None
    return {
        "end_session": end_roleplay,
        "next_step": hint,
        "start_roleplay": start_roleplay,
    }.get(turn.intent, None if turn.intent in COMMANDS else advisor_line)
