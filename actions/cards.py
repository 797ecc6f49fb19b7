"""Card actions: lookup, create, record, correct, and the answer to a question."""

from __future__ import annotations

from actions.adapter import CopilotAction
from bot import choices
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


class ActionCorrectRecord(CopilotAction):
    action_name = "action_correct_record"

    def handle(self, store: CardStore, turn: Turn) -> Reply:
        return turns.correct_record(store, turn)


class ActionChooseOption(CopilotAction):
    action_name = "action_choose_option"

    def handle(self, store: CardStore, turn: Turn) -> Reply:
        return choices.answer(store, turn)
