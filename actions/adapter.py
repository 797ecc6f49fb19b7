"""Turns a Rasa tracker into a :class:`bot.turn.Turn` and a Reply back into events.

This is the only place that knows both rasa-sdk and the domain code: handlers
in ``bot`` stay testable without an action server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.advisors import UNKNOWN_ADVISOR, AdvisorIdentity, identity
from bot.cards import audit
from bot.cards.db import session_scope
from bot.cards.store import CardStore
from bot.replies import Reply
from bot.turn import (
    ACTIVE_CLIENT,
    AWAITING,
    FLOW_STATE,
    FLOW_STEP,
    MODE,
    PENDING,
    ROLEPLAY_STATE,
    Turn,
)

Handler = Callable[[CardStore, Turn], Reply]
TRACKED_SLOTS = (ACTIVE_CLIENT, MODE, FLOW_STEP, AWAITING, PENDING, FLOW_STATE, ROLEPLAY_STATE)
# A question the copilot asked lasts one turn: whatever comes next answers it or
# moves on, so these are cleared unless the reply asks again.
QUESTION_SLOTS = (AWAITING, PENDING)


def turn_from_tracker(tracker: Tracker, advisor_lookup: Callable[[str], Any]) -> Turn:
    """The turn; the advisor is the one the channel attached, else looked up by sender."""
    message = tracker.latest_message or {}
    advisor = AdvisorIdentity.from_metadata(message.get("metadata"), tracker.sender_id)
    return Turn(
        text=str(message.get("text") or ""),
        intent=str((message.get("intent") or {}).get("name") or ""),
        entities=tuple(message.get("entities") or ()),
        advisor=advisor or advisor_lookup(tracker.sender_id) or UNKNOWN_ADVISOR,
        slots={name: tracker.get_slot(name) for name in TRACKED_SLOTS},
    )


def settle_question(turn: Turn, reply: Reply) -> None:
    """Clear a question that this reply neither answered again nor re-asked."""
    for name in QUESTION_SLOTS:
        if turn.slots.get(name) is not None and name not in reply.slots:
            reply.slots[name] = None


def dispatch(reply: Reply, dispatcher: CollectingDispatcher, seed: str) -> list[EventType]:
    """One bot message per turn: the texts joined, any buttons, and the payload.

    One message reads as one unit on every channel (WeCom pushes each message
    separately), and keeps the conversation history Rasa walks every turn short.
    """
    dispatcher.utter_message(
        text="\n\n".join(message.text(seed) for message in reply.messages),
        buttons=[b.to_dict() for message in reply.messages for b in message.buttons],
        json_message=reply.payload(),
    )
    return [SlotSet(name, value) for name, value in reply.slots.items()]


class CopilotAction(Action):
    """Runs one domain handler inside one database transaction."""

    action_name = ""

    def name(self) -> str:
        return self.action_name

    def handle(self, store: CardStore, turn: Turn) -> Reply:
        raise NotImplementedError

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        with session_scope() as session:
            turn = turn_from_tracker(tracker, lambda sender: identity(session, sender))
            reply = self.handle(CardStore(session), turn)
            if reply.client is not None:
                # A card shown to an advisor is a read of the client's data (bot.cards.audit).
                audit.record(session, turn.advisor, reply.client.id, "read", self.name())
        settle_question(turn, reply)
        return dispatch(reply, dispatcher, turn.text)
