"""Intent accuracy and macro-F1 of a trained model on the held-out test split."""

from __future__ import annotations

import asyncio
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.paths import project_root

TEST_SPLIT = Path("tests/nlu")


@dataclass(frozen=True)
class Evaluation:
    examples: int
    accuracy: float
    macro_f1: float
    per_intent: dict[str, float]
    errors: tuple[tuple[str, str, str], ...]  # text, expected, predicted


def test_examples(folder: Path | None = None) -> list[tuple[str, str]]:
    """(text, intent) pairs of the test split, entity markup removed."""
    from rasa.shared.nlu.training_data.loading import load_data

    folder = folder or project_root() / TEST_SPLIT
    data = load_data(str(folder))
    return [(m.get("text"), m.get("intent")) for m in data.intent_examples]


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


async def _predict(model: Path, examples: Sequence[tuple[str, str]]) -> list[tuple[str, str, str]]:
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog()  # else structlog prints a debug line for every example
    with warnings.catch_warnings():
        # Rasa 3.6 says this on every domain load, mapped slots or not.
        warnings.filterwarnings("ignore", message="Slot auto-fill has been removed")
        agent = Agent.load(str(model))
    rows = []
    for text, gold in examples:
        parsed = await agent.parse_message(text)
        rows.append((text, gold, str(parsed["intent"]["name"])))
    return rows


def evaluate_model(model: Path, folder: Path | None = None) -> Evaluation:
    return score(asyncio.run(_predict(model, test_examples(folder))))
