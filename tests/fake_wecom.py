"""A local fake of WeCom's server API (gettoken, message/send, web OAuth) on 127.0.0.1.

It speaks the real request and response shapes, issues expiring tokens, and can
be told to fail the next calls with WeCom error codes or to be down. For web
OAuth it plays both sides: the authorize page (as if the person signed in to
WeCom is ``oauth_user``) and auth/getuserinfo, with single-use codes.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from yarl import URL


@dataclass
class FakeWeCom:
    corp_id: str
    secret: str
    token_lifetime_s: int = 7200
    port: int = 0
    tokens_issued: int = 0
    current_token: str = ""
    sent: list[dict[str, Any]] = field(default_factory=list)
    forced_errors: list[int] = field(default_factory=list)
    down_for: int = 0  # answer the next N send calls with HTTP 502
    oauth_user: str | None = None  # who is signed in to WeCom; None: not a corp member
    codes: dict[str, str | None] = field(default_factory=dict)
    exchanged: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def messages_to(self, user: str) -> list[str]:
        return [m["markdown"]["content"] for m in self.sent if m["touser"] == user]

    def expire_token(self) -> None:
        self.current_token = "expired"

    async def gettoken(self, request: web.Request) -> web.Response:
        if (
            request.query.get("corpid") != self.corp_id
            or request.query.get("corpsecret") != self.secret
        ):
            return web.json_response({"errcode": 40013, "errmsg": "invalid corpid"})
        self.tokens_issued += 1
        self.current_token = f"token-{self.tokens_issued}"
        return web.json_response(
            {"errcode": 0, "errmsg": "ok", "access_token": self.current_token,
             "expires_in": self.token_lifetime_s}
        )  # fmt: skip

    async def ticket(self, request: web.Request) -> web.Response:
        if request.query.get("access_token") != self.current_token:
            return web.json_response({"errcode": 42001, "errmsg": "access_token expired"})
        kind = request.query.get("type", "jsapi")
        return web.json_response(
            {"errcode": 0, "errmsg": "ok", "ticket": f"ticket-{kind}", "expires_in": 7200}
        )

    async def send(self, request: web.Request) -> web.Response:
        if self.down_for > 0:
            self.down_for -= 1
            return web.Response(status=502, text="bad gateway")
        token = request.query.get("access_token")
        if token != self.current_token:
            return web.json_response({"errcode": 42001, "errmsg": "access_token expired"})
        if self.forced_errors:
            code = self.forced_errors.pop(0)
            return web.json_response({"errcode": code, "errmsg": "forced by the test"})
        body = await request.json()
        self.sent.append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok", "invaliduser": ""})

    async def authorize(self, request: web.Request) -> web.Response:
        """open.weixin.qq.com/connect/oauth2/authorize: straight back with a fresh code."""
        if request.query.get("appid") != self.corp_id:
            return web.Response(status=400, text="wrong appid")
        code = secrets.token_hex(8)
        self.codes[code] = self.oauth_user
        target = URL(request.query["redirect_uri"]).update_query(
            code=code, state=request.query.get("state", "")
        )
        raise web.HTTPFound(str(target))

    async def getuserinfo(self, request: web.Request) -> web.Response:
        if request.query.get("access_token") != self.current_token:
            return web.json_response({"errcode": 42001, "errmsg": "access_token expired"})
        code = request.query.get("code", "")
        if code not in self.codes:
            return web.json_response({"errcode": 40029, "errmsg": "invalid code"})
        user = self.codes.pop(code)  # a code is good once
        self.exchanged.append(code)
        if user is None:
            return web.json_response({"errcode": 0, "errmsg": "ok", "openid": "oNotAMember"})
        return web.json_response({"errcode": 0, "errmsg": "ok", "userid": user})


@contextmanager
def running_fake(corp_id: str, secret: str) -> Iterator[FakeWeCom]:
    fake = FakeWeCom(corp_id, secret)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        fake.port = probe.getsockname()[1]
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_get("/cgi-bin/gettoken", fake.gettoken)
    app.router.add_post("/cgi-bin/message/send", fake.send)
    app.router.add_get("/cgi-bin/get_jsapi_ticket", fake.ticket)
    app.router.add_get("/cgi-bin/ticket/get", fake.ticket)
    app.router.add_get("/cgi-bin/auth/getuserinfo", fake.getuserinfo)
    app.router.add_get("/connect/oauth2/authorize", fake.authorize)
    runner = web.AppRunner(app)
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", fake.port).start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
