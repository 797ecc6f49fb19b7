"""Rasa's check of the action server's answers, with each event checked once.

Rasa validates every answer of the action server against a fixed JSON schema
(``RemoteAction.action_response_format_spec``). Each event in the answer must
match exactly one of 23 alternatives (``oneOf``), so jsonschema checks every
event against all 23 and then re-checks the schema itself on every call: 7.5 %
of the Rasa server's CPU a turn at 16 advisors (py-spy, GIL samples).

Every alternative pins the event's required ``event`` field to a different
constant, so an event can match only the alternative named by its own
``event``: "exactly one matches" is "the alternative its ``event`` names
matches". :class:`ResponseValidator` checks the answer without the ``oneOf``
and each event against that one alternative, with validators compiled once.
The verdicts are jsonschema's; an answer found invalid goes to Rasa's own
check, which raises with Rasa's message. :func:`dispatchable` checks that the
schema still has that shape (a test does too), and Rasa's full check is kept
if a Rasa upgrade changes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rasa.core.actions.action import RemoteAction

Check = Callable[[Any], bool]


def _compiled(schema: dict[str, Any]) -> Check:
    from jsonschema import validators

    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema).is_valid


def _event_constant(alternative: dict[str, Any]) -> Any:
    return alternative.get("properties", {}).get("event", {}).get("const")


def dispatchable(spec: dict[str, Any]) -> bool:
    """Whether each event of ``spec`` can be checked against only the alternative its
    ``event`` names: a required string ``event``, pinned to a different constant by
    every alternative, and nothing else in the schema that depends on the ``oneOf``."""
    events = spec.get("properties", {}).get("events")
    if not isinstance(events, dict) or set(events) != {"type", "items"}:
        return False
    item = events["items"]
    alternatives = item.get("oneOf")
    if not isinstance(alternatives, list) or not alternatives:
        return False
    constants = [_event_constant(alternative) for alternative in alternatives]
    return (
        "event" in item.get("required", ())
        and item.get("properties", {}).get("event") == {"type": "string"}
        and all(isinstance(constant, str) for constant in constants)
        and len(set(constants)) == len(constants)
        and set(item) <= {"type", "properties", "required", "oneOf"}
    )


class ResponseValidator:
    """jsonschema's verdict on an action server answer, one alternative per event."""

    def __init__(self, spec: dict[str, Any]) -> None:
        if not dispatchable(spec):
            raise ValueError("the action response schema is not dispatchable by event")
        events = spec["properties"]["events"]
        item = events["items"]
        outer = {**spec, "properties": {**spec["properties"], "events": {"type": events["type"]}}}
        self._answer = _compiled(outer)
        self._event = _compiled({k: v for k, v in item.items() if k != "oneOf"})
        self._by_name = {
            _event_constant(alternative): _compiled(alternative) for alternative in item["oneOf"]
        }

    def is_valid(self, result: Any) -> bool:
        if not self._answer(result):
            return False
        for event in result.get("events") or ():
            if not self._event(event):
                return False
            alternative = self._by_name.get(event["event"])
            if alternative is None or not alternative(event):
                return False
        return True


def install_compiled_action_validation() -> None:
    """Validate action responses event by event (same verdicts, same errors as Rasa's)."""
    if getattr(RemoteAction, "_copilot_compiled_validation", False):
        return
    spec = RemoteAction.action_response_format_spec()
    # A schema of another shape is still compiled once, and checked as a whole.
    is_valid = ResponseValidator(spec).is_valid if dispatchable(spec) else _compiled(spec)
    original = RemoteAction._validate_action_result

    def validate(self: RemoteAction, result: dict[str, Any]) -> bool:
        if is_valid(result):
            return True
        return bool(original(self, result))  # raises with Rasa's own message

    RemoteAction._validate_action_result = validate
    RemoteAction._copilot_compiled_validation = True
