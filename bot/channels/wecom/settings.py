"""WeCom's settings for the parts that need them, from the copilot's settings object.

The variables (WECOM_CORP_ID, WECOM_AGENT_ID, WECOM_SECRET, WECOM_TOKEN,
WECOM_AES_KEY, WECOM_API_BASE) are read and checked in :mod:`bot.settings`.
Imports no Rasa, so the callers that only send messages stay light.
"""

from __future__ import annotations

from bot.channels.wecom.api import WeComClient
from bot.settings import Settings, current

ENV_VARS = ("WECOM_CORP_ID", "WECOM_AGENT_ID", "WECOM_SECRET", "WECOM_TOKEN", "WECOM_AES_KEY")


def configured(settings: Settings | None = None) -> bool:
    """All settings the callback channel needs are present."""
    return (settings or current()).wecom_callbacks


def client_from_env(settings: Settings | None = None) -> WeComClient | None:
    """The send-API client, when the corp id and app secret are set."""
    return (settings or current()).wecom_client()
