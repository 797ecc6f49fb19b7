"""Greeting, help, goodbye and the fallback: fixed wording, current payload."""

from __future__ import annotations

from actions.adapter import CopilotAction
from bot.cards.card import ClientCard
from bot.cards.store import CardStore
from bot.replies import Message, Reply
from bot.turn import FLOW_STEP, Turn

RESPONSES = {
    "greet": "greet",
    "goodbye": "goodbye",
    "help": "help",
}


class ActionChat(CopilotAction):
    action_name = "action_chat"

    def handle(self, store: CardStore, turn: Turn) -> Reply:
        active = store.get(turn.active_client_id) if turn.active_client_id else None
        return Reply(
            messages=[Message(RESPONSES.get(turn.intent, "default"))],
            mode=turn.mode,
            flow_step=turn.slots.get(FLOW_STEP),
            client=ClientCard.of(active) if active else None,
        )


class ActionDefaultFallback(ActionChat):
    """Rasa's core fallback, replaced so that it too carries the payload."""

    action_name = "action_default_fallback"
