"""The script library (话术库, data/scripts/) and the forbidden-phrasing list.

Scripts are grouped by flow, step and scenario. Placeholders are filled from the
client's card and the session; a script whose placeholder has no value is
skipped rather than shown half-filled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bot.datafiles import DataFileError, Located, load_located
from bot.paths import project_root

SCRIPTS_DIR = Path("data/scripts")
FORBIDDEN_FILE = SCRIPTS_DIR / "forbidden.yml"
GENERAL = "通用"
SCENARIOS = (GENERAL, "腕表", "珠宝", "皮具", "美妆", "餐饮")
# Filled from the card (personal) or from what was said in this session.
CARD_PLACEHOLDERS = frozenset({"drink", "seat", "occasion", "color", "style"})
SESSION_PLACEHOLDERS = frozenset({"fact", "problem", "need", "issue", "product"})
PLACEHOLDERS = CARD_PLACEHOLDERS | SESSION_PLACEHOLDERS | {"address"}
MIN_PER_SCENARIO = 5
_PLACEHOLDER = re.compile(r"\{(\w*)\}")


@dataclass(frozen=True)
class Script:
    id: str
    flow: str
    group: str
    scenario: str
    text: str
    placeholders: frozenset[str]

    def render(self, values: dict[str, str]) -> str | None:
        """The filled text, or None if a placeholder has no value."""
        if any(not values.get(name) for name in self.placeholders):
            return None
        return self.text.format(**{name: values[name] for name in self.placeholders})


@dataclass(frozen=True)
class ForbiddenPhrase:
    pattern: re.Pattern[str]
    why: str


@dataclass(frozen=True)
class Forbidden:
    phrases: tuple[ForbiddenPhrase, ...]

    def find(self, text: str) -> list[ForbiddenPhrase]:
        return [p for p in self.phrases if p.pattern.search(text)]


def parse_forbidden(path: Path) -> Forbidden:
    phrases = []
    for item in load_located(path).get("forbidden").items():
        source = item.get("pattern").text()
        try:
            pattern = re.compile(source)
        except re.error as exc:
            raise item.error(f"invalid pattern '{source}': {exc}") from exc
        phrases.append(ForbiddenPhrase(pattern, item.get("why").text()))
    return Forbidden(tuple(phrases))


def _check_script(item: Located, text: str, forbidden: Forbidden) -> frozenset[str]:
    names = _PLACEHOLDER.findall(text)
    for name in names:
        if name not in PLACEHOLDERS:
            raise item.error(
                f"unknown placeholder {{{name}}} (known: {', '.join(sorted(PLACEHOLDERS))})"
            )
    if "address" in names and not text.startswith("{address}"):
        raise item.error("{address} may only open a script, as a vocative")
    if text.count("{") != len(names) or text.count("}") != len(names):
        raise item.error("unbalanced braces")
    hits = forbidden.find(text)
    if hits:
        raise item.error(f"forbidden phrasing ({hits[0].why}): {text}")
    return frozenset(names)


def parse_script_file(path: Path, forbidden: Forbidden) -> list[Script]:
    root = load_located(path)
    flow = root.get("flow").text()
    group = root.get("step").text()
    scripts = []
    for scenario, node in root.get("scripts").mapping().items():
        if scenario not in SCENARIOS:
            raise node.error(f"unknown scenario '{scenario}' (known: {', '.join(SCENARIOS)})")
        seen: set[str] = set()
        for index, item in enumerate(node.items()):
            text = item.text()
            if text in seen:
                raise item.error("duplicate script")
            seen.add(text)
            placeholders = _check_script(item, text, forbidden)
            script_id = f"{flow}.{group}.{scenario}.{index + 1}"
            scripts.append(Script(script_id, flow, group, scenario, text, placeholders))
    return scripts


@dataclass(frozen=True)
class Library:
    scripts: dict[tuple[str, str], tuple[Script, ...]]
    forbidden: Forbidden

    def group(self, flow: str, group: str) -> tuple[Script, ...]:
        return self.scripts.get((flow, group), ())

    def by_id(self, script_id: str) -> Script | None:
        flow, group = script_id.split(".")[:2]
        return next((s for s in self.group(flow, group) if s.id == script_id), None)


def load_library_from(folder: Path) -> Library:
    forbidden = parse_forbidden(folder / FORBIDDEN_FILE.name)
    grouped: dict[tuple[str, str], list[Script]] = {}
    for path in sorted(folder.rglob("*.yml")):
        if path.name == FORBIDDEN_FILE.name:
            continue
        scripts = parse_script_file(path, forbidden)
        if not scripts:
            raise DataFileError(path, 1, "no scripts")
        key = (scripts[0].flow, scripts[0].group)
        if key in grouped:
            raise DataFileError(path, 1, f"scripts for {key[0]}/{key[1]} are defined twice")
        grouped[key] = scripts
    return Library({k: tuple(v) for k, v in grouped.items()}, forbidden)


@cache
def load_library() -> Library:
    return load_library_from(project_root() / SCRIPTS_DIR)
