"""What a turn produces, independent of Rasa: messages, the payload and slot changes.

The actions in ``actions/`` turn a :class:`Reply` into dispatcher calls. The
Chinese wording lives in data/replies/zh.yml under the keys used here, so it is
edited in one place and checked on load; variants are picked by a stable hash,
so the same message always gets the same wording (and tests are repeatable).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from bot.cards.card import ClientCard
from bot.datafiles import DataFileError, load_located
from bot.paths import project_root

WORDING_FILE = Path("data/replies/zh.yml")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Wording:
    """The reply catalogue: key → variants, each a ``str.format`` template."""

    variants: dict[str, tuple[str, ...]]
    path: Path

    def render(self, key: str, variables: dict[str, Any], seed: str = "") -> str:
        if key not in self.variants:
            raise KeyError(f"{self.path}: no reply '{key}'")
        options = self.variants[key]
        template = options[zlib.crc32(f"{key}|{seed}".encode()) % len(options)]
        missing = set(_PLACEHOLDER.findall(template)) - set(variables)
        if missing:
            raise KeyError(f"{self.path}: reply '{key}' needs {', '.join(sorted(missing))}")
        return template.format(**variables)


def parse_wording(path: Path) -> Wording:
    root = load_located(path)
    variants: dict[str, tuple[str, ...]] = {}
    for key, node in root.mapping().items():
        texts = node.texts()
        if not texts:
            raise node.error(f"reply '{key}' has no text")
        for item, text in zip(node.items(), texts, strict=True):
            try:
                text.format(**{name: "" for name in _PLACEHOLDER.findall(text)})
            except (KeyError, ValueError, IndexError) as exc:
                raise item.error(f"reply '{key}' has a malformed placeholder: {exc}") from exc
        variants[key] = tuple(texts)
    if not variants:
        raise DataFileError(path, 1, "no replies defined")
    return Wording(variants, path)


@cache
def load_wording() -> Wording:
    return parse_wording(project_root() / WORDING_FILE)


MODES = ("idle", "reception", "complaint", "roleplay")


@dataclass(frozen=True)
class Button:
    title: str
    payload: str

    def to_dict(self) -> dict[str, str]:
        return {"title": self.title, "payload": self.payload}


@dataclass(frozen=True)
class Message:
    key: str
    variables: dict[str, Any] = field(default_factory=dict)
    buttons: tuple[Button, ...] = ()

    def text(self, seed: str = "") -> str:
        return load_wording().render(self.key, self.variables, seed)


@dataclass
class Reply:
    messages: list[Message]
    mode: str = "idle"
    flow_step: str | None = None
    client: ClientCard | None = None
    suggestions: list[dict[str, str]] = field(default_factory=list)
    roleplay: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    slots: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        """The ``custom`` contract every channel renders."""
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}")
        return {
            "copilot": {
                "mode": self.mode,
                "flow_step": self.flow_step,
                "client": self.client.to_payload() if self.client else None,
                "suggestions": list(self.suggestions),
                "roleplay": self.roleplay,
                **self.extra,
            }
        }
