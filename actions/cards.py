"""Card actions: lookup, create, record a preference."""

from __future__ import annotations

from actions.adapter import CopilotAction
from bot.cards import turns
from bot.cards.store import CardStore
from bot.replies import Reply
from bot.turn import Turn


class ActionLookupClient(CopilotAction):
    action_name = "action_lookup_client"

    def handle(self, store: CardStore, turn: Turn) -> Reply:
        return turns.lookup_client(store, turn)


class ActionCreateClient(CopilotAction):
    action_name = "action_create_client"

    def handle(self, store: CardStore, turn: Turn) -> Reply:
        return turns.create_client(store, turn)


class ActionRecordPreference(CopilotAction):
    action_name = "action_record_preference"

    def handle(self, store: CardStore, turn: Turn) -> Reply:
        return turns.record_preference(store, turn)
