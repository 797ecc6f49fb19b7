"""The NLU service: same answers as Rasa's own parse, and Rasa's client speaks to it
with the run's secret in a header (the service refuses anything else)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.action_endpoint import send_nlu_headers
from bot.nlu import evaluate
from bot.nlu.interpreter import Interpreter
from bot.nlu.server import ParseQueue, make_app

pytestmark = pytest.mark.model
SECRET = "test-secret-0123456789"


@pytest.fixture(scope="module")
def interpreter(trained_model: Path) -> Interpreter:
    from rasa.core.agent import Agent

    # Its own agent: pinning changes the loaded DIET model in place.
    return Interpreter(Agent.load(str(trained_model)))


def assert_same_parse(got: dict[str, Any], expected: dict[str, Any]) -> None:
    text = expected["text"]
    assert got["text"] == text
    assert got["intent"]["name"] == expected["intent"]["name"], text
    assert got["intent"]["confidence"] == pytest.approx(expected["intent"]["confidence"])
    ranking = [r["name"] for r in got["intent_ranking"]]
    assert ranking == [r["name"] for r in expected["intent_ranking"]], text
    assert [r["confidence"] for r in got["intent_ranking"]] == pytest.approx(
        [r["confidence"] for r in expected["intent_ranking"]], abs=1e-5
    )
    assert len(got["entities"]) == len(expected["entities"]), text
    for mine, theirs in zip(got["entities"], expected["entities"], strict=True):
        assert mine.keys() == theirs.keys(), text
        for key, value in theirs.items():
            if isinstance(value, float):  # a batch is padded: float sums differ in the 7th digit
                assert mine[key] == pytest.approx(value, abs=1e-5), text
            else:
                assert mine[key] == value, text


def test_fast_path_parses_exactly_as_rasa_does(rasa_agent: Any, interpreter: Interpreter) -> None:
    assert interpreter.pinned == 1  # DIET's prediction graph
    assert interpreter.batched == 1  # and its node
    assert interpreter.counted == 1  # the n-gram featurizer
    texts = [text for text, _ in evaluate.test_examples()]
    expected = [asyncio.run(rasa_agent.parse_message(text)) for text in texts]
    for text, theirs in zip(texts, expected, strict=True):
        assert_same_parse(interpreter.parse(text), theirs)
    # Together, in passes of every size the queue makes (the split's texts differ in
    # length, so every pass pads some messages).
    for size in (2, 7, 16):
        got = [
            parsed
            for start in range(0, len(texts), size)
            for parsed in interpreter.parse_many(texts[start : start + size])
        ]
        assert len(got) == len(texts)
        for mine, theirs in zip(got, expected, strict=True):
            assert_same_parse(mine, theirs)


def test_n_gram_features_are_the_matrices_rasa_builds(interpreter: Interpreter) -> None:
    """Every test-split message's token and sentence matrices, built directly, equal
    what Rasa's featurizer builds through scikit-learn: same shape, dtypes, order, values."""
    from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
        CountVectorsFeaturizer,
    )
    from rasa.shared.nlu.training_data.message import Message

    from bot.nlu.count_features import install_count_rows

    featurizer = next(
        c for c in interpreter._runner.components() if isinstance(c, CountVectorsFeaturizer)
    )
    assert "_create_features" in vars(featurizer)  # installed on this instance only
    from bot.nlu.components import CleanJiebaTokenizer

    tokenizer = next(
        c for c in interpreter._runner.components() if isinstance(c, CleanJiebaTokenizer)
    )
    texts = [text for text, _ in evaluate.test_examples()] + ["😀😀", "Amy孙 ok"]
    compared = 0
    for text in texts:
        message = Message({"text": text})
        tokenizer.process([message])
        tokens = [t.text for t in message.get("text_tokens")]
        for attribute in ("text", "no_such_attribute"):
            mine = featurizer._create_features(attribute, [tokens, []])
            theirs = CountVectorsFeaturizer._create_features(featurizer, attribute, [tokens, []])
            for got, expected in zip([*mine[0], *mine[1]], [*theirs[0], *theirs[1]], strict=True):
                assert (got is None) == (expected is None), (text, attribute)
                if expected is None:
                    continue
                assert got.format == expected.format == "coo" and got.shape == expected.shape
                for part in ("row", "col", "data"):
                    a, b = getattr(got, part), getattr(expected, part)
                    assert a.dtype == b.dtype and a.tolist() == b.tolist(), (text, part)
                compared += 1
    assert compared == 2 * len(texts)
    # A vectorizer it cannot reproduce keeps Rasa's method.
    other = CountVectorsFeaturizer.__new__(CountVectorsFeaturizer)
    other.vectorizers = {"text": SimpleNamespace(binary=False, vocabulary_={"a": 0})}
    assert not install_count_rows(other) and "_create_features" not in vars(other)


def test_messages_that_arrive_together_are_parsed_together(interpreter: Interpreter) -> None:
    """Requests that come in during a parse wait for the next pass and share it."""
    passes: list[list[str]] = []
    parse_many = interpreter.parse_many

    def recorded(texts: list[str]) -> list[dict[str, Any]]:
        passes.append(list(texts))
        return parse_many(texts)

    texts = ["帮我查一下王先生", "记一下钱女士不吃香菜", "你好", "下一步", "查下欧阳先森", "拜拜"]

    async def exchange() -> list[dict[str, Any]]:
        queue = ParseQueue(SimpleNamespace(parse_many=recorded), most_at_once=4)  # type: ignore[arg-type]
        return list(await asyncio.gather(*(queue.parse(text) for text in texts)))

    answers = asyncio.run(exchange())
    assert [a["text"] for a in answers] == texts  # each request gets its own answer
    assert passes == [texts[:4], texts[4:]]
    assert answers[0]["intent"]["name"] == "lookup_client"
    # One at a time: each message is parsed on its own, at once.
    passes.clear()

    async def one_by_one() -> None:
        queue = ParseQueue(SimpleNamespace(parse_many=recorded))  # type: ignore[arg-type]
        for text in texts[:2]:
            await queue.parse(text)

    asyncio.run(one_by_one())
    assert passes == [texts[:1], texts[1:2]]


def test_a_message_that_fails_does_not_fail_the_others_in_its_pass(
    interpreter: Interpreter,
) -> None:
    def parse_many(texts: list[str]) -> list[dict[str, Any]]:
        if "坏" in texts:
            raise ValueError("cannot parse")
        return interpreter.parse_many(texts)

    async def exchange() -> list[Any]:
        queue = ParseQueue(SimpleNamespace(parse_many=parse_many))  # type: ignore[arg-type]
        return list(
            await asyncio.gather(
                *(queue.parse(t) for t in ("你好", "坏", "拜拜")), return_exceptions=True
            )
        )

    good, bad, bye = asyncio.run(exchange())
    assert good["intent"]["name"] == "greet" and bye["text"] == "拜拜"
    assert isinstance(bad, web.HTTPInternalServerError)


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
