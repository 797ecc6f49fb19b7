"""The web app served by the Rasa server: the advisor widget at /app/ and the WeCom
chat-toolbar page at /app/toolbar, plus the JS-SDK signature they need in WeCom;
the manager's page (bot.channels.manager) and WeCom sign-in (bot.channels.oauth).

Everything is served from this package (no CDN); the pages talk to the copilot
channel with the advisor's token, so they see exactly what every channel sees.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels import manager, oauth
from bot.channels.wecom.api import WeComApiError, WeComClient
from bot.channels.wecom.settings import client_from_env

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "web_static"
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}  # fmt: skip


def jssdk_signature(ticket: str, nonce: str, timestamp: int, url: str) -> str:
    """WeCom JS-SDK signature over the page URL (without its #fragment)."""
    plain = f"jsapi_ticket={ticket}&noncestr={nonce}&timestamp={timestamp}&url={url.split('#')[0]}"
    return hashlib.sha1(plain.encode()).hexdigest()


def _file(name: str) -> HTTPResponse:
    path = (STATIC / name).resolve()
    if path.parent != STATIC or not path.is_file() or path.suffix not in CONTENT_TYPES:
        return response.text("not found", status=404)
    return response.raw(path.read_bytes(), content_type=CONTENT_TYPES[path.suffix],
                        headers={"Cache-Control": "no-cache"})  # fmt: skip


class WebApp(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "app"

    def url_prefix(self) -> str:
        # Absolute, so Rasa mounts it at /app rather than /webhooks/app.
        return "/app"

    def __init__(self) -> None:
        self.wecom: WeComClient | None = client_from_env()

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        app = Blueprint("copilot_web_app", __name__)

        @app.route("/", methods=["GET"])
        async def widget(_: Request) -> HTTPResponse:
            return _file("index.html")

        @app.route("/toolbar", methods=["GET"])
        async def toolbar(_: Request) -> HTTPResponse:
            return _file("toolbar.html")

        @app.route("/static/<name>", methods=["GET"])
        async def static(_: Request, name: str) -> HTTPResponse:
            return _file(name)

        @app.route("/jssdk-config", methods=["GET"])
        async def jssdk_config(request: Request) -> HTTPResponse:
            url = request.args.get("url", "")
            if self.wecom is None:
                return response.json({"error": "WeCom is not configured"}, status=404)
            if not url:
                return response.json({"error": "query parameter 'url' is required"}, status=400)
            try:
                corp_ticket = await self.wecom.ticket("jsapi")
                agent_ticket = await self.wecom.ticket("agent_config")
            except WeComApiError as exc:
                logger.error("JS-SDK ticket failed: %s", exc)
                return response.json({"error": "WeCom ticket unavailable"}, status=502)
            nonce, timestamp = secrets.token_hex(8), int(time.time())
            return response.json(
                {
                    "corpId": self.wecom.corp_id,
                    "agentId": self.wecom.agent_id,
                    "timestamp": timestamp,
                    "nonceStr": nonce,
                    "signature": jssdk_signature(corp_ticket, nonce, timestamp, url),
                    "agentSignature": jssdk_signature(agent_ticket, nonce, timestamp, url),
                }
            )

        manager.register(app)
        oauth.register(app, self.wecom)
        return app
