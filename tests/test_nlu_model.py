"""The trained model: test-split quality, entities and tokenization."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.nlu.evaluate import evaluate_model

pytestmark = pytest.mark.model
MIN_MACRO_F1 = 0.90


def parse(rasa_agent: Any, text: str) -> dict[str, Any]:
    return asyncio.run(rasa_agent.parse_message(text))


def test_macro_f1_on_held_out_split(trained_model: Path) -> None:
    evaluation = evaluate_model(trained_model)
    assert evaluation.examples >= 24 * 12
    worst = sorted(evaluation.per_intent.items(), key=lambda kv: kv[1])[:5]
    assert evaluation.macro_f1 >= MIN_MACRO_F1, (
        f"macro-F1 {evaluation.macro_f1:.3f}; weakest {worst}"
    )


@pytest.mark.parametrize(
    ("text", "entity", "value"),
    [
        ("帮我查一下王先生", "client_name", "王先生"),
        ("李总来了 他有啥喜好", "client_name", "李总"),
        ("记一下,王建国不吃蒜", "client_name", "王建国"),
        ("记一下,王建国不吃蒜", "preference_category", "忌口"),
        ("张女士酸梅汤要冰的大杯", "preference_category", "饮品"),
        ("欧阳娜娜喜欢靠窗的位置", "preference_category", "座位"),
        ("他想看 LV 的包", "product", "LV"),
    ],
)
def test_entities(rasa_agent: Any, text: str, entity: str, value: str) -> None:
    found = [(e["entity"], e["value"]) for e in parse(rasa_agent, text)["entities"]]
    assert (entity, value) in found, found


def test_common_words_are_not_names(rasa_agent: Any) -> None:
    found = parse(rasa_agent, "周末方便的话金色那款给她看看")["entities"]
    assert not [e for e in found if e["entity"] == "client_name"], found
