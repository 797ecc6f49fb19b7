"""What the Rasa server sends the action server: the conversation's state and the
events of the current turn, not the whole kept history.

Rasa's ``RemoteAction._action_call_format`` puts every kept event into every
action call (``tracker.current_state(EventVerbosity.ALL)``): about 13 kB of JSON
for a conversation at the 20-event cap, encoded by the Rasa server and decoded
by the action server on every turn, though the copilot's actions read only the
sender, the slots and the latest message (``actions/adapter.py``), which the
tracker state carries besides its events. Measured with py-spy at 16 advisors,
encoding the call was 6 % of the Rasa server's CPU a turn.

The call keeps the events from the latest ``action_listen`` on: the message
being answered and whatever the turn's actions did since. That is what
rasa-sdk's own helpers read from ``tracker.events`` (a form's
``slots_to_validate`` looks back to that ``action_listen``), so an action written
against rasa-sdk's documented API still finds its turn there. Everything else in
the call (slots, latest message, latest action, active loop, the domain rule of
``enable_selective_domain``) is Rasa's own.
"""

from __future__ import annotations

from collections.abc import Reversible
from typing import Any

import rasa
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity


def current_turn(events: Reversible[Event]) -> list[Event]:
    """The events from the latest ``action_listen`` on (all of them if there is none)."""
    turn = []
    for event in reversed(events):
        turn.append(event)
        if isinstance(event, ActionExecuted) and event.action_name == ACTION_LISTEN_NAME:
            break
    turn.reverse()
    return turn


def action_call(action: RemoteAction, tracker: DialogueStateTracker, domain: Domain) -> dict:
    """``RemoteAction._action_call_format`` with the current turn's events only."""
    state = tracker.current_state(EventVerbosity.NONE)
    state["events"] = [event.as_dict() for event in current_turn(tracker.events)]
    call: dict[str, Any] = {
        "next_action": action.name(),
        "sender_id": tracker.sender_id,
        "tracker": state,
        "version": rasa.__version__,
    }
    if (
        not action._is_selective_domain_enabled()
        or domain.does_custom_action_explicitly_need_domain(action.name())
    ):
        call["domain"] = domain.as_dict()
    return call


def install_current_turn_calls() -> None:
    """Make every action call carry the current turn's events only (once per process)."""
    original = RemoteAction._action_call_format
    if getattr(original, "_copilot_turn", False):
        return

    def _action_call_format(self: RemoteAction, tracker: Any, domain: Any) -> dict:
        return action_call(self, tracker, domain)

    _action_call_format._copilot_turn = True  # type: ignore[attr-defined]
    _action_call_format._copilot_original = original  # type: ignore[attr-defined]
    RemoteAction._action_call_format = _action_call_format
