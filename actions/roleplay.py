"""Role-play actions: start a persona, the trainee's lines, hints, the end, tasks.

Rasa picks each of these by rules on the `mode` slot (data/rules/roleplay.yml),
so the action in the test stories is the action that runs.
"""

from __future__ import annotations

from actions.adapter import CopilotAction
from bot.cards.store import CardStore
from bot.replies import Reply
from bot.roleplay import turns
from bot.turn import Turn


class ActionStartRoleplay(CopilotAction):
    action_name = "action_start_roleplay"

    def handle(self, store: CardStore, turn: Turn) -> Reply:
        return turns.start_roleplay(store, turn)


class ActionRoleplayTurn(CopilotAction):
    """Whatever the trainee says to the simulated client while a role-play runs."""

    action_name = "action_roleplay_turn"

    def handle(self, store: CardStore, turn: Turn) -> Reply:
        return turns.advisor_line(store, turn)


class ActionRoleplayHint(CopilotAction):
    """给我提示 / 下一句说啥 during a role-play: lines for the stage at hand."""

    action_name = "action_roleplay_hint"

    def handle(self, store: CardStore, turn: Turn) -> Reply:
        return turns.hint(store, turn)


class ActionEndRoleplay(CopilotAction):
    action_name = "action_end_roleplay"

    def handle(self, store: CardStore, turn: Turn) -> Reply:
        return turns.end_roleplay(store, turn)


class ActionRoleplayTasks(CopilotAction):
    """我的陪练任务: the role-plays a trainer assigned."""

    action_name = "action_roleplay_tasks"

    def handle(self, store: CardStore, turn: Turn) -> Reply:
        return turns.tasks(store, turn)
