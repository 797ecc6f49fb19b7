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

ACTIONS_SECRET_ENV = "COPILOT_ACTIONS_SECRET"
NLU_SECRET_ENV = "COPILOT_NLU_TOKEN"
# A secret an operator sets by hand for a split deployment must not be guessable.
MIN_SECRET_CHARS = 16
LOOPBACK = "127.0.0.1"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def bearer_header(env_name: str) -> dict[str, str]:
    """The header Rasa sends, naming the variable Rasa expands when it reads the file."""
    return {"Authorization": f"Bearer ${{{env_name}}}"}


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
    """The secret in ``name``; stops the process with a clear message if it is unusable."""
    secret = environ.get(name, "")
    if len(secret) < MIN_SECRET_CHARS:
        raise SystemExit(
            f"{name} must hold a secret of at least {MIN_SECRET_CHARS} characters: "
            "the Rasa server sends it with every request (copilot up sets it)"
        )
    return secret
