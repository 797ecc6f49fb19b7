"""The `wecom` input channel: WeCom self-built app callbacks at /webhooks/wecom/webhook.

WeCom retries a callback that is not answered within 5 s, so a message is
answered at once (an empty 200, meaning no passive reply), taken in exactly once
by its MsgId (kept in the database, so a restart does not answer twice), and
processed in the background; the reply goes out through the send API.

Buttons go out as numbered choices, and a reply that is just a digit picks one.
The choices are not kept in this process: they are the buttons of the bot's last
reply in the advisor's conversation, read from the tracker store the replicas
share, so a digit answered after a restart, or to another replica, still picks
what the advisor saw.

Without the WECOM_* settings (:mod:`bot.settings`) the channel is inert: its
webhook answers 404 and nothing else changes.
"""

from __future__ import annotations

import asyncio
import logging
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError

from bot.advisors import AdvisorIdentity
from bot.cards.db import session_scope
from bot.cards.models import Advisor, WeComMessage
from bot.channels.copilot import ask
from bot.channels.wecom.api import WeComApiError, WeComClient
from bot.channels.wecom.crypto import WeComCrypto, WeComCryptoError
from bot.channels.wecom.render import render
from bot.channels.wecom.settings import ENV_VARS
from bot.clock import utcnow
from bot.settings import current

logger = logging.getLogger(__name__)

DEDUPE_FOR = timedelta(days=2)
NOT_REGISTERED = "你还没有开通顾问助手。请让店长用 copilot advisors add 为你登记企业微信账号。"
NOT_CONFIGURED = f"the WeCom channel is off: set {', '.join(ENV_VARS)}"


@dataclass(frozen=True)
class TextMessage:
    msg_id: str
    user_id: str
    content: str


def parse_envelope(body: bytes) -> str:
    """The Encrypt field of a callback body; ValueError if malformed."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise ValueError(f"malformed XML: {exc}") from exc
    encrypted = root.findtext("Encrypt")
    if not encrypted:
        raise ValueError("no Encrypt element")
    return encrypted


def parse_message(plain: str) -> TextMessage | None:
    """A text message from decrypted XML; None for events and other message types."""
    root = ET.fromstring(plain)
    if root.findtext("MsgType") != "text":
        return None
    msg_id, user = root.findtext("MsgId"), root.findtext("FromUserName")
    if not msg_id or not user:
        raise ValueError("text message without MsgId or FromUserName")
    return TextMessage(msg_id, user, (root.findtext("Content") or "").strip())


def first_delivery(message: TextMessage) -> bool:
    """Record the MsgId; False if it was taken in before (a WeCom retry)."""
    now = utcnow()
    try:
        with session_scope() as session:
            session.execute(delete(WeComMessage).where(WeComMessage.expires_at < now))
            session.add(WeComMessage(msg_id=message.msg_id, user_id=message.user_id,
                                     received_at=now, expires_at=now + DEDUPE_FOR))  # fmt: skip
        return True
    except IntegrityError:
        return False


def advisor_for_user(user_id: str) -> AdvisorIdentity | None:
    with session_scope() as session:
        advisor = session.scalars(
            select(Advisor).where(or_(Advisor.wecom_userid == user_id, Advisor.id == user_id))
        ).first()
        return AdvisorIdentity.of(advisor) if advisor else None


def offered_choices(tracker: DialogueStateTracker | None) -> list[str]:
    """The button payloads of the bot's reply to the conversation's last message, in the
    order :func:`bot.channels.wecom.render.render` numbers them."""
    if tracker is None:
        return []
    choices: list[str] = []
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, BotUttered):
            buttons = event.data.get("buttons") or []
            choices[:0] = [str(button["payload"]) for button in buttons]
    return choices


async def chosen(agent: Any, sender_id: str, text: str) -> str:
    """``text``, or the payload of the choice it numbers in the last reply."""
    if not text.isdigit() or agent is None:
        return text
    choices = offered_choices(await agent.tracker_store.retrieve(sender_id))
    number = int(text)
    return choices[number - 1] if 1 <= number <= len(choices) else text


class WeComInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "wecom"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls()

    def __init__(self) -> None:
        settings = current()
        self.crypto: WeComCrypto | None = None
        self.client = settings.wecom_client()
        if settings.wecom_callbacks:
            self.crypto = WeComCrypto(
                settings.wecom_token, settings.wecom_aes_key, settings.wecom_corp_id
            )
        self._tasks: set[asyncio.Task[None]] = set()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("wecom_webhook", __name__)
        if self.crypto is None or self.client is None:

            @webhook.route("/webhook", methods=["GET", "POST"])
            async def off(_: Request) -> HTTPResponse:
                return response.text(NOT_CONFIGURED, status=404)

            return webhook
        crypto, client = self.crypto, self.client

        @webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            args = request.args
            try:
                echo = crypto.open_callback(
                    args.get("msg_signature", ""), args.get("timestamp", ""),
                    args.get("nonce", ""), args.get("echostr", ""),
                )  # fmt: skip
            except WeComCryptoError as exc:
                logger.warning("WeCom URL verification refused: %s", exc)
                return response.text("forbidden", status=403)
            return response.text(echo)

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            args = request.args
            try:
                encrypted = parse_envelope(request.body)
                plain = crypto.open_callback(
                    args.get("msg_signature", ""), args.get("timestamp", ""),
                    args.get("nonce", ""), encrypted,
                )  # fmt: skip
                message = parse_message(plain)
            except WeComCryptoError as exc:
                logger.warning("WeCom callback refused: %s", exc)
                return response.text("forbidden", status=403)
            except (ValueError, ET.ParseError) as exc:
                logger.warning("WeCom callback malformed: %s", exc)
                return response.text("bad request", status=400)
            if message is not None and message.content and first_delivery(message):
                agent = getattr(request.app.ctx, "agent", None)
                task = asyncio.create_task(self._answer(message, on_new_message, agent, client))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            return response.text("")

        return webhook

    async def _answer(
        self,
        message: TextMessage,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        agent: Any,
        client: WeComClient,
    ) -> None:
        try:
            advisor = advisor_for_user(message.user_id)
            if advisor is None:
                await client.send_markdown(message.user_id, NOT_REGISTERED)
                return
            text = await chosen(agent, advisor.id, message.content)
            rendered = render(await ask(on_new_message, advisor, text, self.name()))
            for chunk in rendered.chunks:
                await client.send_markdown(message.user_id, chunk)
        except WeComApiError as exc:
            logger.error(
                "WeCom reply to %s (MsgId %s) lost: %s", message.user_id, message.msg_id, exc
            )
        except Exception:
            logger.exception("WeCom message %s failed", message.msg_id)
