"""A graph runner that calls a loaded model's nodes in order, without dask.

Rasa runs every parse and every action prediction through ``DaskGraphRunner``,
which on each call works out the part of the graph the targets need, builds a
dask task graph from it and lets dask's scheduler walk it. For one message at a
time in a small graph that bookkeeping costs about as much as a spaCy pass. The
graph of a loaded model never changes, so this runner works out each target
set's nodes and their order once and then simply calls them: same nodes, same
inputs, same results (a test compares it with Rasa's own runner).
"""

from __future__ import annotations

from graphlib import TopologicalSorter
from typing import TYPE_CHECKING, Any

from rasa.engine.graph import ExecutionContext, GraphNode, GraphNodeHook, GraphSchema
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.engine.runner.interface import GraphRunner
from rasa.engine.storage.storage import ModelStorage

if TYPE_CHECKING:
    from rasa.core.agent import Agent

Step = tuple[str, GraphNode, tuple[str, ...]]


class SequentialGraphRunner(GraphRunner):
    """Runs the nodes a set of targets needs, in dependency order, one by one."""

    def __init__(self, schema: GraphSchema, nodes: dict[str, GraphNode]) -> None:
        self._schema = schema
        self._nodes = nodes
        self._plans: dict[tuple[str, ...], list[Step]] = {}

    @classmethod
    def create(
        cls,
        graph_schema: GraphSchema,
        model_storage: ModelStorage,
        execution_context: ExecutionContext,
        hooks: list[GraphNodeHook] | None = None,
    ) -> SequentialGraphRunner:
        return cls.replacing(DaskGraphRunner(graph_schema, model_storage, execution_context, hooks))

    @classmethod
    def replacing(cls, runner: DaskGraphRunner) -> SequentialGraphRunner:
        """A runner over the nodes ``runner`` already loaded (nothing is loaded twice)."""
        return cls(runner._graph_schema, runner._instantiated_nodes)

    def components(self) -> list[Any]:
        """The loaded graph components, e.g. to tune a model after loading."""
        return [node._component for node in self._nodes.values()]

    def nodes(self) -> list[GraphNode]:
        """The loaded graph nodes, e.g. to change how one calls its component."""
        return list(self._nodes.values())

    def _plan(self, targets: tuple[str, ...]) -> list[Step]:
        plan = self._plans.get(targets)
        if plan is None:
            schema = self._schema.minimal_graph_schema(list(targets))
            needs = {name: tuple(node.needs.values()) for name, node in schema.nodes.items()}
            order = TopologicalSorter({name: set(inputs) for name, inputs in needs.items()})
            plan = [(name, self._nodes[name], needs[name]) for name in order.static_order()
                    if name in needs]  # fmt: skip
            self._plans[targets] = plan
        return plan

    def run(
        self, inputs: dict[str, Any] | None = None, targets: list[str] | None = None
    ) -> dict[str, Any]:
        """Each target's output, as ``DaskGraphRunner.run`` returns them."""
        run_targets = tuple(targets or self._schema.target_names)
        # Every node returns (its name, its output) and receives its parents' pairs;
        # an input nobody provided is passed as its bare name, as dask does.
        outputs: dict[str, Any] = {name: (name, value) for name, value in (inputs or {}).items()}
        for name, node, needs in self._plan(run_targets):
            outputs[name] = node(*(outputs.get(need, need) for need in needs))
        return dict(outputs[target] for target in run_targets)


def run_sequentially(agent: Agent) -> SequentialGraphRunner:
    """Make ``agent``'s loaded model run its graph with :class:`SequentialGraphRunner`."""
    processor = agent.processor
    if processor is None:
        raise ValueError("the agent has no model loaded")
    if isinstance(processor.graph_runner, DaskGraphRunner):
        processor.graph_runner = SequentialGraphRunner.replacing(processor.graph_runner)
    return processor.graph_runner
