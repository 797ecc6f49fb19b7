"""The jieba tokenizer drops whitespace and keeps domain words and honorific names whole."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.components import CleanJiebaTokenizer


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> CleanJiebaTokenizer:
    storage = LocalModelStorage(tmp_path_factory.mktemp("storage"))
    config = CleanJiebaTokenizer.get_default_config()
    context = ExecutionContext(GraphSchema({}), "test")
    return CleanJiebaTokenizer.create(config, storage, Resource("tokenizer"), context)


def tokens(tokenizer: CleanJiebaTokenizer, text: str) -> list[str]:
    return [t.text for t in tokenizer.tokenize(Message(data={TEXT: text}), TEXT)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("看 LV 的包", ["看", "LV", "的", "包"]),
        ("  查一下   王先生 ", ["查", "一下", "王先生"]),
        ("李总来了 他有啥喜好", ["李总", "来", "了", "他", "有", "啥", "喜好"]),
    ],
)
def test_no_whitespace_tokens(
    tokenizer: CleanJiebaTokenizer, text: str, expected: list[str]
) -> None:
    assert tokens(tokenizer, text) == expected


def test_domain_words_stay_whole(tokenizer: CleanJiebaTokenizer) -> None:
    words = tokens(tokenizer, "她想要玫瑰金的陀飞轮，戒圈11号，靠窗坐")
    assert {"玫瑰金", "陀飞轮", "戒圈", "靠窗"} <= set(words)


def test_offsets_point_into_the_text(tokenizer: CleanJiebaTokenizer) -> None:
    text = "看 LV 的包"
    for token in tokenizer.tokenize(Message(data={TEXT: text}), TEXT):
        assert text[token.start : token.end] == token.text


def test_persisted_dictionary_includes_generated_honorifics(tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path)
    resource = Resource("tok")
    context = ExecutionContext(GraphSchema({}), "test")
    component = CleanJiebaTokenizer.create(
        CleanJiebaTokenizer.get_default_config(), storage, resource, context
    )
    component.persist()
    with storage.read_from(resource) as folder:
        names = {p.name for p in Path(folder).iterdir()}
    assert "generated_honorifics.txt" in names
    assert "service.txt" in names
