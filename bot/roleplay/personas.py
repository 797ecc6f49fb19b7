"""Personas (data/personas/*.yml) and the shared role-play rules, validated on load."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from bot.datafiles import Located, load_folder, load_located
from bot.flows.scripts import SCENARIOS
from bot.paths import project_root

PERSONAS_DIR = Path("data/personas")
RULES_FILE = Path("data/roleplay/rules.yml")
RECEPTION_STAGES = ("situation", "problem", "implication", "need")
COMPLAINT_STAGES = ("respond", "empathise", "resolve", "compensate", "improve")
RECEPTION_LINES = ("guarded", "closed", "repeat", "pitch_early", "pitch_match", "pitch_miss",
                   "pressured", "buy", "hook", "leave")  # fmt: skip
COMPLAINT_LINES = ("guarded", "closed", "repeat", "pressured", "satisfied", "hook", "leave")
TRUST_KEYS = ("greeting", "open_on_stage", "closed_on_stage", "too_early", "implication_lands",
              "need_stated", "pitch_early", "pitch_match", "pitch_miss", "forbidden",
              "complaint_step", "complaint_skip")  # fmt: skip


@dataclass(frozen=True)
class Persona:
    id: str
    name: str
    title: str
    scenario: str
    flow: str
    profile: str
    mood: str
    trust: int
    buying_threshold: int
    opening: str
    facts: dict[str, tuple[str, ...]]
    objections: tuple[str, ...]
    lines: dict[str, tuple[str, ...]]
    implication_triggers: tuple[str, ...] = ()
    need_keywords: tuple[str, ...] = ()
    step_cues: dict[str, tuple[str, ...]] | None = None

    @property
    def stages(self) -> tuple[str, ...]:
        return COMPLAINT_STAGES if self.flow == "complaint" else RECEPTION_STAGES

    def line(self, key: str, index: int = 0) -> str:
        options = self.lines[key]
        return options[index % len(options)]


@dataclass(frozen=True)
class Rules:
    open_words: tuple[str, ...]
    closed_endings: tuple[str, ...]
    hook_cues: tuple[str, ...]
    rapport_replies: tuple[str, ...]
    trust: dict[str, int]
    guarded_below: int
    leave_below: int
    min_open_share: float

    def is_open(self, text: str) -> bool:
        """Open questions invite the client to talk; yes/no questions do not."""
        if any(word in text for word in self.open_words):
            return True
        stripped = text.rstrip("？?。.！!～~ ")
        return not any(stripped.endswith(ending) for ending in self.closed_endings)


def _texts(node: Located, what: str, count: int = 1) -> tuple[str, ...]:
    texts = tuple(node.texts()) if isinstance(node.value, list) else (node.text(),)
    if len(texts) < count:
        raise node.error(f"{what} needs at least {count} line(s)")
    return texts


def _int(node: Located, low: int, high: int) -> int:
    if not isinstance(node.value, int) or not low <= node.value <= high:
        raise node.error(f"expected a whole number from {low} to {high}")
    return int(node.value)


def parse_persona(path: Path) -> Persona:
    root = load_located(path)
    flow = root.get("flow").text()
    if flow not in ("reception", "complaint"):
        raise root.get("flow").error("flow must be reception or complaint")
    scenario = root.get("scenario").text()
    if scenario not in SCENARIOS:
        raise root.get("scenario").error(f"scenario must be one of {', '.join(SCENARIOS)}")
    stages = COMPLAINT_STAGES if flow == "complaint" else RECEPTION_STAGES
    facts_node = root.get("facts")
    facts = {stage: _texts(facts_node.get(stage), f"facts.{stage}") for stage in stages}
    line_keys = COMPLAINT_LINES if flow == "complaint" else RECEPTION_LINES
    lines_node = root.get("lines")
    lines = {key: _texts(lines_node.get(key), f"lines.{key}") for key in line_keys}
    if "{fact}" not in lines["repeat"][0]:
        raise lines_node.get("repeat").error("the repeat line must contain {fact}")
    persona = Persona(
        id=root.get("id").text(),
        name=root.get("name").text(),
        title=root.get("title").text(),
        scenario=scenario,
        flow=flow,
        profile=root.get("profile").text(),
        mood=root.get("mood").text(),
        trust=_int(root.get("trust"), 0, 100),
        buying_threshold=_int(root.get("buying_threshold"), 0, 100),
        opening=root.get("opening").text(),
        facts=facts,
        objections=_texts(root.get("objections"), "objections"),
        lines=lines,
    )
    if flow == "complaint":
        cues = root.get("step_cues")
        step_cues = {stage: _texts(cues.get(stage), f"step_cues.{stage}") for stage in stages}
        return replace(persona, step_cues=step_cues)
    return replace(
        persona,
        implication_triggers=_texts(root.get("implication_triggers"), "implication_triggers"),
        need_keywords=_texts(root.get("need_keywords"), "need_keywords"),
    )


def parse_rules(path: Path) -> Rules:
    root = load_located(path)
    trust_node = root.get("trust")
    trust = {key: _int(trust_node.get(key), -100, 100) for key in TRUST_KEYS}
    share = root.get("min_open_share")
    if not isinstance(share.value, (int, float)) or not 0 <= share.value <= 1:
        raise share.error("min_open_share must be between 0 and 1")
    return Rules(
        open_words=_texts(root.get("open_words"), "open_words"),
        closed_endings=_texts(root.get("closed_endings"), "closed_endings"),
        hook_cues=_texts(root.get("hook_cues"), "hook_cues"),
        rapport_replies=_texts(root.get("rapport_replies"), "rapport_replies"),
        trust=trust,
        guarded_below=_int(root.get("guarded_below"), 0, 100),
        leave_below=_int(root.get("leave_below"), 0, 100),
        min_open_share=float(share.value),
    )


def load_personas_from(folder: Path) -> dict[str, Persona]:
    return load_folder(folder, parse_persona, lambda persona: persona.id, "persona")


@cache
def load_personas() -> dict[str, Persona]:
    return load_personas_from(project_root() / PERSONAS_DIR)


@cache
def load_rules() -> Rules:
    return parse_rules(project_root() / RULES_FILE)
