"""The Rasa server's action endpoint, with connections kept open between calls.

Rasa's ``EndpointConfig`` opens a new aiohttp session, and with it a new TCP
connection, for every action call: every turn pays a connect on the Rasa side
and a new connection on the action server's. This endpoint keeps one session
(one small connection pool) for the server's lifetime. Idle connections are
dropped after 2 s, before the action server (Sanic, 5 s keep-alive) would close
them, so a call never goes out on a connection the other side has just closed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
from rasa.utils.endpoints import EndpointConfig

IDLE_CONNECTION_SECONDS = 2.0


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
            )
        yield self._shared

    async def close(self) -> None:
        if self._shared is not None:
            await self._shared.close()
            self._shared = None


def keep_connections(agent: Any) -> KeepAliveEndpoint | None:
    """Give ``agent`` (and its processor) a keep-alive action endpoint, if it has one."""
    endpoint = getattr(agent, "action_endpoint", None)
    if endpoint is None:
        return None
    if not isinstance(endpoint, KeepAliveEndpoint):
        endpoint = KeepAliveEndpoint.replacing(endpoint)
    agent.action_endpoint = endpoint
    if agent.processor is not None:
        agent.processor.action_endpoint = endpoint
    return endpoint
