"""Follow-up actions: the lists (today, birthdays, overdue complaints), done, postpone."""

from __future__ import annotations

from actions.adapter import CopilotAction
from bot.cards.store import CardStore
from bot.followups import turns
from bot.replies import Reply
from bot.turn import Turn


class ActionFollowupToday(CopilotAction):
    action_name = "action_followup_today"

    def handle(self, store: CardStore, turn: Turn) -> Reply:
        return turns.list_today(store, turn)


class ActionFollowupBirthdays(CopilotAction):
    action_name = "action_followup_birthdays"

    def handle(self, store: CardStore, turn: Turn) -> Reply:
        return turns.list_birthdays(store, turn)


class ActionFollowupOverdue(CopilotAction):
    action_name = "action_followup_overdue"

    def handle(self, store: CardStore, turn: Turn) -> Reply:
        return turns.list_overdue_complaints(store, turn)


class ActionFollowupDone(CopilotAction):
    action_name = "action_followup_done"

    def handle(self, store: CardStore, turn: Turn) -> Reply:
        return turns.mark_done(store, turn)


class ActionFollowupPostpone(CopilotAction):
    action_name = "action_followup_postpone"

    def handle(self, store: CardStore, turn: Turn) -> Reply:
        return turns.postpone_task(store, turn)
