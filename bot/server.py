"""Start and stop the two processes behind the copilot: the action server and Rasa.

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
    log_dir: Path
    db_url: str

    @property
    def webhook(self) -> str:
        return f"{self.rasa_url}/webhooks/copilot/webhook"


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


def write_endpoints(root: Path, actions_port: int, folder: Path) -> Path:
    """endpoints.yml with the action server on ``actions_port`` (Rasa does not expand
    environment variables in endpoint URLs)."""
    url = f"http://127.0.0.1:{actions_port}/webhook"
    return _write_config(root, "endpoints.yml", folder, {"action_endpoint": {"url": url}})


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
) -> Iterator[Servers]:
    """Both servers, started in order and stopped on exit, whatever happens."""
    root = project_root()
    log_dir = log_dir or root / "var" / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        **(extra_env or {}),
        "COPILOT_DB_URL": db_url,
        "PYTHONUNBUFFERED": "1",
    }
    processes: list[subprocess.Popen[bytes]] = []
    try:
        actions_log = log_dir / "actions.log"
        actions = subprocess.Popen(
            [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(actions_port)],
            cwd=root, env=env, stdout=actions_log.open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        processes.append(actions)
        rasa_log = log_dir / "rasa.log"
        rasa = subprocess.Popen(
            [
                sys.executable, "-m", "rasa", "run",
                "--model", str(model_path(root)),
                "--port", str(port),
                "--interface", host,
                "--credentials", str(write_credentials(root, env, log_dir)),
                "--endpoints", str(write_endpoints(root, actions_port, log_dir)),
            ],
            cwd=root, env=env, stdout=rasa_log.open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        processes.append(rasa)
        local = "127.0.0.1"
        servers = Servers(
            f"http://{local}:{port}", f"http://{local}:{actions_port}", log_dir, db_url
        )
        _wait_for(f"{servers.actions_url}/health", actions, "the action server", actions_log)
        _wait_for(f"{servers.rasa_url}/webhooks/copilot/", rasa, "the Rasa server", rasa_log)
        yield servers
    finally:
        for process in reversed(processes):
            _stop(process)
