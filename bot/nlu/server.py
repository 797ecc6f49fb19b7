"""The NLU service: the trained model interprets messages in a process of its own.

Why a separate process: one Rasa process runs a turn's interpretation (tokenizer,
entity ruler, featurizers, DIET) and its dialogue work (rules, the action call,
the tracker) on one core, one message at a time. With interpretation here, the
Rasa server hands each message over through Rasa's own ``nlu:`` endpoint
(``RasaNLUHttpInterpreter``) and goes on with other advisors' turns while this
process parses, so a 2-core machine uses both cores.

Who may ask: only this run's Rasa server, which sends the run's secret as
``Authorization: Bearer ...``. The service checks that header in a middleware,
before the handler reads any of the body, and listens on 127.0.0.1 unless told
otherwise (``--host`` / ``COPILOT_NLU_HOST``). Rasa 3.6's interpreter
(``rasa/core/http_interpreter.py``) would carry only the endpoint's ``token``,
inside the JSON body, because it posts with a session opened without the
endpoint's headers; the Rasa server adds the ``nlu:`` endpoint's headers to that
session once the model is loaded (``bot.action_endpoint.keep_connections``), so
the body's ``token`` field is not looked at. A refused connection is closed
after the answer (aiohttp discards what is left of the body, for at most 10 s).

Messages that arrive while one is being parsed are parsed together
(:class:`ParseQueue`): a parse holds the event loop, so with many advisors the
requests that came in meanwhile are all waiting when it ends, and one pass of
the model over all of them costs much less than one pass each. Nothing waits for
company: a lone message is parsed at once.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.backend_auth import NLU_SECRET_ENV, presents, secret_from_env
from bot.heap import freeze_loaded_objects
from bot.settings import current_or_exit
from bot.training import model_path
from bot.turn import MAX_MESSAGE_CHARS

if TYPE_CHECKING:
    from bot.nlu.interpreter import Interpreter

HOST_ENV = "COPILOT_NLU_HOST"
OPEN_PATHS = frozenset({"/health"})

logger = logging.getLogger(__name__)

# Beyond this many waiting messages the rest go into the next pass: a pass of 16
# short messages costs about what four single ones do, and longer passes only
# delay the first of them.
MOST_AT_ONCE = 16


class ParseQueue:
    """Parses the messages waiting at the same moment in one pass of the model."""

    def __init__(self, interpreter: Interpreter, most_at_once: int = MOST_AT_ONCE) -> None:
        self._interpreter = interpreter
        self._most = most_at_once
        self._waiting: list[tuple[str, asyncio.Future[dict[str, Any]]]] = []
        self._worker: asyncio.Task[None] | None = None

    async def parse(self, text: str) -> dict[str, Any]:
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting.append((text, answer))
        if self._worker is None:
            self._worker = asyncio.create_task(self._work())
        return await answer

    async def _work(self) -> None:
        try:
            while self._waiting:
                # One turn of the loop first, so requests already read join this pass.
                await asyncio.sleep(0)
                batch, self._waiting = self._waiting[: self._most], self._waiting[self._most :]
                self._answer(batch)
        finally:
            self._worker = None

    def _answer(self, batch: list[tuple[str, asyncio.Future[dict[str, Any]]]]) -> None:
        try:
            results = self._interpreter.parse_many([text for text, _ in batch])
        except Exception:
            if len(batch) > 1:  # one bad message must not fail the others
                for one in batch:
                    self._answer([one])
                return
            logger.exception("NLU parse failed for a message of %d characters", len(batch[0][0]))
            if not batch[0][1].done():
                batch[0][1].set_exception(web.HTTPInternalServerError())
            return
        for (_, answer), result in zip(batch, results, strict=True):
            if not answer.done():  # the client may have gone away meanwhile
                answer.set_result(result)


PARSES: web.AppKey[ParseQueue] = web.AppKey("parses")
SECRET = web.AppKey("secret", str)


@web.middleware
async def require_secret(request: web.Request, handler: Handler) -> web.StreamResponse:
    """401 for any request but ``GET /health`` without the secret, from the headers alone."""
    if request.method == "GET" and request.path in OPEN_PATHS:
        return await handler(request)
    if not presents(request.headers.get("Authorization"), request.app[SECRET]):
        logger.warning("Refused %s %s from %s: no valid secret", request.method, request.path,
                       request.remote)  # fmt: skip
        refusal = web.json_response({"error": "missing or wrong NLU service secret"}, status=401)
        refusal.force_close()
        return refusal
    return await handler(request)


async def parse(request: web.Request) -> web.Response:
    """Rasa's /model/parse answer for one text: intent, ranking, entities."""
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"error": "body must be JSON"}, status=400)
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or len(text) > MAX_MESSAGE_CHARS:
        return web.json_response({"error": "field 'text' must be text"}, status=400)
    return web.json_response(await request.app[PARSES].parse(text))


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def make_app(interpreter: Interpreter, secret: str) -> web.Application:
    # A message is at most MAX_MESSAGE_CHARS characters: 64 kB is ample for its JSON.
    app = web.Application(client_max_size=64 * 1024, middlewares=[require_secret])
    app[PARSES] = ParseQueue(interpreter)
    app[SECRET] = secret
    app.router.add_post("/model/parse", parse)
    app.router.add_get("/health", health)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.nlu.server", description=__doc__)
    parser.add_argument("--model", default=str(model_path()), help="trained model archive")
    settings = current_or_exit()
    parser.add_argument("--port", type=int, default=settings.nlu_port)
    parser.add_argument(
        "--host",
        default=settings.nlu_host,
        help=f"interface to listen on (default ${HOST_ENV}, else 127.0.0.1)",
    )
    args = parser.parse_args(argv)
    secret = secret_from_env(NLU_SECRET_ENV)
    # Heavy imports (TensorFlow comes with Rasa) only once the arguments are fine.
    from bot.nlu.interpreter import load_interpreter

    interpreter = load_interpreter(args.model)
    freeze_loaded_objects()
    logger.info("NLU model loaded from %s", args.model)
    # Health answers only once the model is loaded: the server starts listening after.
    # No access log: one line per parse says nothing the Rasa server's log does not.
    web.run_app(
        make_app(interpreter, secret),
        host=args.host,
        port=args.port,
        print=None,
        access_log=None,
    )


if __name__ == "__main__":
    main()
