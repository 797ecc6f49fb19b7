"""How well a trained model reads a held-out split: intents and client_name spans.

Intents are scored by accuracy and macro-F1 (the unweighted mean over the split's
intents, so a rare intent counts as much as a common one). ``client_name`` is
scored span by span: a predicted span is right only when its start and end are
exactly the annotated ones (the action layer looks the span up as written, so
王先生说 for 王先生 is a miss), with a lenient overlap score beside it to tell
boundary slips from names not found at all. Every miss and every spurious span
is listed, since the kind of slip says what to fix.

Any ``parse`` function will do: Rasa's own agent in the tests, the NLU service's
interpreter in ``copilot bench`` (which also times each parse).
"""

from __future__ import annotations

import asyncio
import statistics
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.paths import project_root

# The original split (tidy, mostly typed) and the one written in advisors' real
# voices (run-ons, typos, slang, English names); both are held out of training.
TEST_SPLIT = Path("tests/nlu")
VOICES_SPLIT = Path("tests/nlu_voices")
TEST_SPLITS = (TEST_SPLIT, VOICES_SPLIT)
CLIENT_NAME = "client_name"

Span = tuple[int, int]
Parse = Callable[[str], dict[str, Any]]


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    names: tuple[Span, ...]  # annotated client_name spans


@dataclass(frozen=True)
class Prediction:
    example: Example
    intent: str
    names: tuple[Span, ...]
    ms: float = 0.0


@dataclass(frozen=True)
class SpanScore:
    """client_name spans: exact-match and overlap recall and precision."""

    gold: int
    predicted: int
    exact: int  # predicted spans equal to an annotated one
    gold_overlapped: int  # annotated spans that some predicted span overlaps
    predicted_overlapping: int  # predicted spans that overlap some annotated one
    missed: tuple[tuple[str, str, str], ...]  # text, annotated span, what was found there
    spurious: tuple[tuple[str, str], ...]  # text, predicted span that overlaps no annotation

    @property
    def recall(self) -> float:
        return self.exact / self.gold if self.gold else 1.0

    @property
    def precision(self) -> float:
        return self.exact / self.predicted if self.predicted else 1.0

    @property
    def f1(self) -> float:
        total = self.recall + self.precision
        return 2 * self.recall * self.precision / total if total else 0.0

    @property
    def lenient_recall(self) -> float:
        return self.gold_overlapped / self.gold if self.gold else 1.0

    @property
    def lenient_precision(self) -> float:
        return self.predicted_overlapping / self.predicted if self.predicted else 1.0


@dataclass(frozen=True)
class Evaluation:
    examples: int
    accuracy: float
    macro_f1: float
    per_intent: dict[str, float]
    errors: tuple[tuple[str, str, str], ...]  # text, expected, predicted
    names: SpanScore | None = None
    parse_ms: tuple[float, ...] = ()

    def parse_ms_percentile(self, q: float) -> float:
        ordered = sorted(self.parse_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]

    @property
    def mean_parse_ms(self) -> float:
        return statistics.fmean(self.parse_ms) if self.parse_ms else float("nan")


def load_split(folder: Path | None = None) -> list[Example]:
    """The split's examples with their client_name spans, markup removed."""
    from rasa.shared.nlu.training_data.loading import load_data

    folder = folder if folder is None or folder.is_absolute() else project_root() / folder
    data = load_data(str(folder or project_root() / TEST_SPLIT))
    return [
        Example(
            text=m.get("text"),
            intent=m.get("intent"),
            names=tuple(
                sorted(
                    (e["start"], e["end"])
                    for e in m.get("entities") or []
                    if e["entity"] == CLIENT_NAME
                )
            ),
        )
        for m in data.intent_examples
    ]


def test_examples(folder: Path | None = None) -> list[tuple[str, str]]:
    """(text, intent) pairs of a split (the original one by default)."""
    return [(e.text, e.intent) for e in load_split(folder)]


def score(pairs: Iterable[tuple[str, str, str]]) -> Evaluation:
    """Accuracy and unweighted mean F1 over the expected intents."""
    rows = list(pairs)
    true_pos: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    expected: Counter[str] = Counter()
    for _, gold, guess in rows:
        expected[gold] += 1
        predicted[guess] += 1
        if gold == guess:
            true_pos[gold] += 1
    per_intent = {}
    for intent in sorted(expected):
        precision = true_pos[intent] / predicted[intent] if predicted[intent] else 0.0
        recall = true_pos[intent] / expected[intent]
        total = precision + recall
        per_intent[intent] = 2 * precision * recall / total if total else 0.0
    return Evaluation(
        examples=len(rows),
        accuracy=sum(true_pos.values()) / len(rows) if rows else 0.0,
        macro_f1=sum(per_intent.values()) / len(per_intent) if per_intent else 0.0,
        per_intent=per_intent,
        errors=tuple(r for r in rows if r[1] != r[2]),
    )


def _overlaps(a: Span, b: Span) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def score_names(predictions: Iterable[Prediction]) -> SpanScore:
    gold = predicted = exact = gold_overlapped = predicted_overlapping = 0
    missed: list[tuple[str, str, str]] = []
    spurious: list[tuple[str, str]] = []
    for p in predictions:
        text, wanted, found = p.example.text, set(p.example.names), set(p.names)
        gold += len(wanted)
        predicted += len(found)
        exact += len(wanted & found)
        for span in sorted(wanted - found):
            near = [f for f in sorted(found) if _overlaps(span, f)]
            gold_overlapped += bool(near)
            missed.append((text, text[span[0] : span[1]], "/".join(text[a:b] for a, b in near)))
        gold_overlapped += len(wanted & found)
        for span in sorted(found):
            if any(_overlaps(span, w) for w in wanted):
                predicted_overlapping += 1
            else:
                spurious.append((text, text[span[0] : span[1]]))
    return SpanScore(
        gold,
        predicted,
        exact,
        gold_overlapped,
        predicted_overlapping,
        tuple(missed),
        tuple(spurious),
    )


def predict(parse: Parse, examples: Sequence[Example]) -> list[Prediction]:
    """Parse every example, timing each call."""
    rows = []
    for example in examples:
        started = time.perf_counter()
        parsed = parse(example.text)
        elapsed = (time.perf_counter() - started) * 1000
        # Two extractors agreeing on a span still name the client once.
        names = {
            (int(e["start"]), int(e["end"]))
            for e in parsed.get("entities") or []
            if e.get("entity") == CLIENT_NAME
        }
        rows.append(
            Prediction(example, str(parsed["intent"]["name"]), tuple(sorted(names)), elapsed)
        )
    return rows


def evaluate(parse: Parse, folder: Path | None = None) -> Evaluation:
    """Intents, client_name spans and parse times of ``parse`` on a split."""
    predictions = predict(parse, load_split(folder))
    intents = score((p.example.text, p.example.intent, p.intent) for p in predictions)
    return Evaluation(
        examples=intents.examples,
        accuracy=intents.accuracy,
        macro_f1=intents.macro_f1,
        per_intent=intents.per_intent,
        errors=intents.errors,
        names=score_names(predictions),
        parse_ms=tuple(p.ms for p in predictions),
    )


def agent_parser(agent: Any) -> Parse:
    """Rasa's own parse of a loaded agent, called synchronously."""
    return lambda text: asyncio.run(agent.parse_message(text))


def load_agent(model: Path) -> Any:
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog()  # else structlog prints a debug line for every example
    with warnings.catch_warnings():
        # Rasa 3.6 says this on every domain load, mapped slots or not.
        warnings.filterwarnings("ignore", message="Slot auto-fill has been removed")
        return Agent.load(str(model))


def evaluate_model(model: Path, folder: Path | None = None) -> Evaluation:
    """A model archive on one split, through Rasa's own parse."""
    return evaluate(agent_parser(load_agent(model)), folder)
