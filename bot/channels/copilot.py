"""The copilot channel: Rasa's REST contract behind a Bearer token.

The sender id is the advisor who owns the token, never a field of the body, so
one advisor cannot read or write another's conversation; a request without a
valid token is answered 401 before anything reaches the bot.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.advisors import AdvisorIdentity, RecentTokens, authenticate
from bot.cards.db import get_engine
from bot.turn import MAX_MESSAGE_CHARS

logger = logging.getLogger(__name__)


def bearer_token(request: Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def token_owner(token: str) -> AdvisorIdentity | None:
    with get_engine().connect() as connection:
        return authenticate(connection, token)


def error(status: int, message: str) -> HTTPResponse:
    return response.json({"error": message}, status=status)


def read_message(request: Request) -> str | HTTPResponse:
    """The message text of the body, or the 400 response explaining what is wrong."""
    try:
        body = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError):
        return error(400, 'body must be JSON like {"message": "..."}')
    text = body.get("message") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        return error(400, "field 'message' must be non-empty text")
    if len(text) > MAX_MESSAGE_CHARS:
        return error(413, f"message longer than {MAX_MESSAGE_CHARS} characters")
    return text.strip()


class CopilotOutput(CollectingOutputChannel):
    """Collects each bot message as one item: text, buttons and the payload together.

    Rasa's collector splits a message with buttons and a custom payload into two
    items; keeping them in one lets every channel render a reply as a unit.
    """

    @classmethod
    def name(cls) -> str:
        return "copilot"

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        item: dict[str, Any] = {"recipient_id": recipient_id, "text": message.get("text") or ""}
        for key in ("buttons", "image", "attachment", "custom"):
            if message.get(key):
                item[key] = message[key]
        self.messages.append(item)


async def ask(
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
    advisor: AdvisorIdentity,
    text: str,
    channel: str,
) -> list[dict[str, Any]]:
    """One advisor message through Rasa; the bot's reply items.

    Every channel sends messages this way, so each carries the identity the
    channel established (the action server reads it from the metadata).
    """
    collector = CopilotOutput()
    await on_new_message(
        UserMessage(
            text, collector, advisor.id, input_channel=channel, metadata=advisor.to_metadata()
        )
    )
    return collector.messages


class CopilotInput(InputChannel):
    """``POST /webhooks/copilot/webhook`` with ``Authorization: Bearer TOKEN``."""

    @classmethod
    def name(cls) -> str:
        return "copilot"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("copilot_webhook", __name__)
        tokens = RecentTokens(token_owner)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            token = bearer_token(request)
            advisor = tokens.check(token) if token else None
            if advisor is None:
                return error(401, "missing or invalid access token")
            text = read_message(request)
            if isinstance(text, HTTPResponse):
                return text
            return response.json(await ask(on_new_message, advisor, text, self.name()))

        return webhook
