"""The trained model's NLU graph, run for one message at a time as fast as it goes.

The NLU service parses every advisor message, so per-call overhead that Rasa
pays for generality is worth removing here (and only here: training, story
tests and evaluation keep Rasa's own path, and a test checks both agree):

- ``processor.parse_message`` builds an empty conversation tracker for every
  message; NLU components never read it, so one is built once.
- The graph runs with :class:`bot.graph_runner.SequentialGraphRunner` instead of
  Rasa's dask-based runner.
- Rasa wraps DIET's prediction in a ``tf.function`` with a fixed input signature.
  Every call then works out again which traced graph fits the inputs, which
  costs more than the prediction itself. The signature cannot change, so the one
  traced graph is looked up once and called directly.
- Messages that arrive together are parsed together (:meth:`Interpreter.parse_many`):
  every NLU component takes a list of messages, but ``DIETClassifier.process``
  runs TensorFlow once per message, and that call costs about the same for one
  message as for eight (measured: 5.0 ms for one, 1.7 ms a message in eights). The
  DIET node's function (``GraphNode._fn``) is replaced by :func:`_predict_together`,
  which makes one batch of the messages and hands each its slice of the output
  to DIET's own ``_predict_label`` and ``_predict_entities``.
- The character n-gram featurizer builds its matrices directly
  (:mod:`bot.nlu.count_features`) instead of through scikit-learn's ``transform``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import tensorflow as tf
from rasa.core.channels import UserMessage
from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
from rasa.engine.graph import GraphNode
from rasa.nlu.classifiers.diet_classifier import DIETClassifier
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.utils.tensorflow.constants import ENTITY_RECOGNITION, INTENT_CLASSIFICATION

from bot.graph_runner import run_sequentially
from bot.nlu.count_features import install_count_rows

if TYPE_CHECKING:
    from rasa.core.agent import Agent

WARM_UP_TEXT = "你好"


def _parse_data(message: Message) -> dict[str, Any]:
    """A parsed message as ``MessageProcessor._parse_message_with_graph`` returns it."""
    parse_data: dict[str, Any] = {
        TEXT: "",
        INTENT: {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0},
        ENTITIES: [],
    }
    parse_data.update(message.as_dict(only_output_properties=True))
    return parse_data


def _pin_prediction_graph(model: Any) -> bool:
    """Call ``model``'s traced prediction graph directly; False if it has none yet."""
    function = getattr(model, "_tf_predict_step", None)
    if function is None or not hasattr(function, "get_concrete_function"):
        return False
    graph = function.get_concrete_function()

    def predict(batch: Any) -> Any:
        return graph._call_flat(
            [tf.convert_to_tensor(part) for part in batch], graph.captured_inputs
        )

    model._tf_predict_step = predict
    return True


def _slice(output: Any, index: int) -> Any:
    """Message ``index``'s part of a batch's output (arrays by their first axis)."""
    if isinstance(output, dict):
        return {key: _slice(value, index) for key, value in output.items()}
    if isinstance(output, np.ndarray) and output.ndim:
        return output[index : index + 1]
    return output


def _predict_together(diet: DIETClassifier, messages: list[Message]) -> list[Message]:
    """``DIETClassifier.process`` with one TensorFlow call for all ``messages``."""
    if len(messages) < 2 or diet.model is None:
        return DIETClassifier.process(diet, messages)
    data = diet._create_model_data(messages, training=False)
    if data.number_of_examples() != len(messages):
        return DIETClassifier.process(diet, messages)
    out = diet.model.run_inference(data, batch_size=len(messages))
    config = diet.component_config
    for index, message in enumerate(messages):
        mine = _slice(out, index)
        if config[INTENT_CLASSIFICATION]:
            label, ranking = diet._predict_label(mine)
            message.set(INTENT, label, add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        if config[ENTITY_RECOGNITION]:
            message.set(ENTITIES, diet._predict_entities(mine, message), add_to_output=True)
    return messages


def _batch_diet(nodes: list[GraphNode]) -> int:
    """Give every DIET node :func:`_predict_together`; how many there were."""
    batched = 0
    for node in nodes:
        if isinstance(node._component, DIETClassifier) and node._fn_name == "process":
            node._fn = _predict_together
            batched += 1
    return batched


class Interpreter:
    """Parses text with the NLU part of a loaded Rasa agent."""

    def __init__(self, agent: Agent) -> None:
        runner = run_sequentially(agent)
        self._processor = agent.processor
        self._runner = runner
        self._target = agent.processor.model_metadata.nlu_target
        self._tracker = DialogueStateTracker.from_events("nlu-service", [])
        self.parse(WARM_UP_TEXT)  # traces the TensorFlow graphs
        models = [getattr(component, "model", None) for component in runner.components()]
        self.pinned = sum(_pin_prediction_graph(model) for model in models if model is not None)
        self.batched = _batch_diet(runner.nodes())
        self.counted = sum(
            install_count_rows(component)
            for component in runner.components()
            if isinstance(component, CountVectorsFeaturizer)
        )

    def parse(self, text: str) -> dict[str, Any]:
        """Rasa's parse data for ``text``: intent, intent ranking, entities."""
        return self._processor._parse_message_with_graph(
            UserMessage(text), self._tracker, only_output_properties=True
        )

    def parse_many(self, texts: list[str]) -> list[dict[str, Any]]:
        """:meth:`parse` of each text, with one pass of the graph for all of them."""
        if len(texts) == 1:
            return [self.parse(texts[0])]
        results = self._runner.run(
            inputs={PLACEHOLDER_MESSAGE: [UserMessage(text) for text in texts],
                    PLACEHOLDER_TRACKER: self._tracker},
            targets=[self._target],
        )  # fmt: skip
        return [_parse_data(message) for message in results[self._target]]


def load_interpreter(model: str) -> Interpreter:
    """The interpreter of a model archive, with Rasa's log set-up as ``rasa run`` does it
    (LOG_LEVEL, default INFO; without it structlog prints a debug line per message)."""
    from rasa.core.agent import Agent
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings()
    configure_structlog()
    return Interpreter(Agent.load(model))
