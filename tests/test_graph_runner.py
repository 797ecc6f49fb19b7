"""The sequential graph runner predicts exactly what Rasa's dask runner predicts."""

from __future__ import annotations

from typing import Any

import pytest
from rasa.core.policies.rule_policy import RulePolicy
from rasa.engine.constants import PLACEHOLDER_TRACKER
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.graph_runner import SequentialGraphRunner
from bot.rule_matching import install_rule_memo, install_states_memo

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
    monkeypatch.setattr(DialogueStateTracker, "past_states", DialogueStateTracker.past_states)
    install_rule_memo()
    install_states_memo()
    assert predictions() == expected
    policy = next(c for c in runner.components() if isinstance(c, RulePolicy))
    remembered = dict(policy._copilot_rule_memo)
    assert len(remembered) > len(cases) / 2  # states differ by intent
    assert predictions() == expected  # answered from the memo: nothing new to remember
    assert policy._copilot_rule_memo == remembered


def test_remembered_states_are_the_trackers_own_until_an_event_is_added(
    rasa_agent: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bot.rule_matching.install_states_memo: the same states as Rasa works out, for each
    caller to edit as it likes, and new ones once the conversation moves on, also when
    the capped history drops its oldest event for the newest."""
    domain = rasa_agent.processor.domain
    tracker = tracker_after(rasa_agent, "lookup_client", "reception")
    monkeypatch.setattr(DialogueStateTracker, "past_states", DialogueStateTracker.past_states)
    install_states_memo()
    rasa_states = domain.states_for_tracker_history(tracker)
    first = tracker.past_states(domain)
    assert first == rasa_states
    first[-1]["user"].clear()  # what the featurizer does to the last user state
    assert tracker.past_states(domain) == rasa_states  # a fresh copy
    rules_only = {"rule_only_slots": ["awaiting"], "rule_only_loops": []}
    assert tracker.past_states(
        domain, ignore_rule_only_turns=True, rule_only_data=rules_only
    ) == domain.states_for_tracker_history(
        tracker, ignore_rule_only_turns=True, rule_only_data=rules_only
    )
    tracker.update(ActionExecuted("action_lookup_client"))
    moved_on = tracker.past_states(domain)
    assert len(moved_on) == len(rasa_states) + 1
    assert moved_on == domain.states_for_tracker_history(tracker)
    # A history capped at its length: the next event pushes the first one out.
    capped = DialogueStateTracker.from_events(
        "A002", list(tracker.events), domain.slots, max_event_history=len(tracker.events)
    )
    before = capped.past_states(domain)
    capped.update(UserUttered("…", {"name": "goodbye", "confidence": 0.99}))
    assert len(capped.events) == len(tracker.events)
    after = capped.past_states(domain)
    assert after != before
    assert after == domain.states_for_tracker_history(capped)


def test_states_carried_on_over_appended_events_are_rasas(
    rasa_agent: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After each event of three turns (slots, bot messages, actions, a reverted message),
    the states are Rasa's own, with and without unset slots; after an action's events
    they are carried on from the last replay instead of replayed from the first event."""
    from rasa.shared.core.events import BotUttered, UserUtteranceReverted

    domain = rasa_agent.processor.domain
    monkeypatch.setattr(DialogueStateTracker, "past_states", DialogueStateTracker.past_states)
    install_states_memo()
    replays = 0
    generate = DialogueStateTracker.generate_all_prior_trackers

    def counted(self: DialogueStateTracker) -> Any:
        nonlocal replays
        replays += 1
        return generate(self)

    monkeypatch.setattr(DialogueStateTracker, "generate_all_prior_trackers", counted)
    turns = [
        [ActionExecuted("action_lookup_client"), BotUttered("王建国先生"),
         SlotSet("active_client_id", "C0001"), ActionExecuted("action_listen")],
        [UserUttered("记一下他喜欢靠窗", {"name": "record_preference", "confidence": 0.9}),
         ActionExecuted("action_record_preference"), SlotSet("awaiting", "client"),
         BotUttered("记到哪位？"), ActionExecuted("action_listen")],
        [UserUttered("算了", {"name": "deny", "confidence": 0.8}), UserUtteranceReverted(),
         ActionExecuted("action_listen"), SlotSet("mode", "reception")],
    ]  # fmt: skip
    compared = carried = 0
    for omit in (False, True):
        tracker = tracker_after(rasa_agent, "lookup_client", None)
        tracker.past_states(domain, omit_unset_slots=omit)
        for event in [event for turn in turns for event in turn]:
            tracker.update(event)
            replays_before = replays
            got = tracker.past_states(domain, omit_unset_slots=omit)
            expected = domain.states_for_tracker_history(tracker, omit_unset_slots=omit)
            assert got == expected, (event, omit)
            got[-1].clear()  # callers edit what they get; the memo keeps its own
            assert tracker.past_states(domain, omit_unset_slots=omit) == expected
            # Rasa's own replay, for the comparison, is counted too.
            appended = isinstance(event, (ActionExecuted, SlotSet, BotUttered))
            assert replays - replays_before == (1 if appended else 2), event
            compared += 1
            carried += appended
    assert compared == 2 * sum(len(turn) for turn in turns) and carried == 2 * 10
