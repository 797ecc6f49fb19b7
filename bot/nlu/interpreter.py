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
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import tensorflow as tf
from rasa.core.channels import UserMessage
from rasa.shared.core.trackers import DialogueStateTracker

from bot.graph_runner import run_sequentially

if TYPE_CHECKING:
    from rasa.core.agent import Agent

WARM_UP_TEXT = "你好"


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


class Interpreter:
    """Parses text with the NLU part of a loaded Rasa agent."""

    def __init__(self, agent: Agent) -> None:
        runner = run_sequentially(agent)
        self._processor = agent.processor
        self._tracker = DialogueStateTracker.from_events("nlu-service", [])
        self.parse(WARM_UP_TEXT)  # traces the TensorFlow graphs
        models = [getattr(component, "model", None) for component in runner.components()]
        self.pinned = sum(_pin_prediction_graph(model) for model in models if model is not None)

    def parse(self, text: str) -> dict[str, Any]:
        """Rasa's parse data for ``text``: intent, intent ranking, entities."""
        return self._processor._parse_message_with_graph(
            UserMessage(text), self._tracker, only_output_properties=True
        )


def load_interpreter(model: str) -> Interpreter:
    """The interpreter of a model archive, with Rasa's log set-up as ``rasa run`` does it
    (LOG_LEVEL, default INFO; without it structlog prints a debug line per message)."""
    from rasa.core.agent import Agent
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings()
    configure_structlog()
    return Interpreter(Agent.load(model))
