"""Role-play turns: start a persona, answer in character, hint, score, list tasks.

Each handler is the action Rasa predicted for the turn (data/rules/roleplay.yml
routes on the `mode` slot these handlers set): a trainee's line to the client,
a request for a hint, the end of the role-play. Nothing here re-routes a turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.cards.models import Roleplay
from bot.cards.store import CardStore
from bot.cards.turns import base_reply, intent_payload
from bot.clock import utcnow
from bot.flows.engine import rank
from bot.flows.scripts import load_library
from bot.paths import project_root
from bot.replies import Button, Message, Reply, Wording, parse_wording
from bot.roleplay.personas import Persona, load_personas, load_rules
from bot.roleplay.scoring import Scorecard, score, simulator_for
from bot.roleplay.simulator import RoleplayState, start
from bot.roleplay.stages import FlowStages, load_stages
from bot.roleplay.trainer import Task, open_tasks
from bot.turn import MODE, ROLEPLAY_STATE, Turn

WORDING_FILE = Path("data/roleplay/replies.yml")
HINT_LINES = 2
# Words that pick a persona when starting (besides its name, title and id).
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


@cache
def load_wording() -> Wording:
    return parse_wording(project_root() / WORDING_FILE)


@dataclass(frozen=True)
class RoleplayMessage(Message):
    """A message worded in data/roleplay/replies.yml, the role-play's own file."""

    def text(self, seed: str = "") -> str:
        return load_wording().render(self.key, self.variables, seed)


def _state(turn: Turn) -> RoleplayState | None:
    data = turn.slots.get(ROLEPLAY_STATE)
    return RoleplayState.from_dict(data) if isinstance(data, dict) else None


def choose_persona(store: CardStore, turn: Turn) -> tuple[Persona, Task | None]:
    """The persona the trainee named; else their earliest open assignment; else the
    next one they have not practised. The assignment is returned when it decided."""
    personas = load_personas()
    chosen = turn.entity("option")
    for persona in personas.values():
        if chosen == persona.id or any(
            key in turn.text for key in (persona.name, persona.title, persona.id)
        ):
            return persona, None
    for word, persona_id in sorted(PERSONA_HINTS.items(), key=lambda kv: -len(kv[0])):
        if word in turn.text and persona_id in personas:
            return personas[persona_id], None
    assigned = open_tasks(store.session, turn.advisor.id)
    if assigned:
        return assigned[0].persona, assigned[0]
    done = store.session.scalar(
        select(func.count()).select_from(Roleplay).where(Roleplay.advisor_id == turn.advisor.id)
    )
    ordered = sorted(personas)
    return personas[ordered[int(done or 0) % len(ordered)]], None


def _coverage(stages: FlowStages, state: RoleplayState) -> dict[str, bool]:
    return {stage_id: stage_id in state.covered for stage_id in stages.ids}


def _payload(persona: Persona, state: RoleplayState, card: Scorecard | None) -> dict[str, Any]:
    stages = load_stages()[persona.flow]
    rules = load_rules()
    return {
        "persona": persona.id,
        "name": persona.name,
        "title": persona.title,
        "flow": persona.flow,
        "trust": state.trust,
        "band": rules.band(state.trust),
        "stages": [
            {"id": s.id, "title": s.title, "covered": s.id in state.covered} for s in stages.stages
        ],
        "coverage": _coverage(stages, state),
        "pass_mark": rules.pass_mark(persona.scenario),
        "outcome": state.outcome,
        "scorecard": card.to_dict() if card else None,
    }


def _reply(
    turn: Turn,
    persona: Persona,
    state: RoleplayState,
    messages: list[Message],
    card: Scorecard | None = None,
) -> Reply:
    running = not state.ended
    # After a role-play the mode is idle even if a reception was open before it:
    # a relayed client signal still finds that reception (bot/flows/turns.py
    # sets its mode again), and the dialogue rules only need to know whether a
    # role-play runs.
    mode = "roleplay" if running else "idle"
    reply = Reply(messages=messages, mode=mode)
    reply.roleplay = _payload(persona, state, card)
    reply.slots[MODE] = mode
    reply.slots[ROLEPLAY_STATE] = state.to_dict() if running else None
    return reply


def start_roleplay(store: CardStore, turn: Turn) -> Reply:
    persona, task = choose_persona(store, turn)
    state = start(persona)
    state.started_at = utcnow().isoformat(timespec="seconds")
    messages: list[Message] = []
    if task is not None:
        due = f"{task.assignment.due_on.month}月{task.assignment.due_on.day}日"
        messages.append(RoleplayMessage("roleplay_assigned_first", {"due": due}))
    messages.append(
        Message(
            "roleplay_started",
            {"title": persona.title, "name": persona.name, "profile": persona.profile},
        )
    )
    messages.append(Message("roleplay_client", {"name": persona.name, "line": persona.opening}))
    return _reply(turn, persona, state, messages)


def _finish(store: CardStore, turn: Turn, persona: Persona, state: RoleplayState) -> Scorecard:
    lines = state.advisor_lines()
    card = score(persona, load_rules(), load_library(), lines)
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
    """One line from the trainee to the role-play client."""
    state = _state(turn)
    if state is None:
        return base_reply(turn, [Message("roleplay_not_running")])
    persona = load_personas()[state.persona]
    answer = simulator_for(persona, load_rules(), load_library()).respond(
        state, turn.intent, turn.text
    )
    messages = [Message("roleplay_client", {"name": persona.name, "line": answer})]
    card = None
    if state.ended:
        card = _finish(store, turn, persona, state)
        messages.append(Message("roleplay_scorecard", {"scorecard": card.render()}))
    return _reply(turn, persona, state, messages, card)


def hint(store: CardStore, turn: Turn) -> Reply:
    """Lines from the script library for the stage named, else the first stage not
    covered, else what comes after the stages (value until the need is met, then a hook)."""
    state = _state(turn)
    if state is None:
        return base_reply(turn, [Message("roleplay_not_running")])
    persona = load_personas()[state.persona]
    stages = load_stages()[persona.flow]
    stage = stages.named_in(turn.text) or next(
        (s for s in stages.stages if s.id not in state.covered), None
    )
    if stage is not None:
        group, title = stage.hint, stage.title
    else:
        later = stages.then
        group = later[-1] if state.value_turn is not None else later[0]
        title = group
    ranked = rank(
        load_library().group(persona.flow, group),
        persona.scenario,
        {"address": persona.name},
        [],
        set(),
    )
    lines = "\n".join(f"{i}. {text}" for i, (_, _, text) in enumerate(ranked[:HINT_LINES], 1))
    message = RoleplayMessage("roleplay_hint_stage", {"stage": title, "lines": lines})
    return _reply(turn, persona, state, [message])


def end_roleplay(store: CardStore, turn: Turn) -> Reply:
    state = _state(turn)
    if state is None:
        return base_reply(turn, [Message("roleplay_not_running")])
    persona = load_personas()[state.persona]
    card = _finish(store, turn, persona, state)
    state.outcome = state.outcome or "ended"
    messages = [Message("roleplay_scorecard", {"scorecard": card.render()})]
    return _reply(turn, persona, state, messages, card)


def tasks(store: CardStore, turn: Turn) -> Reply:
    """我的陪练任务: the trainee's open assignments, each with a button to start it."""
    pending = open_tasks(store.session, turn.advisor.id)
    if not pending:
        return base_reply(turn, [RoleplayMessage("roleplay_tasks_none")])
    lines = []
    buttons = []
    for index, task in enumerate(pending, 1):
        if task.attempts:
            status = load_wording().render(
                "roleplay_task_tried",
                {"attempts": task.attempts, "best": task.best, "pass_mark": task.pass_mark},
            )
        else:
            status = load_wording().render("roleplay_task_new", {})
        if task.overdue:
            status = load_wording().render("roleplay_task_overdue", {"status": status})
        due = task.assignment.due_on
        variables = {"index": index, "title": task.persona.title, "name": task.persona.name,
                     "due": f"{due.month}月{due.day}日", "status": status}  # fmt: skip
        lines.append(load_wording().render("roleplay_task_line", variables))
        title = load_wording().render("roleplay_task_button", {"name": task.persona.name})
        buttons.append(Button(title, intent_payload("start_roleplay", option=task.persona.id)))
    message = RoleplayMessage("roleplay_tasks", {"lines": "\n".join(lines)}, tuple(buttons))
    return base_reply(turn, [message])
