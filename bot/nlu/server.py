"""The NLU service: the trained model interprets messages in a process of its own.

Why a separate process: one Rasa process runs a turn's interpretation (tokenizer,
entity ruler, featurizers, DIET) and its dialogue work (rules, the action call,
the tracker) on one core, one message at a time. With interpretation here, the
Rasa server hands each message over through Rasa's own ``nlu:`` endpoint
(``RasaNLUHttpInterpreter``) and goes on with other advisors' turns while this
process parses, so a 2-core machine uses both cores.

Rasa's interpreter posts ``{"text", "message_id", "token"}`` to
``{url}/model/parse``; the token travels in the body, so that is where it is
checked. The service listens on 127.0.0.1 only and answers 401 to a wrong token.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.heap import freeze_loaded_objects
from bot.training import model_path
from bot.turn import MAX_MESSAGE_CHARS

if TYPE_CHECKING:
    from bot.nlu.interpreter import Interpreter

TOKEN_ENV = "COPILOT_NLU_TOKEN"

logger = logging.getLogger(__name__)

INTERPRETER: web.AppKey[Interpreter] = web.AppKey("interpreter")
TOKEN = web.AppKey("token", str)


def _authorised(body: dict[str, Any], token: str) -> bool:
    given = body.get("token")
    return isinstance(given, str) and hmac.compare_digest(given, token)


async def parse(request: web.Request) -> web.Response:
    """Rasa's /model/parse answer for one text: intent, ranking, entities."""
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"error": "body must be JSON"}, status=400)
    if not isinstance(body, dict) or not _authorised(body, request.app[TOKEN]):
        return web.json_response({"error": "missing or wrong token"}, status=401)
    text = body.get("text")
    if not isinstance(text, str) or len(text) > MAX_MESSAGE_CHARS:
        return web.json_response({"error": "field 'text' must be text"}, status=400)
    return web.json_response(request.app[INTERPRETER].parse(text))


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def make_app(interpreter: Interpreter, token: str) -> web.Application:
    app = web.Application(client_max_size=64 * 1024)
    app[INTERPRETER] = interpreter
    app[TOKEN] = token
    app.router.add_post("/model/parse", parse)
    app.router.add_get("/health", health)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.nlu.server", description=__doc__)
    parser.add_argument("--model", default=str(model_path()), help="trained model archive")
    parser.add_argument("--port", type=int, default=5056)
    args = parser.parse_args(argv)
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        raise SystemExit(f"{TOKEN_ENV} must be set: the Rasa server sends it with every parse")
    # Heavy imports (TensorFlow comes with Rasa) only once the arguments are fine.
    from bot.nlu.interpreter import load_interpreter

    interpreter = load_interpreter(args.model)
    freeze_loaded_objects()
    logger.info("NLU model loaded from %s", args.model)
    # Health answers only once the model is loaded: the server starts listening after.
    # No access log: one line per parse says nothing the Rasa server's log does not.
    web.run_app(
        make_app(interpreter, token),
        host="127.0.0.1",
        port=args.port,
        print=None,
        access_log=None,
    )


if __name__ == "__main__":
    main()
