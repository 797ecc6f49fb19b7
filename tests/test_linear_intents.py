"""The linear intent classifier: its fast path is scikit-learn's, its file is checked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io as sio
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import hstack

from bot.nlu.evaluate import TEST_SPLITS
from bot.nlu.evaluate import test_examples as split_examples  # not collected as a test
from bot.nlu.linear_intents import (
    MODEL_FILE,
    NAME,
    LinearIntentClassifier,
    UnexpectedModelContent,
    _chars,
    _words,
)


def _components(agent: Any, kind: type) -> list[Any]:
    nodes = agent.processor.graph_runner._instantiated_nodes.values()
    return [node._component for node in nodes if isinstance(node._component, kind)]


@pytest.mark.model
def test_probabilities_are_scikit_learns(rasa_agent: Any) -> None:
    """Every test-split text: the contiguous-weights softmax equals ``predict_proba``."""
    [classifier] = _components(rasa_agent, LinearIntentClassifier)
    [tokenizer] = _components(rasa_agent, Tokenizer)
    texts = [text for split in TEST_SPLITS for text, _ in split_examples(split)]
    messages = tokenizer.process([Message(data={TEXT: text}) for text in texts])
    features = classifier._features(messages)
    assert_same_features(features, _sklearn_features(classifier, messages))
    expected = classifier.parts["model"].predict_proba(features)
    assert np.allclose(classifier.probabilities(features), expected, rtol=0, atol=1e-9)


def _sklearn_features(classifier: LinearIntentClassifier, messages: list[Message]) -> Any:
    """The two views as scikit-learn's own ``transform`` makes them."""
    assert classifier.parts is not None
    return hstack(
        [
            classifier.parts["chars"].transform([_chars(m) for m in messages]),
            classifier.parts["words"].transform([_words(m) for m in messages]),
        ]
    ).tocsr()


def assert_same_features(ours: Any, theirs: Any) -> None:
    theirs.sort_indices()
    assert ours.shape == theirs.shape
    assert np.array_equal(ours.indptr, theirs.indptr)
    assert np.array_equal(ours.indices, theirs.indices)
    assert np.allclose(ours.data, theirs.data, rtol=0, atol=1e-12)


def _context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test")


def _tokenized(text: str, intent: str | None = None) -> Message:
    """A message cut into characters, as a tokenizer before the classifier would."""
    message = Message(data={TEXT: text, **({"intent": intent} if intent else {})})
    message.set(TOKENS_NAMES[TEXT], [Token(char, index) for index, char in enumerate(text)])
    return message


def test_trains_saves_and_loads(tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path)
    resource = Resource("intents")
    classifier = LinearIntentClassifier.create({}, storage, resource, _context())
    lookup, record, greet = "lookup_client", "record_preference", "greet"
    pairs = [("查一下王先生", lookup), ("查下李总", lookup), ("记一下他不吃辣", record),
             ("记下她喝美式", record), ("你好呀", greet), ("早上好", greet)]  # fmt: skip
    classifier.train(TrainingData([_tokenized(text, intent) for text, intent in pairs]))
    loaded = LinearIntentClassifier.load({}, storage, resource, _context())
    texts = ["查一下陈先生", "记一下她喝美式 喝 喝", "", "完全没见过的字", "你好呀 早上好"]
    messages = [_tokenized(text) for text in texts]
    assert_same_features(loaded._features(messages), _sklearn_features(loaded, messages))
    [message] = loaded.process([_tokenized("查一下陈先生")])
    assert message.get("intent")["name"] == "lookup_client"
    ranking = message.get("intent_ranking")
    assert sorted(r["name"] for r in ranking) == [greet, lookup, record]
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0)


def test_a_client_name_is_one_placeholder() -> None:
    """Names, annotated or found, weigh alike: each is one placeholder in both views."""
    message = _tokenized("记一下赵子轩和Amy孙都不吃辣")
    message.set(ENTITIES, [{"entity": "client_name", "start": 3, "end": 6},
                           {"entity": "client_name", "start": 7, "end": 11},
                           {"entity": "preference_category", "start": 12, "end": 15}])  # fmt: skip
    assert _chars(message) == f"记一下{NAME}和{NAME}都不吃辣"
    assert _words(message) == f"记 一 下 {NAME} 和 {NAME} 都 不 吃 辣"


def test_a_file_with_other_types_is_refused(tmp_path: Path) -> None:
    """A model file holding what this classifier never saves is not loaded."""
    storage = LocalModelStorage(tmp_path)
    resource = Resource("intents")
    with storage.write_to(resource) as folder:
        sio.dump({"model": os.system}, folder / MODEL_FILE)
    with pytest.raises(UnexpectedModelContent, match=r"posix\.system"):
        LinearIntentClassifier.load({}, storage, resource, _context())


def test_skops_is_imported_without_silencing_the_log() -> None:
    """In a fresh process (skops imported once): the root logger keeps its level."""
    script = (
        "import logging; logging.getLogger().setLevel(logging.INFO)\n"
        "from bot.nlu.linear_intents import _skops_io; _skops_io()\n"
        "assert logging.getLogger().level == logging.INFO, logging.getLogger().level\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
