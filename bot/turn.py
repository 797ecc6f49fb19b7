"""One advisor message as the domain code sees it, built by the action adapters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.advisors import AdvisorIdentity

# The longest message a channel accepts, and so the longest text the NLU service parses.
MAX_MESSAGE_CHARS = 2000

# Slots the domain code reads and writes; declared in domain/slots.yml.
ACTIVE_CLIENT = "active_client_id"
MODE = "mode"
FLOW_STEP = "flow_step"
# What the copilot asked (client / replace): a categorical slot the dialogue rules
# see, so the answer is routed to action_choose_option; PENDING holds the operation.
AWAITING = "awaiting"
PENDING = "pending"
FLOW_STATE = "flow_state"
ROLEPLAY_STATE = "roleplay_state"


@dataclass(frozen=True)
class Turn:
    text: str
    intent: str
    entities: tuple[dict[str, Any], ...]
    advisor: AdvisorIdentity
    slots: dict[str, Any] = field(default_factory=dict)

    def entity(self, name: str) -> str | None:
        """The first value of an entity, if the NLU found one."""
        for entity in self.entities:
            if entity.get("entity") == name and entity.get("value"):
                return str(entity["value"])
        return None

    def entity_text(self, name: str) -> str | None:
        """The text span of an entity as written (values may be canonicalised)."""
        for entity in self.entities:
            if entity.get("entity") == name and entity.get("start") is not None:
                return self.text[entity["start"] : entity["end"]]
        return None

    @property
    def mode(self) -> str:
        return str(self.slots.get(MODE) or "idle")

    @property
    def active_client_id(self) -> str | None:
        value = self.slots.get(ACTIVE_CLIENT)
        return str(value) if value else None
