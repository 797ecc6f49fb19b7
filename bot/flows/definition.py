"""Flow definitions (data/flows/*.yml), validated on load with file and line.

A flow is a list of steps; each step names the relayed client signals that move
it on. Nothing here is learned: the NLU labels a message, these rules decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from bot.datafiles import Located, load_folder, load_located
from bot.paths import project_root

FLOWS_DIR = Path("data/flows")
SIGNALS = (
    "client_situation",
    "client_problem",
    "client_implication",
    "client_need",
    "client_interest",
    "client_hesitation",
    "client_price_objection",
)
ANY_SIGNAL = "any"
STAY = "stay"
MODES = ("reception", "complaint")


@dataclass(frozen=True)
class ChecklistItem:
    id: str
    label: str
    cues: tuple[str, ...]

    def matches(self, text: str) -> bool:
        return any(cue in text for cue in self.cues)


@dataclass(frozen=True)
class Transition:
    to: str  # a step id, or STAY
    min_facts: int = 1
    scripts: str | None = None  # script group to suggest instead of the step's own


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    goal: str
    evidence: str
    checklist: tuple[ChecklistItem, ...]
    on: dict[str, Transition]
    ending: bool = False
    deadline_minutes: int | None = None
    complete_at: int | None = None
    complete_to: str | None = None


@dataclass(frozen=True)
class Flow:
    id: str
    title: str
    mode: str
    start: str
    steps: tuple[Step, ...]
    signals: dict[str, Transition]
    fact_steps: dict[str, str]
    aliases: dict[str, tuple[str, ...]]
    compensation: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(f"flow {self.id} has no step {step_id}")

    def index(self, step_id: str) -> int:
        return [s.id for s in self.steps].index(step_id)

    def transition(self, step_id: str, signal: str) -> Transition | None:
        own = self.step(step_id).on
        return own.get(signal) or own.get(ANY_SIGNAL) or self.signals.get(signal)

    def skipped_between(self, from_id: str, to_id: str) -> list[str]:
        """Non-ending steps strictly between two steps, when moving forward."""
        start, end = self.index(from_id), self.index(to_id)
        return [s.id for s in self.steps[start + 1 : end] if not s.ending]

    def step_named(self, text: str) -> str | None:
        """The step an advisor names in a jump (longest alias wins)."""
        best: tuple[int, str] | None = None
        for step_id, words in self.aliases.items():
            for word in words:
                if word in text and (best is None or len(word) > best[0]):
                    best = (len(word), step_id)
        return best[1] if best else None


def _transition(node: Located, where: str) -> Transition:
    if not isinstance(node.value, dict):
        raise node.error(f"{where} must be a mapping like {{to: problem}}")
    min_facts = node.optional("min_facts")
    scripts = node.optional("scripts")
    count = int(min_facts.value) if min_facts else 1
    if count < 1:
        raise (min_facts or node).error("min_facts must be at least 1")
    return Transition(node.get("to").text(), count, scripts.text() if scripts else None)


def _transitions(node: Located | None, where: str, allow_any: bool) -> dict[str, Transition]:
    if node is None or node.value is None:
        return {}
    result = {}
    for signal, child in node.mapping().items():
        if signal not in SIGNALS and not (allow_any and signal == ANY_SIGNAL):
            raise child.error(f"unknown signal '{signal}' in {where} (known: {', '.join(SIGNALS)})")
        result[signal] = _transition(child, f"{where}.{signal}")
    return result


def _step(node: Located) -> Step:
    step_id = node.get("id").text()
    checklist = []
    for item in node.get("checklist").items():
        checklist.append(
            ChecklistItem(
                item.get("id").text(), item.get("label").text(), tuple(item.get("cues").texts())
            )
        )
    deadline = node.optional("deadline_minutes")
    complete_at = node.optional("complete_at")
    complete_to = node.optional("complete_to")
    ending = node.optional("ending")
    return Step(
        id=step_id,
        title=node.get("title").text(),
        goal=node.get("goal").text(),
        evidence=node.get("evidence").text(),
        checklist=tuple(checklist),
        on=_transitions(node.optional("on"), f"step {step_id}", allow_any=True),
        ending=bool(ending.value) if ending else False,
        deadline_minutes=int(deadline.value) if deadline else None,
        complete_at=int(complete_at.value) if complete_at else None,
        complete_to=complete_to.text() if complete_to else None,
    )


def parse_flow(path: Path) -> Flow:
    root = load_located(path)
    steps_node = root.get("steps")
    steps = tuple(_step(node) for node in steps_node.items())
    ids = [s.id for s in steps]
    if len(set(ids)) != len(ids):
        raise steps_node.error("step ids must be unique")
    mode = root.get("mode").text()
    if mode not in MODES:
        raise root.get("mode").error(f"mode must be one of {', '.join(MODES)}")
    fact_steps_node = root.get("fact_steps")
    fact_steps = {k: v.text() for k, v in fact_steps_node.mapping().items()}
    aliases_node = root.get("aliases")
    aliases = {k: tuple(v.texts()) for k, v in aliases_node.mapping().items()}
    compensation_node = root.optional("compensation")
    compensation = (
        {k: tuple(v.texts()) for k, v in compensation_node.mapping().items()}
        if compensation_node
        else {}
    )
    flow = Flow(
        id=root.get("flow").text(),
        title=root.get("title").text(),
        mode=mode,
        start=root.get("start").text(),
        steps=steps,
        signals=_transitions(root.optional("signals"), "signals", allow_any=False),
        fact_steps=fact_steps,
        aliases=aliases,
        compensation=compensation,
    )
    _check_references(flow, root, steps_node, fact_steps_node, aliases_node)
    return flow


def _check_references(
    flow: Flow, root: Located, steps_node: Located, facts: Located, aliases: Located
) -> None:
    known = {s.id for s in flow.steps}
    if flow.start not in known:
        raise root.get("start").error(f"start step '{flow.start}' is not defined")
    for step, node in zip(flow.steps, steps_node.items(), strict=True):
        targets = [t.to for t in step.on.values()] + (
            [step.complete_to] if step.complete_to else []
        )
        for target in targets:
            if target != STAY and target not in known:
                raise node.error(f"step '{step.id}' leads to unknown step '{target}'")
    for signal, transition in flow.signals.items():
        if transition.to != STAY and transition.to not in known:
            raise root.get("signals").get(signal).error(f"unknown step '{transition.to}'")
    for signal, node in facts.mapping().items():
        if node.text() not in known:
            raise node.error(f"fact step '{node.text()}' for {signal} is not defined")
    for step_id, node in aliases.mapping().items():
        if step_id not in known:
            raise node.error(f"aliases name unknown step '{step_id}'")


def load_flows_from(folder: Path) -> dict[str, Flow]:
    return load_folder(folder, parse_flow, lambda flow: flow.id, "flow")


@cache
def load_flows() -> dict[str, Flow]:
    return load_flows_from(project_root() / FLOWS_DIR)
