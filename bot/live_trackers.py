"""A tracker store for the copilot's Rasa server: live objects, bounded history.

Rasa's InMemoryTrackerStore serialises every conversation to JSON on each save
and rebuilds it event by event on each retrieve, so an advisor's turn gets
slower the longer they have used the copilot that day. Advisors keep one
conversation open all day, so this store keeps the tracker object itself, with
its event history capped (slot values are state of the tracker, not replayed
from events, so nothing is lost when old events fall off). Every rule looks at
the current turn only, while every prediction walks the whole history and every
action call sends it, so a short one (20 events, two turns of at most ten
events each) keeps turns fast.

It also compiles the JSON schema Rasa checks every action-server answer against
once, instead of re-validating the schema itself on every action call.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rasa.core.actions.action import RemoteAction
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

DEFAULT_MAX_EVENTS = 20


def install_compiled_action_validation() -> None:
    """Validate action responses with one precompiled validator (same schema, same errors)."""
    from jsonschema import validators
    from jsonschema.exceptions import best_match

    if getattr(RemoteAction, "_copilot_compiled_validation", False):
        return
    spec = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(spec)
    validator_class.check_schema(spec)
    validator = validator_class(spec)
    original = RemoteAction._validate_action_result

    def validate(self: RemoteAction, result: dict[str, Any]) -> bool:
        if best_match(validator.iter_errors(result)) is None:
            return True
        return bool(original(self, result))  # raises with Rasa's own message

    RemoteAction._validate_action_result = validate
    RemoteAction._copilot_compiled_validation = True


class LiveTrackerStore(TrackerStore):
    """Trackers kept as objects in this process; each holds its last N events."""

    def __init__(
        self,
        domain: Domain,
        host: str | None = None,
        event_broker: EventBroker | None = None,
        max_event_history: int = DEFAULT_MAX_EVENTS,
        **kwargs: Any,
    ) -> None:
        super().__init__(domain, event_broker, **kwargs)
        # Kept apart from `max_event_history`, which Rasa resets to None on
        # every get_or_create_tracker call.
        self.event_limit = int(max_event_history)
        self._trackers: dict[str, DialogueStateTracker] = {}
        install_compiled_action_validation()

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        if tracker.events.maxlen != self.event_limit:
            tracker._max_event_history = self.event_limit
            tracker.events = tracker._create_events(list(tracker.events)[-self.event_limit :])
        self._trackers[tracker.sender_id] = tracker

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        return self._trackers.get(sender_id)

    async def retrieve_full_tracker(self, conversation_id: str) -> DialogueStateTracker | None:
        return self._trackers.get(conversation_id)

    async def keys(self) -> Iterable[str]:
        return list(self._trackers)
