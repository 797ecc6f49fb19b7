"""What the durable tracker stores share: the event cap, the read cache, safe saves.

Each save writes the whole conversation state (see :mod:`bot.trackers.snapshot`)
under a fresh random version. Each read asks the backend for the version and
gets the document only if it differs from the one this process has cached, so
an advisor whose turns keep landing on the same replica costs one small query
and no parsing; a conversation another replica has moved on is parsed once.

Several replicas can write the same conversation. The lock store
(:mod:`bot.locks`) lets only one turn of a conversation run at a time, so
normally each save follows the read it is based on. If that ever fails (a turn
outlived its lock, a replica stalled past its lease), the save names the
version it read and the backend refuses it when someone else has written since:
the late turn's changes are lost, :class:`ConversationConflict` is raised (Rasa
logs it), and the newer state stays instead of being silently overwritten.
A tracker Rasa creates itself carries no version and is only written if the
conversation is not stored yet, so a read that failed for a moment (Rasa then
starts a new conversation) cannot wipe a reception in progress either. A stored
document this code cannot read comes back as a new tracker that replaces it.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException

from bot.trackers.snapshot import Snapshot, SnapshotError

logger = logging.getLogger(__name__)

DEFAULT_MAX_EVENTS = 20
# Conversations whose parsed state a process keeps, most recent first: about 80 kB
# each at 20 copilot events, so at most about 80 MB per process.
DEFAULT_CACHE_SIZE = 1000
# Where a tracker read from the store keeps the version it was read at.
VERSION_ATTRIBUTE = "_copilot_store_version"


class ConversationConflict(RasaException):
    """Someone else saved the conversation after this tracker was read."""


def new_version() -> str:
    return secrets.token_hex(8)


def cap(tracker: DialogueStateTracker, limit: int) -> None:
    """Keep the tracker's last ``limit`` events, led by the slot values they do not set.

    Every rule looks at the current turn only, while every prediction walks the
    whole history and every action call sends it, so a short one (two turns of
    at most ten events each) keeps turns fast. But Rasa rebuilds trackers by
    replaying their events (each action runs on ``tracker.copy()``, predictions
    replay every prior state), so a slot whose SlotSet fell off would reach the
    action server empty: each slot that is set but not set within the kept
    events is carried as a SlotSet at their head, at most one per slot.

    The deque stays unbounded, so events a turn adds do not push the carried
    slots out before the next save caps again.
    """
    events = list(tracker.events)
    if len(events) <= limit and tracker.events.maxlen is None:
        return
    kept = events[-limit:]
    set_in_kept = {event.key for event in kept if isinstance(event, SlotSet)}
    since = kept[0].timestamp if kept else time.time()
    carried: list[Event] = [
        SlotSet(name, slot.value, timestamp=since)
        for name, slot in tracker.slots.items()
        if slot.has_been_set and name not in set_in_kept
    ]
    tracker._max_event_history = None
    tracker.events = tracker._create_events(carried + kept)


class DurableTrackerStore(TrackerStore):
    """A tracker store whose backend keeps one versioned JSON document per conversation.

    Subclasses implement :meth:`_fetch`, :meth:`_write` and :meth:`_senders`.
    """

    def __init__(
        self,
        domain: Domain | None,
        event_broker: EventBroker | None = None,
        max_event_history: int = DEFAULT_MAX_EVENTS,
        cache_size: int = DEFAULT_CACHE_SIZE,
        **kwargs: Any,
    ) -> None:
        super().__init__(domain, event_broker, **kwargs)
        # Kept apart from `max_event_history`, which Rasa resets to None on
        # every get_or_create_tracker call.
        self.event_limit = int(max_event_history)
        self.cache_size = int(cache_size)
        self._cache: OrderedDict[str, Snapshot] = OrderedDict()

    async def _fetch(self, sender_id: str, known_version: str) -> tuple[str, Any] | None:
        """The stored version and, unless it equals ``known_version``, the document.

        None when the conversation is not stored; the document is None when the
        version is the known one.
        """
        raise NotImplementedError

    async def _write(
        self, sender_id: str, document: str, version: str, expected: str | None
    ) -> bool:
        """Store ``document`` as ``version`` if the stored version is ``expected``
        (None: if nothing is stored); else write nothing and return False."""
        raise NotImplementedError

    async def _senders(self) -> Iterable[str]:
        raise NotImplementedError

    def _remember(self, sender_id: str, snapshot: Snapshot) -> None:
        self._cache[sender_id] = snapshot
        self._cache.move_to_end(sender_id)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        cap(tracker, self.event_limit)
        snapshot = Snapshot.of(tracker, new_version())
        expected = getattr(tracker, VERSION_ATTRIBUTE, None)
        sender_id = tracker.sender_id
        if not await self._write(sender_id, snapshot.dumps(), snapshot.version, expected):
            self._cache.pop(sender_id, None)
            raise ConversationConflict(
                f"conversation '{sender_id}' was saved by another turn after this one read "
                f"it (version {expected}); this turn's changes were not saved"
                if expected
                else f"conversation '{sender_id}' is already stored; a new tracker "
                "does not replace it"
            )
        setattr(tracker, VERSION_ATTRIBUTE, snapshot.version)
        self._remember(sender_id, snapshot)

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        cached = self._cache.get(sender_id)
        found = await self._fetch(sender_id, cached.version if cached else "")
        if found is None:
            self._cache.pop(sender_id, None)
            return None
        version, document = found
        if document is None and cached is not None and cached.version == version:
            snapshot = cached
        else:
            try:
                snapshot = Snapshot.loads(version, document)
            except SnapshotError as error:
                logger.warning("Conversation '%s' starts over: %s", sender_id, error)
                tracker = self.init_tracker(sender_id)
                setattr(tracker, VERSION_ATTRIBUTE, version)  # its save replaces the document
                return tracker
        self._remember(sender_id, snapshot)
        tracker = snapshot.tracker(sender_id, self.domain.slots)
        setattr(tracker, VERSION_ATTRIBUTE, version)
        return tracker

    async def keys(self) -> Iterable[str]:
        return await self._senders()
