"""The server hooks: every Rasa internal that bot.rasa_patches relies on is still there,
and the hooks reach Rasa's server start-up the way bot.rasa_server hands them over.

These read Rasa's own code rather than load a model, so a Rasa upgrade that
renames or moves a patched piece fails here, by name, in a second.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import inspect
from types import SimpleNamespace
from typing import Any

import pluggy
import pytest
import rasa
from rasa.core import run as rasa_run
from rasa.core.actions.action import RemoteAction
from rasa.core.agent import Agent
from rasa.core.http_interpreter import RasaNLUHttpInterpreter
from rasa.core.policies.rule_policy import RulePolicy
from rasa.core.processor import MessageProcessor
from rasa.engine.graph import GraphNode
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot import rasa_patches
from bot.rasa_server import ServerHooks


def source(thing: Any) -> str:
    return inspect.getsource(thing)


def test_rasa_is_the_version_the_patches_were_written_for() -> None:
    assert rasa.__version__.startswith("3.6."), (
        f"Rasa {rasa.__version__}: re-check every patch in bot/rasa_patches.py"
    )


def test_graph_runner_internals() -> None:
    """1. The sequential runner takes over the nodes Rasa's runner loaded."""
    init = source(DaskGraphRunner.__init__)
    assert "self._graph_schema = graph_schema" in init
    assert "self._instantiated_nodes" in init
    assert "self._component" in source(GraphNode)
    processor_init = source(MessageProcessor.__init__)
    assert "self.graph_runner" in processor_init
    assert "self.graph_runner.run(" in source(MessageProcessor)


def test_action_endpoint_internals() -> None:
    """2. Actions are created from the processor's endpoint, whose session() is borrowed."""
    assert "self.action_endpoint = action_endpoint" in source(Agent.__init__)
    assert "self.action_endpoint = action_endpoint" in source(MessageProcessor.__init__)
    assert source(MessageProcessor).count("self.domain, self.action_endpoint") >= 3
    assert "async with self.session() as session" in source(EndpointConfig.request)


def test_nlu_interpreter_internals() -> None:
    """2. The NLU interpreter's one aiohttp session, which the headers are added to."""
    init = source(RasaNLUHttpInterpreter.__init__)
    assert "self.session = aiohttp.ClientSession()" in init
    assert "self.endpoint_config = endpoint_config" in init
    assert "self.session.post(" in source(RasaNLUHttpInterpreter)
    assert "self.http_interpreter.parse(" in source(MessageProcessor)


def test_nlu_service_batching_internals() -> None:
    """The NLU service's passes over several messages (bot.nlu.interpreter) call DIET's
    own helpers in the order ``DIETClassifier.process`` does, one message at a time."""
    from rasa.nlu.classifiers.diet_classifier import DIETClassifier

    assert "self._fn(self._component" in source(GraphNode.__call__)
    assert "self._fn_name" in source(GraphNode.__init__)
    predict = source(DIETClassifier._predict)
    assert "self._create_model_data([message], training=False)" in predict
    assert "return self.model.run_inference(model_data)" in predict
    process = source(DIETClassifier.process)
    assert "out = self._predict(message)" in process
    assert "label, label_ranking = self._predict_label(out)" in process
    assert "entities = self._predict_entities(out, message)" in process
    assert 'message.set("intent_ranking", label_ranking, add_to_output=True)' in process
    parse = source(MessageProcessor._parse_message_with_graph)
    assert "inputs={PLACEHOLDER_MESSAGE: [message], PLACEHOLDER_TRACKER: tracker}" in parse
    assert "parsed_message.as_dict(only_output_properties=only_output_properties)" in parse


def test_action_validation_internals() -> None:
    """3. The response check that is compiled once."""
    assert callable(RemoteAction.action_response_format_spec)
    assert "self._validate_action_result(" in source(RemoteAction.run)
    params = inspect.signature(RemoteAction._validate_action_result).parameters
    assert list(params) == ["self", "result"]


def test_rule_matching_internals() -> None:
    """4. The rule filter whose answers are remembered: a pure function of the rule table
    and the states, called for the rules and for a loop's unhappy paths."""
    params = inspect.signature(RulePolicy._get_possible_keys).parameters
    assert list(params) == ["self", "lookup", "states"]
    find = source(RulePolicy._find_action_from_rules)
    assert "self._get_possible_keys(self.lookup[RULES], states)" in find
    body = source(RulePolicy._get_possible_keys)
    assert "self._is_rule_applicable(_key, i, state)" in body and "self.lookup" not in body
    # The states asked for twice after a message, from the same tracker.
    states = source(RulePolicy._find_action_from_rules)
    assert "states = self._prediction_states(" in states
    params = inspect.signature(DialogueStateTracker.past_states).parameters
    assert list(params) == [
        "self",
        "domain",
        "omit_unset_slots",
        "ignore_rule_only_turns",
        "rule_only_data",
    ]
    assert "domain.states_for_tracker_history(" in source(DialogueStateTracker.past_states)
    assert "self.events" in source(DialogueStateTracker.update)


def test_server_start_up_internals() -> None:
    """The listeners reach Sanic through serve_application, after the model is loaded."""
    assert "server_listeners" in inspect.signature(rasa_run.serve_application).parameters
    assert "app.register_listener(listener, event)" in source(rasa_run.configure_app)
    serve = source(rasa_run.serve_application)
    assert "load_agent_on_start" in serve and '"before_server_start"' in serve
    assert "cmdline_arguments.func(cmdline_arguments)" in source(
        __import__("rasa.__main__", fromlist=["main"]).main
    )


def test_the_plugin_adds_the_listeners_to_rasa_run() -> None:
    """Rasa's own hook spec, a fresh plugin manager: the parsed arguments get the hooks."""
    manager = pluggy.PluginManager("rasa")
    manager.add_hookspecs(__import__("rasa.plugin", fromlist=["hookspec"]))
    manager.register(ServerHooks())
    arguments = argparse.Namespace()
    assert manager.hook.configure_commandline(cmdline_arguments=arguments) == []
    assert arguments.server_listeners == rasa_patches.listeners()


def test_rasa_run_passes_the_listeners_to_serve_application(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    received: dict[str, Any] = {}

    @functools.wraps(rasa_run.serve_application)  # Rasa passes what its signature takes
    def serve_application(*_: Any, **kwargs: Any) -> None:
        received.update(kwargs)

    monkeypatch.setattr(rasa_run, "serve_application", serve_application)
    rasa.api.run(
        "models", None, credentials="credentials.yml", server_listeners=rasa_patches.listeners()
    )
    assert received["server_listeners"] == rasa_patches.listeners()


def test_the_listeners_patch_a_loaded_agent_and_close_at_stop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    done: list[str] = []

    class Endpoint:
        async def close(self) -> None:
            done.append("closed")

    agent = SimpleNamespace(is_ready=lambda: True)
    monkeypatch.setattr(rasa_patches, "run_sequentially", lambda a: done.append("runner"))
    monkeypatch.setattr(rasa_patches, "keep_connections", lambda a: Endpoint())
    monkeypatch.setattr(rasa_patches, "freeze_loaded_objects", lambda: done.append("frozen"))
    app = SimpleNamespace(ctx=SimpleNamespace(agent=agent))
    listeners = dict((event, listener) for listener, event in rasa_patches.listeners())

    asyncio.run(listeners["after_server_start"](app, None))
    asyncio.run(listeners["before_server_stop"](app, None))
    assert done == ["runner", "frozen", "closed"]
    assert getattr(RemoteAction, "_copilot_compiled_validation", False)


def _responses() -> list[Any]:
    """Action server answers: every event rasa-sdk makes, and each broken in the ways
    the schema forbids (and in ways it allows)."""
    from datetime import datetime

    from rasa_sdk import events as sdk

    entity = {"entity": "client_name", "value": "王建国", "start": 0, "end": 3}
    made = [
        sdk.UserUttered("王建国", {"intent": {"name": "lookup_client", "confidence": 0.9},
                                  "entities": [entity], "text": "王建国"}),
        sdk.BotUttered("好的", {"custom": {"copilot": {}}}, {"utter_action": "x"}),
        sdk.SlotSet("active_client_id", "C0001"), sdk.SlotSet("pending", None),
        sdk.Restarted(), sdk.SessionStarted(), sdk.UserUtteranceReverted(), sdk.AllSlotsReset(),
        sdk.ReminderScheduled("remind", datetime(2026, 11, 29, 10)), sdk.ReminderCancelled(),
        sdk.ActionReverted(), sdk.StoryExported(), sdk.FollowupAction("action_listen"),
        sdk.ConversationPaused(), sdk.ConversationResumed(),
        sdk.ActionExecuted("action_lookup_client", policy="RulePolicy", confidence=1.0),
        sdk.AgentUttered("hi"), sdk.ActiveLoop("a_form"), sdk.Form("a_form"),
        sdk.LoopInterrupted(True), sdk.FormValidation(False),
        sdk.ActionExecutionRejected("action_x"),
        {"event": "entities", "entities": [entity]},
        {"event": "user_featurization", "use_text_for_featurization": False},
    ]  # fmt: skip
    broken: list[Any] = []
    for event in made:
        broken += [
            {k: v for k, v in event.items() if k != "event"},
            {**event, "event": "nope"},
            {**event, "event": 5},
            {**event, "timestamp": "yesterday"},
            {**event, "metadata": 3},
            {**event, "extra": {"anything": [1, 2]}},  # allowed: no additionalProperties
        ]
    broken += [
        {"event": "slot", "name": "pending"},
        {"event": "slot", "name": 3, "value": 1},
        {"event": "entities"},
        {"event": "entities", "entities": [{"entity": "x"}]},
        {"event": "user", "parse_data": {"intent": {"name": 5}}},
        {"event": "user", "parse_data": {"entities": [{"value": "x"}]}},
        {"event": "user", "parse_data": {"response_selector": {"all_retrieval_intents": []}}},
        {"event": "action", "name": 7},
        {"event": "action", "hide_rule_turn": "no"},
        "slot",
        None,
    ]
    answers: list[Any] = [{"events": [event], "responses": []} for event in made + broken]
    answers += [
        {"events": made, "responses": [{"text": "好"}]},
        {"events": made + broken[:1]},
        {},
        {"responses": [{"text": 3}]},
        {"responses": ["好"]},
        {"events": {"event": "slot"}},
        {"events": None},
        [],
        "ok",
    ]
    return answers


def test_action_validation_gives_jsonschemas_verdicts() -> None:
    """3. Checked event by event, every answer gets the verdict of the whole schema."""
    from jsonschema import ValidationError, validators

    from bot.action_validation import ResponseValidator, dispatchable

    spec = RemoteAction.action_response_format_spec()
    assert dispatchable(spec), "Rasa's response schema changed shape: re-check the validator"
    whole = validators.validator_for(spec)(spec)
    fast = ResponseValidator(spec)
    verdicts = [(whole.is_valid(answer), fast.is_valid(answer)) for answer in _responses()]
    assert [expected for expected, _ in verdicts] == [got for _, got in verdicts]
    assert sum(ok for ok, _ in verdicts) > 30 and sum(not ok for ok, _ in verdicts) > 80

    rasa_patches.install_compiled_action_validation()
    action = RemoteAction("action_x", None)
    assert action._validate_action_result({"events": [{"event": "slot", "name": "a", "value": 1}]})
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result({"events": [{"event": "slot", "name": "a"}]})


def test_empty_domain_check_internals_and_verdicts() -> None:
    """5. The per-message check still asks is_empty; with the empty domain made once, it
    gives the answers it gave before for an empty and a loaded domain."""
    from rasa.shared.core.domain import Domain

    from bot.paths import project_root

    assert "self.domain.is_empty()" in source(MessageProcessor._check_for_unseen_features)
    loaded = Domain.load(str(project_root() / "domain"))
    empty = Domain.from_dict({})
    before = (loaded.is_empty(), empty.is_empty(), Domain.empty().is_empty())
    rasa_patches.install_empty_domain_memo()
    assert getattr(Domain.is_empty, "_copilot_memo", False)
    assert (loaded.is_empty(), empty.is_empty(), Domain.empty().is_empty()) == before
    assert before == (False, True, True)


def _conversation(domain: Any) -> DialogueStateTracker:
    """Two turns of a conversation, the second being answered."""
    from rasa.shared.core.events import (
        ActionExecuted,
        BotUttered,
        SessionStarted,
        SlotSet,
        UserUttered,
    )

    from bot.advisors import AdvisorIdentity

    def said(text: str, intent: str, **entities: str) -> UserUttered:
        found = [{"entity": k, "value": v, "start": 0, "end": len(v)} for k, v in entities.items()]
        return UserUttered(
            text,
            {"name": intent, "confidence": 0.93},
            found,
            {"text": text, "intent_ranking": [{"name": intent, "confidence": 0.93}]},
            metadata=AdvisorIdentity("A-ZHOU", "周婷", "静安店", "advisor").to_metadata(),
        )

    events = [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
        said("帮我查一下王先生", "lookup_client", client_name="王先生"),
        ActionExecuted("action_lookup_client"),
        BotUttered("王建国先生的卡片……", {"custom": {"copilot": {"client": "C0001"}}}),
        SlotSet("active_client_id", "C0001"),
        ActionExecuted("action_listen"),
        said("记一下他喜欢靠窗", "record_preference"),
    ]
    return DialogueStateTracker.from_events("A-ZHOU", events, slots=domain.slots)


def test_action_calls_carry_the_current_turn_and_what_rasa_sends_besides() -> None:
    """6. The call is Rasa's own but for the events: those from the latest action_listen.
    The actions build the same turn from it, with and without selective domains."""
    from rasa.shared.core.domain import Domain
    from rasa_sdk import Tracker

    from actions.adapter import turn_from_tracker
    from bot.action_payload import install_current_turn_calls
    from bot.paths import project_root

    assert "self._action_call_format(tracker, domain)" in source(RemoteAction.run)
    install_current_turn_calls()  # perhaps already, by the listeners' test
    patched = RemoteAction._action_call_format
    original = patched._copilot_original  # type: ignore[attr-defined]
    assert "tracker.current_state(EventVerbosity.ALL)" in source(original)

    domain = Domain.load(str(project_root() / "domain"))
    tracker = _conversation(domain)
    for selective in (True, False):
        endpoint = EndpointConfig("http://127.0.0.1:1/webhook", enable_selective_domain=selective)
        action = RemoteAction("action_record_preference", endpoint)
        full, sent = original(action, tracker, domain), patched(action, tracker, domain)
        full_events, sent_events = full["tracker"].pop("events"), sent["tracker"].pop("events")
        assert sent == full
        assert ("domain" in sent) is not selective
        assert [e["event"] for e in sent_events] == ["action", "user"]
        assert sent_events == full_events[-2:] and len(full_events) == 9
        turns = [
            turn_from_tracker(
                Tracker.from_dict({**call["tracker"], "events": events}), lambda _: None
            )
            for call, events in ((full, full_events), (sent, sent_events))
        ]
        assert turns[0] == turns[1] and turns[0].slots["active_client_id"] == "C0001"
        assert turns[0].text == "记一下他喜欢靠窗" and turns[0].advisor.id == "A-ZHOU"


def test_a_conversation_without_action_listen_sends_every_event() -> None:
    from rasa.shared.core.events import ActionExecuted, SessionStarted

    from bot.action_payload import current_turn

    events = [ActionExecuted("action_session_start"), SessionStarted()]
    assert current_turn(events) == events
    assert current_turn([]) == []
