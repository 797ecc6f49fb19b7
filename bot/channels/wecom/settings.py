"""WeCom settings from the environment, in one place for every part that needs them.

Imports no Rasa, so `copilot up` can decide whether to enable the channel cheaply.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from bot.channels.wecom.api import WeComClient

ENV_VARS = ("WECOM_CORP_ID", "WECOM_AGENT_ID", "WECOM_SECRET", "WECOM_TOKEN", "WECOM_AES_KEY")
DEFAULT_API_BASE = "https://qyapi.weixin.qq.com"


def configured(env: Mapping[str, str] = os.environ) -> bool:
    """All settings the callback channel needs are present."""
    return all(env.get(name) for name in ENV_VARS)


def client_from_env(env: Mapping[str, str] = os.environ) -> WeComClient | None:
    """The send-API client, when the corp id and app secret are set."""
    if not (env.get("WECOM_CORP_ID") and env.get("WECOM_SECRET")):
        return None
    return WeComClient(
        env.get("WECOM_API_BASE") or DEFAULT_API_BASE,
        env["WECOM_CORP_ID"],
        env["WECOM_SECRET"],
        env.get("WECOM_AGENT_ID", ""),
    )
