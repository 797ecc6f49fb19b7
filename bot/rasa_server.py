"""The Rasa server as the copilot runs it: ``python -m bot.rasa_server run ARGS``.

This is Rasa's own command line (``rasa run ARGS``) with two steps first:

1. the settings are checked (:mod:`bot.settings`) and the variables that
   ``endpoints.yml`` names are set from them (``Settings.rasa_environment``),
   so the file is used as it is, and a bad setting stops the server with a
   message instead of a stack trace from deep inside Rasa;
2. the server hooks of :mod:`bot.rasa_patches` are registered as Sanic server
   listeners, through Rasa's plugin manager (pluggy, the mechanism Rasa's own
   extensions use): its ``configure_commandline`` hook runs after the
   arguments are parsed and adds them as ``server_listeners``, which ``rasa
   run`` passes on to ``serve_application``.

``copilot up`` and the containers in ``deploy/`` start Rasa this way.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import pluggy

from bot import rasa_patches
from bot.settings import SettingsError, current_or_exit

hookimpl = pluggy.HookimplMarker("rasa")


class ServerHooks:
    """A Rasa plugin that hands the copilot's server listeners to ``rasa run``."""

    @hookimpl
    def configure_commandline(self, cmdline_arguments: argparse.Namespace) -> None:
        cmdline_arguments.server_listeners = rasa_patches.listeners()


def main(argv: Sequence[str] | None = None) -> None:
    settings = current_or_exit()
    try:
        os.environ.update(settings.rasa_environment())
    except SettingsError as error:
        raise SystemExit(f"error: {error}") from None
    # Rasa (and TensorFlow with it) only once the settings are known to be good.
    from rasa.__main__ import main as rasa_main
    from rasa.plugin import plugin_manager

    plugin_manager().register(ServerHooks())
    sys.argv = ["rasa", *(sys.argv[1:] if argv is None else argv)]
    rasa_main()


if __name__ == "__main__":
    main()
