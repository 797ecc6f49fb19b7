"""Start and stop the three processes behind the copilot.

The action server runs the domain code; the NLU service (``bot.nlu.server``)
interprets messages; the Rasa server holds the conversations, decides each
turn's action and hands interpretation to the NLU service through its ``nlu:``
endpoint, so interpretation and dialogue run on different cores.

The action server and the NLU service listen on 127.0.0.1 only and answer only
requests that carry this run's secrets (``bot.backend_auth``): fresh ones are
generated for every run and handed to the three processes in their environment;
the endpoints file Rasa reads names the variables, not the secrets.

Used by ``copilot up`` and by the end-to-end tests, so the tests exercise the
same start-up path an operator uses.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.backend_auth import (
    ACTIONS_SECRET_ENV,
    LOOPBACK,
    NLU_SECRET_ENV,
    bearer_header,
    new_secret,
)
from bot.channels.wecom import settings as wecom
from bot.paths import project_root
from bot.training import model_path

START_TIMEOUT_S = 180.0


class ServerError(RuntimeError):
    """A server did not come up; the message says which and where its log is."""


@dataclass(frozen=True)
class Servers:
    rasa_url: str
    actions_url: str
    nlu_url: str
    log_dir: Path
    db_url: str
    processes: dict[str, subprocess.Popen[bytes]]

    @property
    def webhook(self) -> str:
        return f"{self.rasa_url}/webhooks/copilot/webhook"

    def exited(self) -> str | None:
        """Which server has stopped on its own, with its exit code, if any has."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                return f"{name} stopped (exit code {process.returncode}); see {self.log_dir}"
        return None


def _wait_for(url: str, process: subprocess.Popen[bytes], name: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"{name} exited with code {process.returncode}; see {log}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise ServerError(f"{name} did not answer {url} within {START_TIMEOUT_S:.0f} s; see {log}")


def _write_config(root: Path, name: str, folder: Path, changes: Mapping[str, object]) -> Path:
    """A copy of the project's ``name`` YAML file in ``folder`` with ``changes`` applied."""
    config = yaml.safe_load((root / name).read_text(encoding="utf-8")) or {}
    config.update(changes)
    path = folder / name
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def write_endpoints(root: Path, actions_port: int, nlu_port: int, folder: Path) -> Path:
    """endpoints.yml with this run's action server and NLU service and the headers
    that carry the run's secrets, as ``${VARIABLE}`` references Rasa expands."""
    changes = {
        "action_endpoint": {
            "url": f"http://{LOOPBACK}:{actions_port}/webhook",
            "headers": bearer_header(ACTIONS_SECRET_ENV),
        },
        "nlu": {"url": f"http://{LOOPBACK}:{nlu_port}", "headers": bearer_header(NLU_SECRET_ENV)},
    }
    return _write_config(root, "endpoints.yml", folder, changes)


def write_credentials(root: Path, env: dict[str, str], folder: Path) -> Path:
    """credentials.yml, plus the WeCom channel when its WECOM_* settings are present."""
    channel: dict[str, object] = {}
    if wecom.configured(env):
        channel["bot.channels.wecom.channel.WeComInput"] = {}
    return _write_config(root, "credentials.yml", folder, channel)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running(
    db_url: str,
    port: int = 5005,
    actions_port: int = 5055,
    host: str = "0.0.0.0",
    log_dir: Path | None = None,
    extra_env: dict[str, str] | None = None,
    nlu_port: int = 5056,
) -> Iterator[Servers]:
    """The three servers, started together and stopped on exit, whatever happens."""
    root = project_root()
    log_dir = log_dir or root / "var" / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        **(extra_env or {}),
        "COPILOT_DB_URL": db_url,
        "PYTHONUNBUFFERED": "1",
        # Fresh secrets per run: only this run's Rasa server may use the backends.
        ACTIONS_SECRET_ENV: new_secret(),
        NLU_SECRET_ENV: new_secret(),
    }
    model = str(model_path(root))
    endpoints = write_endpoints(root, actions_port, nlu_port, log_dir)
    servers = Servers(
        rasa_url=f"http://{LOOPBACK}:{port}",
        actions_url=f"http://{LOOPBACK}:{actions_port}",
        nlu_url=f"http://{LOOPBACK}:{nlu_port}",
        log_dir=log_dir,
        db_url=db_url,
        processes={},
    )
    # name, log file, command line after the interpreter, URL that answers once ready
    plan = [
        ("the action server", "actions.log",
         ["-m", "bot.action_server", "--actions", "actions", "--port", str(actions_port),
          "--host", LOOPBACK],
         f"{servers.actions_url}/health"),
        ("the NLU service", "nlu.log",
         ["-m", "bot.nlu.server", "--model", model, "--port", str(nlu_port), "--host", LOOPBACK],
         f"{servers.nlu_url}/health"),
        ("the Rasa server", "rasa.log",
         ["-m", "rasa", "run", "--model", model, "--port", str(port), "--interface", host,
          "--credentials", str(write_credentials(root, env, log_dir)),
          "--endpoints", str(endpoints)],
         f"{servers.rasa_url}/webhooks/copilot/"),
    ]  # fmt: skip
    processes = servers.processes
    try:
        for name, log, args, _ in plan:
            processes[name] = subprocess.Popen(
                [sys.executable, *args],
                cwd=root, env=env, stdout=(log_dir / log).open("wb"), stderr=subprocess.STDOUT,
            )  # fmt: skip
        for name, log, _, url in plan:
            _wait_for(url, processes[name], name, log_dir / log)
        yield servers
    finally:
        for process in reversed(processes.values()):
            _stop(process)
