"""Rasa's rule matching, remembered by conversation state.

Every prediction, RulePolicy filters all of its learned rules against the
conversation's recent states (``RulePolicy._get_possible_keys``), parsing each
rule's JSON key and comparing it state by state: about a quarter of the Rasa
server's CPU per turn, measured with py-spy at 16 advisors. The answer is a pure
function of the rule table and the states, and advisors' conversations pass
through the same few hundred states over and over (the same intents, slots and
previous actions), so the set of matching rules is kept per distinct states and
reused. Same rules in, same keys out: the prediction itself is still Rasa's.

Installed in the serving process only (bot.rasa_patches), where the rule table
is fixed once the model is loaded; training grows the table as it goes, and
its size is part of the key besides.

The states themselves are worked out from the conversation's events
(``DialogueStateTracker.past_states``, walking every prior tracker: another
seventh of the server's CPU). RulePolicy asks for them twice after each message,
once to match rules on the text and once on the intent, from the same events;
:func:`install_states_memo` keeps the last answer on the tracker and hands out
copies (the featurizer edits the states it gets), until an event is added.
Then, after the action, the states are asked for again with the action's events
added: the earlier states cannot change when events are only appended (no
restart, revert or loop), so the replay that gave them goes on over the new
events instead of starting again from the first (RulePolicy never ignores
rule-only turns; with them ignored, Rasa's own code runs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

# Distinct (rule table, states) answers kept per policy; the oldest go first.
REMEMBERED = 20_000
_MEMO = "_copilot_rule_memo"


def _frozen(states: list[dict[str, dict[str, Any]]]) -> tuple[Any, ...]:
    """A hashable copy of Rasa's states (dicts of dicts of strings and tuples)."""
    return tuple(
        tuple((kind, tuple(sorted(sub.items()))) for kind, sub in sorted(state.items()))
        for state in states
    )


def install_rule_memo() -> None:
    """Make ``RulePolicy._get_possible_keys`` remember its answers (once per process)."""
    original = RulePolicy._get_possible_keys
    if getattr(original, "_copilot_memo", False):
        return

    def _get_possible_keys(self: RulePolicy, lookup: dict[str, str], states: list) -> set[str]:
        key = (id(lookup), len(lookup), _frozen(states))
        memo: dict[Any, frozenset[str]] = self.__dict__.setdefault(_MEMO, {})
        try:
            found = memo.get(key)  # hashes the key once
        except TypeError:  # a state value that is not hashable: match as Rasa does
            return set(original(self, lookup, states))
        if found is None:
            found = frozenset(original(self, lookup, states))
            if len(memo) >= REMEMBERED:
                del memo[next(iter(memo))]
            memo[key] = found
        return set(found)

    _get_possible_keys._copilot_memo = True  # type: ignore[attr-defined]
    RulePolicy._get_possible_keys = _get_possible_keys


_STATES = "_copilot_past_states"
# Events that only add to a conversation's history: appended after the states
# were worked out, they leave every earlier state as it was (Restarted, reverts,
# SessionStarted and loops can rewrite which earlier events apply).
_APPENDING = (ActionExecuted, SlotSet, BotUttered)


@dataclass
class _Kept:
    """The last states worked out for a tracker, and the replay that gave them."""

    domain: Any
    rule_only_data: dict[str, Any] | None
    flags: tuple[bool, bool]
    count: int  # how many events the states cover
    newest: Any  # the newest of them
    states: list[dict[str, dict[str, Any]]]  # a private copy
    replay: DialogueStateTracker | None  # the tracker replayed to the newest, if kept


def _copied(states: list[dict[str, dict[str, Any]]]) -> list[dict[str, dict[str, Any]]]:
    """States another caller may edit: each state's sub-states copied (values are
    strings and tuples, which nobody edits)."""
    return [{kind: dict(sub) for kind, sub in state.items()} for state in states]


def _state(domain: Any, replay: DialogueStateTracker, omit_unset_slots: bool) -> dict:
    """One state of the history, as ``Domain.states_for_tracker_history`` makes it."""
    return domain._clean_state(domain.get_active_state(replay, omit_unset_slots))


def _replayed_states(
    tracker: DialogueStateTracker, domain: Any, omit_unset_slots: bool
) -> tuple[list[dict[str, dict[str, Any]]], DialogueStateTracker]:
    """``Domain.states_for_tracker_history`` without rule-only turns ignored (the states
    before each action and at the end), and the replayed tracker it ends with."""
    states = []
    replay = tracker
    for replay, _ in tracker.generate_all_prior_trackers():
        states.append(_state(domain, replay, omit_unset_slots))
    return states, replay


def _appended(kept: _Kept, events: Any) -> list[Any]:
    """The events added since ``kept`` if they only append to what it covers (its
    replay can go on over them); otherwise none."""
    count = len(events)
    if kept.replay is None or not count > kept.count > 0 or events.maxlen is not None:
        return []
    if events[kept.count - 1] is not kept.newest:
        return []
    added = [events[i] for i in range(kept.count, count)]
    return added if all(isinstance(event, _APPENDING) for event in added) else []


def _extended(kept: _Kept, new_events: list[Any], omit_unset_slots: bool) -> list:
    """The kept states carried on over events that only append: the replay goes on
    from where it ended, adding the state before each new action and at the end."""
    assert kept.replay is not None
    domain, replay = kept.domain, kept.replay
    states = kept.states[:-1]
    for event in new_events:
        if isinstance(event, ActionExecuted):
            states.append(_state(domain, replay, omit_unset_slots))
        replay.update(event)
    states.append(_state(domain, replay, omit_unset_slots))
    return states


def install_states_memo() -> None:
    """Make ``DialogueStateTracker.past_states`` reuse its answer while no event is added,
    and carry it on when events are only appended."""
    original = DialogueStateTracker.past_states
    if getattr(original, "_copilot_memo", False):
        return

    def past_states(
        self: DialogueStateTracker,
        domain: Any,
        omit_unset_slots: bool = False,
        ignore_rule_only_turns: bool = False,
        rule_only_data: dict[str, Any] | None = None,
    ) -> list[dict[str, dict[str, Any]]]:
        events = self.events
        count = len(events)
        newest = events[-1] if events else None
        flags = (omit_unset_slots, ignore_rule_only_turns)
        kept: _Kept | None = self.__dict__.get(_STATES)
        if kept is not None and not (
            kept.domain is domain and kept.rule_only_data == rule_only_data and kept.flags == flags
        ):
            kept = None
        # The events only grow (the capped deque drops its oldest as the newest
        # comes in), so their count and the newest event tell an unchanged tracker.
        if kept is not None and kept.count == count and kept.newest is newest:
            return _copied(kept.states)
        if kept is not None and (added := _appended(kept, events)):
            states = _extended(kept, added, omit_unset_slots)
            replay = kept.replay
        elif ignore_rule_only_turns or any(isinstance(event, ActiveLoop) for event in events):
            states = original(
                self, domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data
            )
            replay = None
        else:
            states, replay = _replayed_states(self, domain, omit_unset_slots)
        self.__dict__[_STATES] = _Kept(
            domain, rule_only_data, flags, count, newest, _copied(states), replay
        )
        return states

    past_states._copilot_memo = True  # type: ignore[attr-defined]
    DialogueStateTracker.past_states = past_states
