"""Guided-flow actions: reception, client signals, explicit moves, complaints, the summary."""

from __future__ import annotations

from actions.adapter import CopilotAction
from bot.cards.store import CardStore
from bot.flows import turns
from bot.replies import Reply
from bot.turn import Turn


class ActionStartReception(CopilotAction):
    action_name = "action_start_reception"

    def handle(self, store: CardStore, turn: Turn) -> Reply:
        return turns.start_reception(store, turn)


class ActionRelaySignal(CopilotAction):
    """Every relayed client statement (client_situation … client_price_objection)."""

    action_name = "action_relay_signal"

    def handle(self, store: CardStore, turn: Turn) -> Reply:
        return turns.relay_signal(store, turn)


class ActionNextStep(CopilotAction):
    action_name = "action_next_step"

    def handle(self, store: CardStore, turn: Turn) -> Reply:
        return turns.next_step(store, turn)


class ActionJumpStep(CopilotAction):
    action_name = "action_jump_step"

    def handle(self, store: CardStore, turn: Turn) -> Reply:
        return turns.jump_step(store, turn)


class ActionReportComplaint(CopilotAction):
    action_name = "action_report_complaint"

    def handle(self, store: CardStore, turn: Turn) -> Reply:
        return turns.report_complaint(store, turn)


class ActionEndSession(CopilotAction):
    action_name = "action_end_session"

    def handle(self, store: CardStore, turn: Turn) -> Reply:
        return turns.end_session(store, turn)
