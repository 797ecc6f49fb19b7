"""Rasa's check of the action server's answers, with the JSON schema compiled once.

Rasa validates every answer of the action server against a fixed JSON schema,
and by default re-checks the schema itself on each action call; compiling the
validator once gives the same verdicts and the same error messages without that
per-call cost.
"""

from __future__ import annotations

from typing import Any

from rasa.core.actions.action import RemoteAction


def install_compiled_action_validation() -> None:
    """Validate action responses with one precompiled validator (same schema, same errors)."""
    from jsonschema import validators
    from jsonschema.exceptions import best_match

    if getattr(RemoteAction, "_copilot_compiled_validation", False):
        return
    spec = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(spec)
    validator_class.check_schema(spec)
    validator = validator_class(spec)
    original = RemoteAction._validate_action_result

    def validate(self: RemoteAction, result: dict[str, Any]) -> bool:
        if best_match(validator.iter_errors(result)) is None:
            return True
        return bool(original(self, result))  # raises with Rasa's own message

    RemoteAction._validate_action_result = validate
    RemoteAction._copilot_compiled_validation = True
