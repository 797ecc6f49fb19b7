"""The NLU service: same answers as Rasa's own parse, and Rasa's client speaks to it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.nlu import evaluate
from bot.nlu.interpreter import Interpreter
from bot.nlu.server import make_app

pytestmark = pytest.mark.model
TOKEN = "test-secret"


@pytest.fixture(scope="module")
def interpreter(trained_model: Path) -> Interpreter:
    from rasa.core.agent import Agent

    # Its own agent: pinning changes the loaded DIET model in place.
    return Interpreter(Agent.load(str(trained_model)))


def test_fast_path_parses_exactly_as_rasa_does(rasa_agent: Any, interpreter: Interpreter) -> None:
    assert interpreter.pinned == 1  # DIET's prediction graph
    for text, _ in evaluate.test_examples():
        expected = asyncio.run(rasa_agent.parse_message(text))
        got = interpreter.parse(text)
        assert got["intent"]["name"] == expected["intent"]["name"], text
        assert got["intent"]["confidence"] == pytest.approx(expected["intent"]["confidence"])
        ranking = [r["name"] for r in got["intent_ranking"]]
        assert ranking == [r["name"] for r in expected["intent_ranking"]], text
        assert got["entities"] == expected["entities"], text


def test_service_answers_rasa_http_interpreter(interpreter: Interpreter) -> None:
    from rasa.core.channels import UserMessage
    from rasa.core.http_interpreter import RasaNLUHttpInterpreter
    from rasa.utils.endpoints import EndpointConfig

    async def exchange() -> tuple[dict[str, Any], dict[str, Any], list[int]]:
        async with TestServer(make_app(interpreter, TOKEN), host="127.0.0.1") as server:
            url = str(server.make_url(""))
            rasa_client = RasaNLUHttpInterpreter(EndpointConfig(url, token=TOKEN))
            forged = RasaNLUHttpInterpreter(EndpointConfig(url, token="guess"))
            try:
                parsed = await rasa_client.parse(UserMessage("帮我查一下王先生"))
                refused = await forged.parse(UserMessage("帮我查一下王先生"))
            finally:
                await rasa_client.session.close()
                await forged.session.close()
            async with TestClient(server) as client:
                statuses = [
                    (await client.post("/model/parse", json={"text": "你好"})).status,
                    (await client.post("/model/parse", data=b"not json")).status,
                    (await client.post("/model/parse", json={"token": TOKEN})).status,
                    (await client.get("/health")).status,
                ]
        return parsed, refused, statuses

    parsed, refused, statuses = asyncio.run(exchange())
    assert parsed["intent"]["name"] == "lookup_client"
    assert ("client_name", "王先生") in [(e["entity"], e["value"]) for e in parsed["entities"]]
    # A wrong token is refused; Rasa's client then reports no intent at all.
    assert refused["intent"]["name"] == ""
    assert statuses == [401, 400, 400, 200]
