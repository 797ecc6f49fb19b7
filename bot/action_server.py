"""The action server (``python -m bot.action_server``): rasa-sdk's app, for this run's Rasa only.

Why not ``python -m rasa_sdk``: that listens on every interface and runs any
action call it is sent, and the actions take the advisor's identity from the
message metadata. Anyone who could reach port 5055 could write on any client's
card as a made-up manager and read the whole card back. Here the same app
(``rasa_sdk.endpoint.create_app``) listens on 127.0.0.1 unless told otherwise
(``--host`` / ``COPILOT_ACTIONS_HOST``, for an action server on another machine)
and answers only requests that carry the run's secret (``COPILOT_ACTIONS_SECRET``)
as ``Authorization: Bearer ...``. ``GET /health`` stays open and says only "ok".

Where the check sits, and why there: Sanic 21.12 (rasa-sdk 3.6's) reads the
whole body of a request for an ordinary route *before* it runs request
middleware (``Sanic.handle_request`` awaits ``request.receive_body()`` and only
then ``_run_request_middleware``), so an ``on_request`` middleware would
see the secret only after the body had been received. The
``http.routing.before`` signal is dispatched inline by ``handle_request`` once
the headers are parsed and before the body is read, and an exception raised
there skips the body and the handler. The gate raises :class:`Refused` there,
marked so that Sanic's error path runs none of the app's request middleware
(rasa-sdk's CORS middleware would answer an OPTIONS request with 200), and
:class:`Refused` has its own handler (rasa-sdk's catch-all handler would answer
500 and echo the request body).
A refused connection is closed after the answer; Sanic discards what is left
of the body as it arrives without parsing it, and a body declared larger than
``MAX_BODY_BYTES`` is refused before any of it is read.
"""

from __future__ import annotations

import argparse
import logging
import os

from rasa_sdk import utils
from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.backend_auth import ACTIONS_SECRET_ENV, presents, secret_from_env
from bot.heap import freeze_loaded_objects
from bot.settings import current_or_exit

HOST_ENV = "COPILOT_ACTIONS_HOST"
OPEN_PATHS = frozenset({"/health"})
# An action call carries the domain (about 2 kB) and at most 20 tracker events,
# well under 1 MB; the limit also bounds what is drained from a refused client.
MAX_BODY_BYTES = 8 * 1024 * 1024

logger = logging.getLogger(__name__)


class Refused(SanicException):
    """A request without the run's secret."""

    status_code = 401
    quiet = True


def guard(app: Sanic, secret: str) -> Sanic:
    """Make ``app`` refuse every request but ``GET /health`` unless it carries ``secret``."""
    app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES

    @app.signal("http.routing.before")
    async def stop_before_the_body(request: Request) -> None:
        if request.method == "GET" and request.path in OPEN_PATHS:
            return
        if not presents(request.headers.get("Authorization"), secret):
            # Sanic's error path runs the request middleware before the error
            # handler, and rasa-sdk's CORS middleware would answer OPTIONS with
            # 200: marked as run, none of it runs for a refused request.
            request.request_middleware_started = True
            raise Refused()

    @app.exception(Refused)
    async def refuse(request: Request, _: Exception) -> HTTPResponse:
        logger.warning("Refused %s %s from %s: no valid secret", request.method, request.path,
                       request.ip)  # fmt: skip
        if request.stream is not None:
            request.stream.keep_alive = False  # answer, then close the connection
        return response.json({"error": "missing or wrong action server secret"}, status=401)

    return app


def build_app(secret: str, actions_package: str = "actions") -> Sanic:
    """rasa-sdk's app with our actions, no CORS (no browser has business here), guarded."""
    return guard(create_app(actions_package, cors_origins=""), secret)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.action_server", description=__doc__)
    parser.add_argument("--actions", default="actions", help="package of the actions")
    settings = current_or_exit()
    parser.add_argument("--port", type=int, default=settings.actions_port)
    parser.add_argument(
        "--host",
        default=settings.actions_host,
        help=f"interface to listen on (default ${HOST_ENV}, else 127.0.0.1)",
    )
    args = parser.parse_args(argv)
    secret = secret_from_env(ACTIONS_SECRET_ENV)
    # Logging as `python -m rasa_sdk` sets it up (LOG_LEVEL, LOG_LEVEL_LIBRARIES).
    utils.configure_colored_logging(os.environ.get("LOG_LEVEL", "INFO"))
    utils.update_sanic_log_level()
    app = build_app(secret, args.actions)
    # The actions and the libraries they imported live as long as the process: out of
    # the collector's reach, a full collection no longer stalls every call in flight.
    freeze_loaded_objects()
    logger.info("Action server on http://%s:%s (secret required)", args.host, args.port)
    app.run(args.host, args.port, workers=1, access_log=False)


if __name__ == "__main__":
    main()
