"""The Rasa server's tracker store: bounded history, slots kept."""

from __future__ import annotations

import asyncio

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.live_trackers import LiveTrackerStore
from bot.paths import project_root


def test_history_is_capped_and_slots_survive() -> None:
    domain = Domain.load(str(project_root() / "domain"))
    store = LiveTrackerStore(domain, max_event_history=20)
    tracker = DialogueStateTracker("A001", domain.slots)
    tracker.update(SlotSet("active_client_id", "C0001"))  # the oldest event
    for turn in range(15):
        tracker.update(UserUttered(f"第{turn}句", {"name": "greet", "confidence": 1.0}))
        tracker.update(ActionExecuted("action_chat"))
        tracker.update(ActionExecuted("action_listen"))

    asyncio.run(store.save(tracker))
    kept = asyncio.run(store.retrieve("A001"))

    assert kept is not None and len(kept.events) == 20
    assert kept.latest_message is not None and kept.latest_message.text == "第14句"
    # The SlotSet fell off the history; the slot's value did not.
    assert not any(isinstance(e, SlotSet) for e in kept.events)
    assert kept.get_slot("active_client_id") == "C0001"
    assert asyncio.run(store.retrieve("A002")) is None
