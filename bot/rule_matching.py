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
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.rule_policy import RulePolicy
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


def _copied(states: list[dict[str, dict[str, Any]]]) -> list[dict[str, dict[str, Any]]]:
    """States another caller may edit: each state's sub-states copied (values are
    strings and tuples, which nobody edits)."""
    return [{kind: dict(sub) for kind, sub in state.items()} for state in states]


def install_states_memo() -> None:
    """Make ``DialogueStateTracker.past_states`` reuse its answer while no event is added."""
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
        newest = events[-1] if events else None
        # The events only grow (the capped deque drops its oldest as the newest
        # comes in), so their count and the newest event tell an unchanged tracker.
        flags = (omit_unset_slots, ignore_rule_only_turns, len(events))
        kept = self.__dict__.get(_STATES)
        if (
            kept is not None
            and kept[0] is domain
            and kept[1] == rule_only_data  # a new dict of the policy's same lists each time
            and kept[2] is newest
            and kept[3] == flags
        ):
            return _copied(kept[4])
        states = original(self, domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
        self.__dict__[_STATES] = (domain, rule_only_data, newest, flags, _copied(states))
        return states

    past_states._copilot_memo = True  # type: ignore[attr-defined]
    DialogueStateTracker.past_states = past_states
