"""The Rasa server's calls to its backends: the action endpoint with connections
kept open between calls, and the NLU endpoint's headers actually sent.

Rasa's ``EndpointConfig`` opens a new aiohttp session, and with it a new TCP
connection, for every action call: every turn pays a connect on the Rasa side
and a new connection on the action server's. This endpoint keeps one session
(one small connection pool) for the server's lifetime. Idle connections are
dropped after 2 s, before the action server (Sanic, 5 s keep-alive) would close
them, so a call never goes out on a connection the other side has just closed.
The tracker sent with every call is encoded with ujson, which gives the same
JSON as the standard library's encoder in half the time.
The ``headers`` of the endpoint's entry in endpoints.yml carry the run's secret
(``bot.backend_auth``): ``EndpointConfig.request`` adds them to every call, and
the shared session is opened with them too.

Rasa's NLU interpreter (``RasaNLUHttpInterpreter``, rasa 3.6) opens its session
without the ``nlu:`` endpoint's headers and sends only the endpoint's ``token``,
inside the JSON body, where the NLU service could check it only after reading
the body. :func:`keep_connections` adds that endpoint's headers to the session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import ujson
from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
from rasa.utils.endpoints import EndpointConfig

IDLE_CONNECTION_SECONDS = 2.0


def _json(document: Any) -> str:
    return ujson.dumps(document, ensure_ascii=False)


class KeepAliveEndpoint(EndpointConfig):
    """An ``EndpointConfig`` whose requests share one session."""

    _shared: aiohttp.ClientSession | None = None

    @classmethod
    def replacing(cls, endpoint: EndpointConfig) -> KeepAliveEndpoint:
        return cls(
            endpoint.url,
            endpoint.params,
            endpoint.headers,
            endpoint.basic_auth,
            endpoint.token,
            endpoint.token_name,
            **endpoint.kwargs,
        )

    def session(self) -> Any:
        """The shared session, lent for one request (``EndpointConfig.request`` closes
        what this returns when the request is done, so it gets a loan, not the session)."""
        return self._lend()

    @asynccontextmanager
    async def _lend(self) -> AsyncIterator[aiohttp.ClientSession]:
        if self._shared is None or self._shared.closed:
            auth = None
            if self.basic_auth:
                auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"])
            self._shared = aiohttp.ClientSession(
                headers=self.headers,
                auth=auth,
                timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
                connector=aiohttp.TCPConnector(keepalive_timeout=IDLE_CONNECTION_SECONDS),
                # The action server sets no cookies: nothing to store or send back.
                cookie_jar=aiohttp.DummyCookieJar(),
                json_serialize=_json,
            )
        yield self._shared

    async def close(self) -> None:
        if self._shared is not None:
            await self._shared.close()
            self._shared = None


def send_nlu_headers(agent: Any) -> None:
    """Make ``agent``'s NLU interpreter, if it has one, send its endpoint's headers."""
    interpreter = getattr(agent, "http_interpreter", None)
    if interpreter is not None and interpreter.endpoint_config.headers:
        # The session's default headers go with every request it makes.
        interpreter.session.headers.update(interpreter.endpoint_config.headers)


def keep_connections(agent: Any) -> KeepAliveEndpoint | None:
    """Set up ``agent``'s backend calls once its model is loaded: the NLU endpoint's
    headers, and a keep-alive action endpoint (returned) if it has an action endpoint."""
    send_nlu_headers(agent)
    endpoint = getattr(agent, "action_endpoint", None)
    if endpoint is None:
        return None
    if not isinstance(endpoint, KeepAliveEndpoint):
        endpoint = KeepAliveEndpoint.replacing(endpoint)
    agent.action_endpoint = endpoint
    if agent.processor is not None:
        agent.processor.action_endpoint = endpoint
    return endpoint
