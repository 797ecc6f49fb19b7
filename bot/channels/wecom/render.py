"""The copilot payload as WeCom markdown, split under WeCom's 2048-byte limit.

Buttons become numbered choices the advisor answers with a digit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_BYTES = 2048


@dataclass(frozen=True)
class Rendered:
    chunks: list[str]
    choices: list[str]  # button payloads, in the order numbered in the text


def _header(payload: dict[str, Any]) -> str | None:
    step = payload.get("step") or {}
    flow = payload.get("flow") or {}
    if step.get("title"):
        return f"**{flow.get('title', '')} · {step['title']}**"
    roleplay = payload.get("roleplay") or {}
    if roleplay.get("persona") and not roleplay.get("scorecard"):
        return f"**陪练 · {roleplay.get('name', '')}**（信任度 {roleplay.get('trust')}）"
    return None


def render(messages: list[dict[str, Any]]) -> Rendered:
    blocks: list[str] = []
    choices: list[str] = []
    payload: dict[str, Any] = {}
    for message in messages:
        payload = (message.get("custom") or {}).get("copilot") or payload
        if message.get("text"):
            blocks.append(str(message["text"]))
        buttons = message.get("buttons") or []
        if buttons:
            lines = ["回复数字选择："]
            for button in buttons:
                choices.append(str(button["payload"]))
                lines.append(f"{len(choices)}. {button['title']}")
            blocks.append("\n".join(lines))
    header = _header(payload)
    if header:
        blocks.insert(0, header)
    for deadline in payload.get("deadlines") or []:
        if not deadline.get("done"):
            blocks.append(
                f'<font color="warning">⏰ {deadline["title"]}截止 {deadline["due"][11:16]}</font>'
            )
    return Rendered(split("\n\n".join(blocks)), choices)


def split(text: str, limit: int = MAX_BYTES) -> list[str]:
    """Chunks of at most ``limit`` UTF-8 bytes, cut at line ends where possible."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if len(candidate.encode()) <= limit:
            current = candidate
            continue
        if current:
            chunks.append(current)
        while len(line.encode()) > limit:
            cut = limit
            while len(line[:cut].encode()) > limit:
                cut -= 1
            chunks.append(line[:cut])
            line = line[cut:]
        current = line
    if current:
        chunks.append(current)
    return chunks
