"""The sequential graph runner predicts exactly what Rasa's dask runner predicts."""

from __future__ import annotations

from typing import Any

import pytest
from rasa.engine.constants import PLACEHOLDER_TRACKER
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.graph_runner import SequentialGraphRunner

pytestmark = pytest.mark.model


def tracker_after(rasa_agent: Any, intent: str, mode: str | None) -> DialogueStateTracker:
    domain = rasa_agent.processor.domain
    tracker = DialogueStateTracker("A001", domain.slots)
    tracker.update(ActionExecuted("action_listen"))
    if mode:
        tracker.update(SlotSet("mode", mode))
    tracker.update(UserUttered("…", {"name": intent, "confidence": 0.99}))
    return tracker


def test_core_predictions_match_dask(rasa_agent: Any) -> None:
    processor = rasa_agent.processor
    dask = processor.graph_runner
    sequential = SequentialGraphRunner.replacing(dask)
    target = [processor.model_metadata.core_target]
    compared = 0
    for intent in processor.domain.intents:
        for mode in (None, "reception", "roleplay"):
            inputs = {PLACEHOLDER_TRACKER: tracker_after(rasa_agent, intent, mode)}
            expected = dask.run(inputs=inputs, targets=target)[target[0]]
            got = sequential.run(inputs=inputs, targets=target)[target[0]]
            assert got.probabilities == pytest.approx(expected.probabilities), (intent, mode)
            assert got.policy_name == expected.policy_name
            compared += 1
    assert compared >= 24 * 3
