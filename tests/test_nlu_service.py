"""The NLU service: same answers as Rasa's own parse, and Rasa's client speaks to it
with the run's secret in a header (the service refuses anything else)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.action_endpoint import send_nlu_headers
from bot.nlu import evaluate
from bot.nlu.interpreter import Interpreter
from bot.nlu.server import make_app

pytestmark = pytest.mark.model
SECRET = "test-secret-0123456789"


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


def test_service_answers_rasa_http_interpreter_with_the_secret_header(
    interpreter: Interpreter,
) -> None:
    from rasa.core.channels import UserMessage
    from rasa.core.http_interpreter import RasaNLUHttpInterpreter
    from rasa.utils.endpoints import EndpointConfig

    def rasa_client(url: str, secret: str, headers: bool = True) -> RasaNLUHttpInterpreter:
        """Rasa's interpreter as the Rasa server sets it up from endpoints.yml."""
        endpoint = EndpointConfig(url, headers={"Authorization": f"Bearer {secret}"})
        client = RasaNLUHttpInterpreter(endpoint)
        if headers:
            send_nlu_headers(SimpleNamespace(http_interpreter=client))
        return client

    async def exchange() -> tuple[list[dict[str, Any]], list[int]]:
        async with TestServer(make_app(interpreter, SECRET), host="127.0.0.1") as server:
            url = str(server.make_url(""))
            clients = [
                rasa_client(url, SECRET),
                rasa_client(url, "guess-guess-guess"),
                # Rasa's own set-up sends no headers, only the token in the body.
                RasaNLUHttpInterpreter(EndpointConfig(url, token=SECRET)),
                rasa_client(url, SECRET, headers=False),
            ]
            try:
                parsed = [await c.parse(UserMessage("帮我查一下王先生")) for c in clients]
            finally:
                for client in clients:
                    await client.session.close()
            auth = {"Authorization": f"Bearer {SECRET}"}
            async with TestClient(server) as client:
                statuses = [
                    (
                        await client.post("/model/parse", json={"text": "你好", "token": SECRET})
                    ).status,
                    (await client.post("/model/parse", json={"text": "你好"}, headers=auth)).status,
                    (await client.post("/model/parse", data=b"not json", headers=auth)).status,
                    (
                        await client.post("/model/parse", json={"token": SECRET}, headers=auth)
                    ).status,
                    (await client.get("/health")).status,
                    (await client.get("/model/parse")).status,
                ]
        return parsed, statuses

    parsed, statuses = asyncio.run(exchange())
    assert parsed[0]["intent"]["name"] == "lookup_client"
    assert ("client_name", "王先生") in [(e["entity"], e["value"]) for e in parsed[0]["entities"]]
    # Refused; Rasa's client then reports no intent at all.
    assert [p["intent"]["name"] for p in parsed[1:]] == ["", "", ""]
    assert statuses == [401, 200, 400, 400, 200, 401]
