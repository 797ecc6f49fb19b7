"""Role-play actions: start a persona, and the advisor's questions and pitches."""

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
    """The advisor's own questions and pitches (ask_*, pitch_product)."""

    action_name = "action_roleplay_turn"

    def handle(self, store: CardStore, turn: Turn) -> Reply:
        return turns.advisor_line(store, turn)
