"""A tracker's state as one JSON document, and back, without replaying events.

Rasa's own stores save the event list and rebuild a tracker by replaying every
event. Here the document holds the kept events *and* the state they led to
(slot values, latest message and action, pause, active loop), and a tracker is
rebuilt by setting that state directly: what comes back is exactly what was
saved, with no replay.

Encoding is the expensive part of a save: each event keeps its JSON once
encoded, so a save encodes only the turn's new events.
Parsing events is the expensive part of a read. Rasa finds each event's class
by walking every subclass of ``Event`` (about 0.1 ms per event); the class is
looked up once per type name here instead, and a :class:`Snapshot` holds the
parsed events so an unchanged conversation is never parsed twice (see
:mod:`bot.trackers.store`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import ujson
from rasa.shared.core.events import BotUttered, Event, UserUttered
from rasa.shared.core.slots import Slot
from rasa.shared.core.trackers import DialogueStateTracker, TrackerActiveLoop

FORMAT = 1
# Where an event keeps its encoded JSON (see _event_json).
_ENCODED = "_copilot_json"

_EVENT_CLASSES: dict[str, type[Event]] = {}

E = TypeVar("E", bound=Event)


class SnapshotError(ValueError):
    """A stored document that is not a tracker state this code can read."""


def _event_class(type_name: str) -> type[Event]:
    known = _EVENT_CLASSES.get(type_name)
    if known is None:
        known = Event.resolve_by_type(type_name)  # raises ValueError for unknown names
        assert known is not None  # no default given: unknown names raise instead
        _EVENT_CLASSES[type_name] = known
    return known


def parse_events(data: Iterable[dict[str, Any]]) -> list[Event]:
    """Events from their ``as_dict`` forms, as Rasa's ``deserialise_events`` makes them."""
    parsed = []
    for item in data:
        event = _event_class(item["event"])._from_parameters(item)
        if event is not None:
            parsed.append(event)
    return parsed


@dataclass(frozen=True)
class Snapshot:
    """A conversation's state at one version: capped events and what they led to.

    The events are shared with the trackers built from the snapshot; Rasa
    appends events to a tracker and never changes one already logged.
    """

    version: str
    events: tuple[Event, ...]
    slots: dict[str, Any]
    # An event of ``events`` (by identity), an event that fell off the cap, or None.
    latest_message: UserUttered | None
    latest_bot_utterance: BotUttered | None
    latest_action: dict[str, Any] | None
    followup_action: str | None
    paused: bool
    active_loop: dict[str, Any] | None
    assistant_id: str | None

    @classmethod
    def of(cls, tracker: DialogueStateTracker, version: str) -> Snapshot:
        """The tracker's current state (its events as they are: cap them first)."""
        loop = tracker.active_loop
        return cls(
            version=version,
            events=tuple(tracker.events),
            # Only slots that were set: the rest keep the domain's initial value.
            slots={name: slot.value for name, slot in tracker.slots.items() if slot.has_been_set},
            latest_message=tracker.latest_message,
            latest_bot_utterance=tracker.latest_bot_utterance,
            latest_action=_copy(tracker.latest_action),
            followup_action=tracker.followup_action,
            paused=tracker.is_paused(),
            active_loop=dataclasses.asdict(loop) if loop else None,
            assistant_id=tracker.assistant_id,
        )

    def dumps(self) -> str:
        """The JSON document stored for this version."""
        position = {id(event): index for index, event in enumerate(self.events)}

        def reference(event: Event | None) -> int | dict[str, Any] | None:
            if event is None:
                return None
            index = position.get(id(event))
            return index if index is not None else event.as_dict()

        document = {
            "format": FORMAT,
            "slots": self.slots,
            "latest_message": reference(self.latest_message),
            "latest_bot_utterance": reference(self.latest_bot_utterance),
            "latest_action": self.latest_action,
            "followup_action": self.followup_action,
            "paused": self.paused,
            "active_loop": self.active_loop,
            "assistant_id": self.assistant_id,
        }
        events = ",".join(_event_json(event) for event in self.events)
        return '{"events":[' + events + "]," + _json(document)[1:]

    @classmethod
    def loads(cls, version: str, text: str | bytes) -> Snapshot:
        """The snapshot a stored document describes."""
        try:
            document = json.loads(text)
            if document.get("format") != FORMAT:
                raise SnapshotError(f"unknown tracker document format {document.get('format')!r}")
            events = tuple(parse_events(document["events"]))
            return cls(
                version=version,
                events=events,
                slots=document["slots"],
                latest_message=_resolve(document["latest_message"], events, UserUttered),
                latest_bot_utterance=_resolve(document["latest_bot_utterance"], events, BotUttered),
                latest_action=document["latest_action"],
                followup_action=document["followup_action"],
                paused=bool(document["paused"]),
                active_loop=document["active_loop"],
                assistant_id=document["assistant_id"],
            )
        except SnapshotError:
            raise
        except (ValueError, KeyError, IndexError, TypeError) as error:
            raise SnapshotError(f"unreadable tracker document: {error}") from error

    def tracker(self, sender_id: str, slots: Sequence[Slot]) -> DialogueStateTracker:
        """A new tracker in this state; changing it leaves the snapshot as it is."""
        tracker = DialogueStateTracker(sender_id, slots)
        tracker.events = tracker._create_events(list(self.events))
        for name, value in self.slots.items():
            if name in tracker.slots:  # a slot the current domain no longer has is dropped
                tracker.slots[name].value = value
        tracker.latest_message = self.latest_message
        tracker.latest_bot_utterance = self.latest_bot_utterance
        tracker.latest_action = _copy(self.latest_action)
        tracker.followup_action = self.followup_action
        tracker._paused = self.paused
        tracker.active_loop = TrackerActiveLoop(**self.active_loop) if self.active_loop else None
        tracker.assistant_id = self.assistant_id
        return tracker


def _json(value: Any) -> str:
    # ujson: the same JSON as the standard library's in half the time, every turn.
    return ujson.dumps(value, ensure_ascii=False)


def _event_json(event: Event) -> str:
    """The event's JSON, encoded once: a conversation's events are saved again with
    every turn while only the newest few are new (a logged event never changes)."""
    encoded: str | None = event.__dict__.get(_ENCODED)
    if encoded is None:
        encoded = _json(event.as_dict())
        event.__dict__[_ENCODED] = encoded
    return encoded


def _copy(action: dict[str, Any] | None) -> dict[str, Any] | None:
    return dict(action) if action is not None else None


def _resolve(
    reference: int | dict[str, Any] | None, events: Sequence[Event], kind: type[E]
) -> E | None:
    """The event a document's reference names: an index into its events, or one of its own."""
    if reference is None:
        return None
    event = events[reference] if isinstance(reference, int) else parse_events([reference])[0]
    if not isinstance(event, kind):
        raise SnapshotError(f"expected a {kind.__name__} event, found {type(event).__name__}")
    return event
