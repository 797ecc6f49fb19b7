"""The per-run secrets with which the Rasa server calls its two backends.

The action server and the NLU service act on whatever the Rasa server sends
them; the action server even takes the advisor's identity from the message
metadata (the channel that checked the advisor's token puts it there). So each
backend answers only requests that carry the secret ``bot.server.running``
generates for the run, in the ``Authorization: Bearer`` header, and checks it
from the headers alone, before any of the body is read.

The secrets reach the processes through the environment only: the endpoints
file Rasa reads names the variables (``${COPILOT_ACTIONS_SECRET}``) and Rasa
expands them, so no secret is written to disk.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Mapping

from bot.settings import Settings, SettingsError

ACTIONS_SECRET_ENV = "COPILOT_ACTIONS_SECRET"
NLU_SECRET_ENV = "COPILOT_NLU_TOKEN"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def presents(authorization: str | None, secret: str) -> bool:
    """Whether an ``Authorization`` header value carries ``secret`` (constant-time compare)."""
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not secret:
        return False
    # Bytes: compare_digest refuses non-ASCII text, and a header may hold anything.
    return hmac.compare_digest(
        given.strip().encode("utf-8", "surrogatepass"), secret.encode("utf-8")
    )


def secret_from_env(name: str, environ: Mapping[str, str] = os.environ) -> str:
    """The secret in ``name``, read and checked with the other settings
    (:mod:`bot.settings`); stops the process with a clear message if it is unusable."""
    try:
        return Settings.from_env(environ).secret(name)
    except SettingsError as error:
        raise SystemExit(f"error: {error}") from None
