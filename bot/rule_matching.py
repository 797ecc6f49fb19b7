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
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.rule_policy import RulePolicy

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
