"""The WeCom active send API (gettoken, message/send) over aiohttp.

One access token per app is cached until shortly before it expires and fetched
again when WeCom says it is invalid or expired (40014, 42001). Rate limiting
(45009) and network errors are retried with exponential backoff; a reply is
only given up, and logged, after the last attempt.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

logger = logging.getLogger(__name__)

TOKEN_INVALID = {40001, 40014, 42001}
RETRY_LATER = {-1, 45009, 45033}
TOKEN_MARGIN_S = 120


class WeComApiError(RuntimeError):
    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class WeComClient:
    def __init__(
        self,
        base_url: str,
        corp_id: str,
        secret: str,
        agent_id: str,
        *,
        attempts: int = 5,
        backoff_s: float = 0.5,
        timeout_s: float = 5.0,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.corp_id = corp_id
        self.secret = secret
        self.agent_id = agent_id
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._sleep = sleep
        self._token: str | None = None
        self._expires_at = 0.0
        self._tickets: dict[str, tuple[str, float]] = {}
        self._lock = asyncio.Lock()
        self._http: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=self.timeout)
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def token(self) -> str:
        async with self._lock:
            if self._token and time.monotonic() < self._expires_at:
                return self._token
            url = f"{self.base_url}/cgi-bin/gettoken"
            params = {"corpid": self.corp_id, "corpsecret": self.secret}
            async with self._session().get(url, params=params) as answer:
                data = await answer.json(content_type=None)
            if data.get("errcode", 0) != 0 or "access_token" not in data:
                raise WeComApiError(f"gettoken failed: {data.get('errmsg')}", data.get("errcode"))
            self._token = str(data["access_token"])
            lifetime = int(data.get("expires_in", 7200))
            self._expires_at = time.monotonic() + max(0, lifetime - TOKEN_MARGIN_S)
            return self._token

    async def ticket(self, kind: str) -> str:
        """A JS-SDK ticket: ``jsapi`` (corp) or ``agent_config`` (app), cached like the token."""
        cached = self._tickets.get(kind)
        if cached and time.monotonic() < cached[1]:
            return cached[0]
        token = await self.token()
        if kind == "jsapi":
            url, params = f"{self.base_url}/cgi-bin/get_jsapi_ticket", {"access_token": token}
        else:
            url = f"{self.base_url}/cgi-bin/ticket/get"
            params = {"access_token": token, "type": kind}
        try:
            async with self._session().get(url, params=params) as answer:
                data = await answer.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise WeComApiError(f"{kind} ticket: {exc}") from exc
        if data.get("errcode", 0) != 0 or "ticket" not in data:
            if data.get("errcode") in TOKEN_INVALID:
                self.forget_token()
            raise WeComApiError(f"{kind} ticket refused: {data.get('errmsg')}", data.get("errcode"))
        lifetime = int(data.get("expires_in", 7200))
        expires = time.monotonic() + max(0, lifetime - TOKEN_MARGIN_S)
        self._tickets[kind] = (str(data["ticket"]), expires)
        return str(data["ticket"])

    def forget_token(self) -> None:
        self._token = None

    async def user_id_from_code(self, code: str) -> str:
        """The WeCom user id behind a web OAuth ``code`` (auth/getuserinfo).

        A code is good for one exchange within five minutes; someone outside the
        corp comes back with an openid instead of a userid and is refused.
        """
        for _ in range(2):  # a second try only after a stale access token
            token = await self.token()
            url = f"{self.base_url}/cgi-bin/auth/getuserinfo"
            try:
                async with self._session().get(
                    url, params={"access_token": token, "code": code}
                ) as answer:
                    data = await answer.json(content_type=None)
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
                raise WeComApiError(f"auth/getuserinfo: {exc}") from exc
            errcode = int(data.get("errcode", 0))
            if errcode in TOKEN_INVALID:
                self.forget_token()
                continue
            if errcode != 0:
                raise WeComApiError(f"auth/getuserinfo refused: {data.get('errmsg')}", errcode)
            user_id = data.get("userid") or data.get("UserId")
            if not user_id:
                raise WeComApiError("auth/getuserinfo: not a member of this corp")
            return str(user_id)
        raise WeComApiError("auth/getuserinfo: access token refused twice")

    async def send_markdown(self, user_id: str, content: str) -> None:
        payload = {
            "touser": user_id,
            "msgtype": "markdown",
            "agentid": int(self.agent_id) if self.agent_id.isdigit() else self.agent_id,
            "markdown": {"content": content},
        }
        last: str = ""
        for attempt in range(self.attempts):
            try:
                token = await self.token()
                url = f"{self.base_url}/cgi-bin/message/send"
                async with self._session().post(
                    url, params={"access_token": token}, json=payload
                ) as answer:
                    data = await answer.json(content_type=None)
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, WeComApiError) as exc:
                last = f"{type(exc).__name__}: {exc}"
                await self._sleep(self.backoff_s * 2**attempt)
                continue
            code = int(data.get("errcode", 0))
            if code == 0:
                return
            last = f"errcode {code}: {data.get('errmsg')}"
            if code in TOKEN_INVALID:
                self.forget_token()
            elif code in RETRY_LATER:
                await self._sleep(self.backoff_s * 2**attempt)
            else:
                raise WeComApiError(f"message/send refused: {last}", code)
        raise WeComApiError(f"message/send gave up after {self.attempts} attempts ({last})")
