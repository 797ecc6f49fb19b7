"""How well the role-play reads and scores trainees, on labelled data kept out of training.

`copilot roleplay moves` scores the move classifier on tests/roleplay/moves*.yml,
per move: recall on the lines that make it, precision over the lines it fired
on, and accuracy over every line of the flows the move belongs to.
`copilot roleplay agreement` replays the labelled transcripts of
tests/roleplay/transcripts/ and counts the checks where the scorer's verdict
matches the trainer's label.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.datafiles import load_located, yaml_files
from bot.flows.scripts import Library
from bot.roleplay.moves import FLOWS, Catalogue
from bot.roleplay.personas import Persona, Rules
from bot.roleplay.scoring import RECEPTION_CHECKS, score
from bot.roleplay.simulator import Line
from bot.roleplay.stages import load_stages

MOVES_SETS = tuple(
    Path(f"tests/roleplay/{name}.yml") for name in ("moves", "moves_holdout", "moves_fresh")
)
TRANSCRIPTS = Path("tests/roleplay/transcripts")


@dataclass(frozen=True)
class LabelledLine:
    text: str
    flow: str
    moves: frozenset[str]
    intent: str
    line: int


@dataclass(frozen=True)
class MoveScore:
    move: str
    title: str
    positives: int
    lines: int
    true_pos: int
    false_pos: int
    correct: int
    misses: tuple[str, ...]
    false_alarms: tuple[str, ...]

    @property
    def recall(self) -> float:
        return self.true_pos / self.positives if self.positives else 1.0

    @property
    def precision(self) -> float:
        fired = self.true_pos + self.false_pos
        return self.true_pos / fired if fired else 1.0

    @property
    def accuracy(self) -> float:
        return self.correct / self.lines if self.lines else 1.0


def load_labelled(path: Path, catalogue: Catalogue) -> list[LabelledLine]:
    """The labelled lines; unknown moves or flows are errors naming file and line."""
    root = load_located(path)
    lines = []
    for item in root.get("lines").items():
        flow_node = item.optional("flow")
        flow = flow_node.text() if flow_node else "reception"
        if flow not in FLOWS:
            raise item.error(f"flow must be one of {', '.join(FLOWS)}")
        moves_node = item.get("moves")
        moves = frozenset(str(m.value) for m in moves_node.items())
        unknown = moves - set(catalogue.for_flow(flow))
        if unknown:
            raise moves_node.error(f"no move {', '.join(sorted(unknown))} in the {flow} flow")
        lines.append(
            LabelledLine(item.get("text").text(), flow, moves, item.get("intent").text(), item.line)
        )
    return lines


def score_moves(catalogue: Catalogue, lines: list[LabelledLine]) -> list[MoveScore]:
    read = {
        id(line): set(catalogue.read(line.text, line.intent, line.flow).moves) for line in lines
    }
    scores = []
    for move in catalogue.moves.values():
        relevant = [line for line in lines if line.flow in move.flows]
        positives = [line for line in relevant if move.id in line.moves]
        hits = [line for line in relevant if move.id in read[id(line)]]
        true_pos = [line for line in hits if move.id in line.moves]
        misses = [line.text for line in positives if move.id not in read[id(line)]]
        alarms = [line.text for line in hits if move.id not in line.moves]
        scores.append(
            MoveScore(
                move=move.id,
                title=move.title,
                positives=len(positives),
                lines=len(relevant),
                true_pos=len(true_pos),
                false_pos=len(alarms),
                correct=len(relevant) - len(misses) - len(alarms),
                misses=tuple(misses),
                false_alarms=tuple(alarms),
            )
        )
    return scores


def render_moves(scores: list[MoveScore], examples: int = 0) -> str:
    lines = [f"{'move':<12} {'lines':>5} {'recall':>7} {'precision':>9} {'accuracy':>8}  title"]
    for s in scores:
        lines.append(
            f"{s.move:<12} {s.positives:>5} {s.recall:>7.3f} {s.precision:>9.3f} "
            f"{s.accuracy:>8.3f}  {s.title}"
        )
        lines += [f"    missed: {text}" for text in s.misses[:examples]]
        lines += [f"    wrongly: {text}" for text in s.false_alarms[:examples]]
    return "\n".join(lines)


@dataclass(frozen=True)
class Transcript:
    persona: str
    id: str
    about: str
    lines: tuple[tuple[str, str], ...]  # (intent, text)
    labels: dict[str, bool]


@dataclass(frozen=True)
class Disagreement:
    transcript: str
    check: str
    label: bool
    scored: bool
    reason: str


@dataclass(frozen=True)
class Agreement:
    checks: int
    agreed: int
    per_check: dict[str, tuple[int, int]]  # check -> (agreed, labelled)
    disagreements: tuple[Disagreement, ...]
    scores: dict[str, int]  # transcript -> score

    @property
    def share(self) -> float:
        return self.agreed / self.checks if self.checks else 1.0


def load_transcripts(folder: Path, personas: dict[str, Persona]) -> list[Transcript]:
    """Labelled transcripts; a persona, check or intent that is missing names file and line."""
    transcripts = []
    for path in yaml_files(folder):
        root = load_located(path)
        persona_node = root.get("persona")
        persona_id = persona_node.text()
        if persona_id not in personas:
            raise persona_node.error(f"no persona '{persona_id}'")
        expected = set(checks_of(personas[persona_id]))
        for item in root.get("transcripts").items():
            labels_node = item.get("labels")
            labels = {key: bool(child.value) for key, child in labels_node.mapping().items()}
            if set(labels) != expected:
                raise labels_node.error(
                    f"label exactly these checks: {', '.join(sorted(expected))}"
                )
            lines = tuple(
                (line.get("intent").text(), line.get("say").text())
                for line in item.get("lines").items()
            )
            transcripts.append(
                Transcript(
                    persona_id, item.get("id").text(), item.get("about").text(), lines, labels
                )
            )
    return transcripts


def checks_of(persona: Persona) -> tuple[str, ...]:
    if persona.flow == "complaint":
        return (*load_stages()["complaint"].ids, "no_forbidden")
    return RECEPTION_CHECKS


def agreement(
    transcripts: list[Transcript], personas: dict[str, Persona], rules: Rules, library: Library
) -> Agreement:
    """How often the scorer's verdict matches the trainer's label, check by check."""
    per_check: dict[str, list[int]] = {}
    disagreements = []
    scores = {}
    for transcript in transcripts:
        persona = personas[transcript.persona]
        lines = [Line("advisor", text, intent) for intent, text in transcript.lines]
        card = score(persona, rules, library, lines)
        scores[transcript.id] = card.score
        for check in card.checks:
            label = transcript.labels[check.id]
            tally = per_check.setdefault(check.id, [0, 0])
            tally[1] += 1
            if label == check.passed:
                tally[0] += 1
            else:
                disagreements.append(
                    Disagreement(transcript.id, check.id, label, check.passed, check.reason)
                )
    total = sum(t[1] for t in per_check.values())
    agreed = sum(t[0] for t in per_check.values())
    return Agreement(
        total,
        agreed,
        {check: (t[0], t[1]) for check, t in per_check.items()},
        tuple(disagreements),
        scores,
    )


def render_agreement(result: Agreement, examples: int = 0) -> str:
    lines = [
        f"scorer agrees with the trainer labels on {result.agreed}/{result.checks} checks "
        f"({result.share:.1%})",
        f"{'check':<26} {'agreed':>9}",
    ]
    for check, (agreed, labelled) in result.per_check.items():
        lines.append(f"{check:<26} {agreed:>4}/{labelled:<4}")
    for d in result.disagreements[:examples]:
        lines.append(
            f"  {d.transcript} {d.check}: label {'pass' if d.label else 'fail'}, "
            f"scored {'pass' if d.scored else 'fail'} ({d.reason})"
        )
    return "\n".join(lines)
