"""The trained model: quality on both held-out splits, entities and tokenization."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.nlu.evaluate import TEST_SPLIT, TEST_SPLITS, VOICES_SPLIT, agent_parser, evaluate

pytestmark = pytest.mark.model
MIN_MACRO_F1 = 0.90
# client_name spans on the voices split, exact start and end (see bot.nlu.evaluate).
MIN_NAME_RECALL = 0.90
MIN_NAME_PRECISION = 0.90
MIN_EXAMPLES = {TEST_SPLIT: 24 * 12, VOICES_SPLIT: 26 * 40}


def parse(rasa_agent: Any, text: str) -> dict[str, Any]:
    return asyncio.run(rasa_agent.parse_message(text))


@pytest.mark.parametrize("split", TEST_SPLITS, ids=str)
def test_held_out_split(rasa_agent: Any, split: Path) -> None:
    evaluation = evaluate(agent_parser(rasa_agent), split)
    assert evaluation.examples >= MIN_EXAMPLES[split]
    worst = sorted(evaluation.per_intent.items(), key=lambda kv: kv[1])[:5]
    assert evaluation.macro_f1 >= MIN_MACRO_F1, (
        f"macro-F1 {evaluation.macro_f1:.3f}; weakest {worst}"
    )
    names = evaluation.names
    assert names is not None
    if split == VOICES_SPLIT:
        assert names.recall >= MIN_NAME_RECALL, names.missed[:20]
        assert names.precision >= MIN_NAME_PRECISION, names.spurious[:20]


@pytest.mark.parametrize(
    ("text", "entity", "value"),
    [
        ("帮我查一下王先生", "client_name", "王先生"),
        ("李总来了 他有啥喜好", "client_name", "李总"),
        ("记一下,王建国不吃蒜", "client_name", "王建国"),
        ("Amy孙说想看看表", "client_name", "Amy孙"),
        ("陈太说她不吃辣", "client_name", "陈太"),
        ("记一下,王建国不吃蒜", "preference_category", "忌口"),
        ("张女士酸梅汤要冰的大杯", "preference_category", "饮品"),
        ("欧阳娜娜喜欢靠窗的位置", "preference_category", "座位"),
        ("他想看 LV 的包", "product", "LV"),
    ],
)
def test_entities(rasa_agent: Any, text: str, entity: str, value: str) -> None:
    found = [(e["entity"], e["value"]) for e in parse(rasa_agent, text)["entities"]]
    assert (entity, value) in found, found


@pytest.mark.parametrize(
    "text", ["周末方便的话金色那款给她看看", "这只行李箱是万向轮的 推起来很顺", "她说想坐包间"]
)
def test_common_words_are_not_names(rasa_agent: Any, text: str) -> None:
    found = parse(rasa_agent, text)["entities"]
    assert not [e for e in found if e["entity"] == "client_name"], found
