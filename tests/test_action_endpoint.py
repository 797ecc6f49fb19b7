"""The keep-alive action endpoint: Rasa's request contract, one connection reused."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

from bot.action_endpoint import KeepAliveEndpoint


async def _serve_and_call() -> tuple[list[Any], list[int], int]:
    peers: list[int] = []

    async def webhook(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername")[1])
        body = await request.json()
        if body.get("fail"):
            return web.json_response({"error": "no such action"}, status=404)
        return web.json_response({"events": [], "echo": body["next_action"]})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    async with TestServer(app, host="127.0.0.1") as server:
        endpoint = KeepAliveEndpoint.replacing(
            EndpointConfig(str(server.make_url("/webhook")), token="t")
        )
        answers = [await endpoint.request(json={"next_action": f"a{i}"}) for i in range(3)]
        try:
            await endpoint.request(json={"next_action": "x", "fail": True})
        except ClientResponseError as exc:
            status = exc.status
        await endpoint.close()
        answers.append(await endpoint.request(json={"next_action": "after-close"}))
        await endpoint.close()
    return answers, peers, status


def test_requests_share_one_connection_and_keep_rasas_contract() -> None:
    answers, peers, status = asyncio.run(_serve_and_call())
    assert [a["echo"] for a in answers] == ["a0", "a1", "a2", "after-close"]
    assert len(set(peers[:4])) == 1  # one connection for the first four calls
    assert peers[4] != peers[0]  # a new session after close
    assert status == 404


def test_it_replaces_an_endpoint_with_the_same_settings() -> None:
    original = EndpointConfig("http://127.0.0.1:5055/webhook", token="t", headers={"X": "1"})
    assert KeepAliveEndpoint.replacing(original) == original
    assert KeepAliveEndpoint.replacing(original) != EndpointConfig("http://other/webhook")
