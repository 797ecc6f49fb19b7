"""Personas (data/personas/*.yml) and the shared role-play rules, validated on load.

A persona answers every move of its flow (data/roleplay/moves.yml) in its own
words, with at least six answers per move and trust band, so a trainee who
offers tea three times, or asks the same question again, never hears the same
line twice in a session. Facts come in order per stage and never change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bot.datafiles import Located, load_folder, load_located
from bot.flows.scripts import SCENARIOS
from bot.paths import project_root
from bot.roleplay.moves import FLOWS, Catalogue, load_catalogue
from bot.roleplay.stages import FlowStages, load_stages

PERSONAS_DIR = Path("data/personas")
RULES_FILE = Path("data/roleplay/rules.yml")
BANDS = ("cool", "neutral", "warm")
MIN_ANSWERS = 6
# Answers that belong to no trainee move: to a closed question, to anything else.
EXTRA_ANSWERS = {"reception": ("closed", "other"), "complaint": ("other",)}
# Single reactions: the pitch that meets the need, buying signals, the decision, goodbyes.
LINES = {
    "reception": (
        "pitch_match",
        "pitch_miss",
        "interest",
        "pressured",
        "repeat",
        "buy",
        "hook",
        "leave",
    ),
    "complaint": ("pressured", "satisfied", "hook", "leave"),
}
TRUST_KEYS = (
    "rapport",
    "open_on_stage",
    "closed_on_stage",
    "too_early",
    "implication_lands",
    "implication_generic",
    "need_stated",
    "pitch_early",
    "pitch_match",
    "pitch_miss",
    "hook_early",
    "close_early",
    "forbidden",
    "complaint_step",
    "complaint_skip",
)
_CJK = re.compile(r"[\u4e00-\u9fff]")


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
    answers: dict[str, dict[str, tuple[str, ...]]]
    lines: dict[str, tuple[str, ...]]
    implication_triggers: tuple[str, ...] = ()
    need_keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rules:
    open_words: tuple[str, ...]
    closed_endings: tuple[str, ...]
    bands: dict[str, int]
    trust: dict[str, int]
    leave_below: int
    min_open_share: float
    function_chars: frozenset[str]
    common_pairs: frozenset[str]
    pass_marks: dict[str, int]

    def is_open(self, text: str) -> bool:
        """Open questions invite the client to talk; yes/no questions do not."""
        if any(word in text for word in self.open_words):
            return True
        stripped = text.rstrip("？?。.！!～~ ")
        return not any(stripped.endswith(ending) for ending in self.closed_endings)

    def band(self, trust: int) -> str:
        if trust >= self.bands["warm"]:
            return "warm"
        return "neutral" if trust >= self.bands["neutral"] else "cool"

    def pairs(self, text: str) -> set[str]:
        """Adjacent content characters of ``text``: what two lines share when one
        picks up the other (投资人 in both, not 什么 or 影响)."""
        chars = [c if _CJK.match(c) and c not in self.function_chars else " " for c in text]
        joined = "".join(chars)
        return {
            joined[i : i + 2]
            for i in range(len(joined) - 1)
            if " " not in joined[i : i + 2] and joined[i : i + 2] not in self.common_pairs
        }

    def pass_mark(self, scenario: str) -> int:
        return self.pass_marks.get(scenario, self.pass_marks["default"])


def _texts(node: Located, what: str, count: int = 1) -> tuple[str, ...]:
    texts = tuple(node.texts()) if isinstance(node.value, list) else (node.text(),)
    if len(texts) < count:
        raise node.error(f"{what} needs at least {count} line(s)")
    if len(set(texts)) != len(texts):
        raise node.error(f"{what} repeats a line")
    return texts


def _int(node: Located, low: int, high: int) -> int:
    if not isinstance(node.value, int) or not low <= node.value <= high:
        raise node.error(f"expected a whole number from {low} to {high}")
    return int(node.value)


def _answers(
    node: Located, flow: str, catalogue: Catalogue
) -> dict[str, dict[str, tuple[str, ...]]]:
    """Every move of the flow, in every band, with enough distinct answers."""
    answers: dict[str, dict[str, tuple[str, ...]]] = {}
    keys = catalogue.for_flow(flow) + EXTRA_ANSWERS[flow]
    mapping = node.mapping()
    for key, child in mapping.items():
        if key not in keys:
            raise child.error(f"'{key}' is no {flow} move (data/roleplay/moves.yml)")
    for key in keys:
        bands = node.get(key)
        answers[key] = {
            band: _texts(bands.get(band), f"answers.{key}.{band}", MIN_ANSWERS) for band in BANDS
        }
    seen: dict[str, str] = {}
    for key, by_band in answers.items():
        for band, texts in by_band.items():
            for text in texts:
                if text in seen:
                    where = node.get(key).get(band)
                    raise where.error(f"'{text}' is also an answer to {seen[text]}")
                seen[text] = f"{key}.{band}"
    return answers


def parse_persona(path: Path, catalogue: Catalogue, stages: dict[str, FlowStages]) -> Persona:
    root = load_located(path)
    flow_node = root.get("flow")
    flow = flow_node.text()
    if flow not in FLOWS:
        raise flow_node.error(f"flow must be one of {', '.join(FLOWS)}")
    scenario = root.get("scenario").text()
    if scenario not in SCENARIOS:
        raise root.get("scenario").error(f"scenario must be one of {', '.join(SCENARIOS)}")
    facts_node = root.get("facts")
    facts = {stage: _texts(facts_node.get(stage), f"facts.{stage}") for stage in stages[flow].ids}
    lines_node = root.get("lines")
    lines = {key: _texts(lines_node.get(key), f"lines.{key}") for key in LINES[flow]}
    if not all("{fact}" in text for text in lines.get("repeat", ("{fact}",))):
        raise lines_node.get("repeat").error("every repeat line must contain {fact}")
    reception = flow == "reception"
    return Persona(
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
        answers=_answers(root.get("answers"), flow, catalogue),
        lines=lines,
        implication_triggers=(
            _texts(root.get("implication_triggers"), "implication_triggers") if reception else ()
        ),
        need_keywords=_texts(root.get("need_keywords"), "need_keywords") if reception else (),
    )


def parse_rules(path: Path) -> Rules:
    root = load_located(path)
    trust_node = root.get("trust")
    trust = {key: _int(trust_node.get(key), -100, 100) for key in TRUST_KEYS}
    bands_node = root.get("bands")
    bands = {band: _int(bands_node.get(band), 1, 100) for band in BANDS[1:]}
    if bands["neutral"] >= bands["warm"]:
        raise bands_node.error("the warm band must start above the neutral band")
    share = root.get("min_open_share")
    if not isinstance(share.value, (int, float)) or not 0 <= share.value <= 1:
        raise share.error("min_open_share must be between 0 and 1")
    marks_node = root.get("pass_marks")
    marks = {key: _int(child, 0, 100) for key, child in marks_node.mapping().items()}
    unknown = set(marks) - {"default", *SCENARIOS}
    if "default" not in marks or unknown:
        raise marks_node.error(
            f"pass_marks needs 'default' and scenarios from {', '.join(SCENARIOS)}"
        )
    return Rules(
        open_words=_texts(root.get("open_words"), "open_words"),
        closed_endings=_texts(root.get("closed_endings"), "closed_endings"),
        bands=bands,
        trust=trust,
        leave_below=_int(root.get("leave_below"), 0, 100),
        min_open_share=float(share.value),
        function_chars=frozenset(root.get("function_chars").text()),
        common_pairs=frozenset(_texts(root.get("common_pairs"), "common_pairs")),
        pass_marks=marks,
    )


def load_personas_from(folder: Path) -> dict[str, Persona]:
    catalogue, stages = load_catalogue(), load_stages()
    return load_folder(
        folder, lambda path: parse_persona(path, catalogue, stages), lambda p: p.id, "persona"
    )


@cache
def load_personas() -> dict[str, Persona]:
    return load_personas_from(project_root() / PERSONAS_DIR)


@cache
def load_rules() -> Rules:
    return parse_rules(project_root() / RULES_FILE)
