"""The sequential graph runner predicts exactly what Rasa's dask runner predicts."""

from __future__ import annotations

from typing import Any

import pytest
from rasa.core.policies.rule_policy import RulePolicy
from rasa.engine.constants import PLACEHOLDER_TRACKER
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.graph_runner import SequentialGraphRunner
from bot.rule_matching import install_rule_memo

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


def test_remembered_rule_matching_predicts_what_rasa_predicts(
    rasa_agent: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bot.rule_matching: every intent in every mode, predicted by Rasa's own rule
    matching, then twice with the memo (the second time from it), agree."""
    processor = rasa_agent.processor
    runner = SequentialGraphRunner.replacing(processor.graph_runner)
    target = [processor.model_metadata.core_target]
    cases = [(i, m) for i in processor.domain.intents for m in (None, "reception", "roleplay")]

    def predictions() -> list[tuple[list[float], str | None]]:
        found = []
        for intent, mode in cases:
            inputs = {PLACEHOLDER_TRACKER: tracker_after(rasa_agent, intent, mode)}
            prediction = runner.run(inputs=inputs, targets=target)[target[0]]
            found.append((prediction.probabilities, prediction.policy_name))
        return found

    expected = predictions()
    monkeypatch.setattr(RulePolicy, "_get_possible_keys", RulePolicy._get_possible_keys)
    install_rule_memo()
    assert predictions() == expected
    policy = next(c for c in runner.components() if isinstance(c, RulePolicy))
    remembered = dict(policy._copilot_rule_memo)
    assert len(remembered) > len(cases) / 2  # states differ by intent
    assert predictions() == expected  # answered from the memo: nothing new to remember
    assert policy._copilot_rule_memo == remembered
