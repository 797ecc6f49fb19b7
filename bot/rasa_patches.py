"""The Rasa server's speed-ups, installed in one place: what each patches and why.

Rasa 3.6 offers no setting for any of these; each replaces or wraps one piece of
Rasa once the model is loaded. :func:`listeners` gives them to Rasa's own
server start-up (``serve_application(server_listeners=...)``, see
:mod:`bot.rasa_server`), so they are part of starting the server, not of a
channel. ``tests/test_rasa_patches.py`` checks every Rasa internal named here,
so a Rasa upgrade that moves one fails a test instead of silently slowing turns.

1. **Graph runner** (:mod:`bot.graph_runner`): ``MessageProcessor.graph_runner``,
   a ``DaskGraphRunner``, is replaced by a runner over the same loaded nodes that
   calls them in a fixed order; dask's per-call scheduling cost as much as a spaCy
   pass. Reads ``DaskGraphRunner._graph_schema`` and ``._instantiated_nodes``.
2. **Action connections** (:mod:`bot.action_endpoint`): ``Agent.action_endpoint``
   and ``MessageProcessor.action_endpoint`` become an ``EndpointConfig`` whose
   ``session()`` lends one kept-alive aiohttp session, instead of a new
   connection per action call; and the NLU interpreter's aiohttp session
   (``RasaNLUHttpInterpreter.session``) gets the ``nlu:`` endpoint's headers,
   which Rasa leaves out, so the NLU service's secret travels in a header.
3. **Action response check** (:mod:`bot.action_validation`):
   ``RemoteAction._validate_action_result`` checks each event against the one
   schema alternative its ``event`` names, with validators compiled once, instead
   of against all 23 and re-checking the schema itself on every action call.
4. **Rule matching** (:mod:`bot.rule_matching`): ``RulePolicy._get_possible_keys``,
   which filters every learned rule against the conversation's states on every
   prediction, remembers its answer per distinct states (a quarter of the
   server's CPU per turn went there); and ``DialogueStateTracker.past_states``,
   which RulePolicy asks twice after each message (text, then intent) from the
   same events, answers the second time from the first (copies: callers edit
   them).
5. **Empty-domain check** (:mod:`bot.domain_check`): ``Domain.is_empty``, asked
   for every message, compares with one empty domain made once instead of
   building a new one each time.
6. **Action call payload** (:mod:`bot.action_payload`):
   ``RemoteAction._action_call_format`` sends the tracker's state with the
   current turn's events (from the latest ``action_listen``) instead of every
   kept event: the actions read the slots and the latest message, and encoding
   the whole history into every call was 6 % of the server's CPU a turn.
7. **Garbage collector** (:mod:`bot.heap`): the ~600,000 objects of the loaded
   model are moved out of the collector's reach (``gc.freeze``), so a full
   collection no longer stalls every turn in flight for a third of a second.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.action_endpoint import KeepAliveEndpoint, keep_connections
from bot.action_payload import install_current_turn_calls
from bot.action_validation import install_compiled_action_validation
from bot.domain_check import install_empty_domain_memo
from bot.graph_runner import run_sequentially
from bot.heap import freeze_loaded_objects
from bot.rule_matching import install_rule_memo, install_states_memo

logger = logging.getLogger(__name__)

Listener = Callable[[Any, Any], Awaitable[None]]
ACTIONS_ATTRIBUTE = "copilot_actions"


def install(agent: Any) -> KeepAliveEndpoint | None:
    """Patch a loaded agent (1–6 above); the keep-alive action endpoint, to close at stop."""
    install_compiled_action_validation()
    install_current_turn_calls()
    install_empty_domain_memo()
    install_rule_memo()
    install_states_memo()
    if agent is None or not agent.is_ready():
        return None
    run_sequentially(agent)
    return keep_connections(agent)


async def after_server_start(app: Any, _loop: Any) -> None:
    """Rasa loaded the model before the server started (``load_agent_on_start``)."""
    agent = getattr(app.ctx, "agent", None)
    setattr(app.ctx, ACTIONS_ATTRIBUTE, install(agent))
    freeze_loaded_objects()
    logger.info("Copilot speed-ups installed (bot.rasa_patches)")


async def before_server_stop(app: Any, _loop: Any) -> None:
    endpoint = getattr(app.ctx, ACTIONS_ATTRIBUTE, None)
    if endpoint is not None:
        await endpoint.close()


def listeners() -> list[tuple[Listener, str]]:
    """``(listener, Sanic event)`` pairs for Rasa's ``server_listeners``."""
    return [(after_server_start, "after_server_start"), (before_server_stop, "before_server_stop")]
