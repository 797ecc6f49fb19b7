"""The role-play stages (data/roleplay/stages.yml), one definition for every user.

The simulator gates on a stage's `needs`, the payload and the scorecard report
coverage per stage, and hints come from a stage's script group, so a stage
added or reordered in the data file changes all three together.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bot.datafiles import DataFileError, load_located
from bot.flows.scripts import Library, load_library
from bot.paths import project_root
from bot.roleplay.moves import FLOWS, Catalogue, load_catalogue

STAGES_FILE = Path("data/roleplay/stages.yml")


@dataclass(frozen=True)
class Stage:
    id: str
    title: str
    moves: tuple[str, ...]
    hint: str
    needs: str | None = None
    closed_ok: bool = False
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class FlowStages:
    flow: str
    stages: tuple[Stage, ...]
    then: tuple[str, ...]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(stage.id for stage in self.stages)

    def get(self, stage_id: str) -> Stage:
        return next(stage for stage in self.stages if stage.id == stage_id)

    def worked_by(self, moves: tuple[str, ...]) -> list[Stage]:
        """The stages these moves work, in stage order."""
        return [stage for stage in self.stages if any(m in moves for m in stage.moves)]

    def named_in(self, text: str) -> Stage | None:
        """The stage a trainee names in a hint request (跳到暗示问题)."""
        return next((s for s in self.stages if any(name in text for name in s.names)), None)


def parse_stages(path: Path, catalogue: Catalogue, library: Library) -> dict[str, FlowStages]:
    root = load_located(path)
    flows: dict[str, FlowStages] = {}
    for flow in FLOWS:
        node = root.get(flow)
        stages: list[Stage] = []
        for item in node.get("stages").items():
            stage_id = item.get("id").text()
            moves_node = item.get("moves")
            moves = tuple(moves_node.texts())
            unknown = [m for m in moves if m not in catalogue.for_flow(flow)]
            if unknown or not moves:
                raise moves_node.error(f"no {flow} move {', '.join(unknown) or '(none)'}")
            needs_node = item.optional("needs")
            needs = needs_node.text() if needs_node else None
            if needs_node is not None and needs not in [s.id for s in stages]:
                raise needs_node.error(f"'{needs}' is not a stage before '{stage_id}'")
            closed_node = item.optional("closed_ok")
            if closed_node is not None and not isinstance(closed_node.value, bool):
                raise closed_node.error("closed_ok is true or false")
            hint_node = item.get("hint")
            hint = hint_node.text()
            if not library.group(flow, hint):
                raise hint_node.error(f"no script group data/scripts/{flow}/{hint}.yml")
            closed_ok = bool(closed_node.value) if closed_node else False
            names = tuple(item.get("names").texts())
            stages.append(
                Stage(stage_id, item.get("title").text(), moves, hint, needs, closed_ok, names)
            )
        if not stages:
            raise node.error(f"no {flow} stages")
        then_node = node.get("then")
        then = tuple(then_node.texts())
        for group in then:
            if not library.group(flow, group):
                raise then_node.error(f"no script group data/scripts/{flow}/{group}.yml")
        flows[flow] = FlowStages(flow, tuple(stages), then)
    if len({s.id for f in flows.values() for s in f.stages}) != sum(
        len(f.stages) for f in flows.values()
    ):
        raise DataFileError(path, root.line, "stage ids must be unique across flows")
    return flows


@cache
def load_stages() -> dict[str, FlowStages]:
    return parse_stages(project_root() / STAGES_FILE, load_catalogue(), load_library())
