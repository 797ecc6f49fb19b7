"""Start and stop the processes behind the copilot, on one machine.

The action server runs the domain code; the NLU service (``bot.nlu.server``)
interprets messages; the Rasa server (``bot.rasa_server``: ``rasa run`` with the
settings checked and the server hooks installed) holds the conversations,
decides each turn's action and hands interpretation to the NLU service, so
interpretation and dialogue run on different cores.

With one replica (the default) conversations live in the card database and
locks in the Rasa process. With ``replicas`` above 1, that many Rasa servers
run on loopback ports behind Debian's nginx (round robin, no sticky sessions;
its configuration is filled in from ``deploy/nginx/nginx.conf.template``),
sharing conversations and locks through Redis (``COPILOT_REDIS_URL``, or a
redis-server started here that keeps its append-only file under var/redis)
and the cards in PostgreSQL; they share one action server and one NLU service.

The action server and the NLU service listen on 127.0.0.1 only and answer only
requests that carry this run's secrets (``bot.backend_auth``): fresh ones are
generated for every run and handed to the processes in their environment. Every
process gets the settings (``bot.settings``) as environment variables, and the
Rasa server expands those endpoints.yml names; nothing is rewritten on disk.

Used by ``copilot up``, ``copilot bench --topologies`` and the end-to-end tests,
so the tests exercise the same start-up path an operator uses.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.backend_auth import ACTIONS_SECRET_ENV, NLU_SECRET_ENV, new_secret
from bot.paths import project_root, var_dir
from bot.settings import LOOPBACK, Settings
from bot.training import model_path

# Loading a model takes about half a minute on an idle 2-core machine; the NLU service
# and several replicas loading at once on a busy one can take minutes.
START_TIMEOUT_S = 600.0
NGINX_TEMPLATE = Path("deploy") / "nginx" / "nginx.conf.template"
REPLICA = "Rasa replica"


class ServerError(RuntimeError):
    """A server did not come up; the message says which and where its log is."""


@dataclass(frozen=True)
class Servers:
    rasa_url: str  # what advisors' clients use: Rasa itself, or nginx before the replicas
    actions_url: str
    nlu_url: str
    log_dir: Path
    db_url: str
    processes: dict[str, subprocess.Popen[bytes]]
    replica_urls: tuple[str, ...] = ()
    redis_url: str = ""

    @property
    def webhook(self) -> str:
        return f"{self.rasa_url}/webhooks/copilot/webhook"

    @property
    def replicas(self) -> dict[str, subprocess.Popen[bytes]]:
        """The Rasa replicas behind nginx, by name (empty with one Rasa server)."""
        return {name: p for name, p in self.processes.items() if name.startswith(REPLICA)}

    def lost_replicas(self) -> list[str]:
        """Replicas that have stopped while others still serve."""
        return [name for name, process in self.replicas.items() if process.poll() is not None]

    def exited(self) -> str | None:
        """Which server has stopped on its own, if the copilot cannot go on without it.

        One replica stopping is not such a server while another replica runs:
        nginx sends every turn to the replicas that are left.
        """
        replicas, lost = self.replicas, self.lost_replicas()
        for name, process in self.processes.items():
            if process.poll() is None or (name in replicas and len(lost) < len(replicas)):
                continue
            return f"{name} stopped (exit code {process.returncode}); see {self.log_dir}"
        return None


@dataclass
class _Step:
    """One process of the plan: its command, its log, and how to tell it is ready."""

    name: str
    log: str
    command: list[str]
    ready: Callable[[], bool]
    describe: str


EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# Where free_port looks when the ephemeral range leaves no room below it.
FALLBACK_PORTS = range(20000, 30000)
_handed_out: set[int] = set()


def _listening_ports() -> range:
    """Ports below the kernel's ephemeral range (from 10000 up).

    A port the kernel picks for ``bind(0)`` comes from the ephemeral range, the
    same range every outgoing connection takes its local port from: between the
    pick and the server's own bind, a client connection (Redis, PostgreSQL, a
    test's HTTP client) can take it, and the server fails to start. Ports below
    that range are never given to outgoing connections.
    """
    try:
        low = int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return FALLBACK_PORTS
    return range(10000, low) if low - 10000 >= 1000 else FALLBACK_PORTS


def free_port() -> int:
    """A TCP port on loopback that nobody listens on now and this process has not
    handed out before (for the servers ``copilot up`` and the tests start)."""
    candidates = list(_listening_ports())
    random.shuffle(candidates)
    for port in candidates:
        if port in _handed_out:
            continue
        with socket.socket() as probe:
            try:
                probe.bind((LOOPBACK, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise ServerError("no free TCP port on 127.0.0.1 below the ephemeral range")


def _answers(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    return check


def _redis_answers(url: str) -> Callable[[], bool]:
    def check() -> bool:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=2)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    return check


def _wait_for(step: _Step, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"{step.name} exited with code {process.returncode}; see {log}")
        if step.ready():
            return
        time.sleep(0.5)
    raise ServerError(
        f"{step.name} did not answer {step.describe} within {START_TIMEOUT_S:.0f} s; see {log}"
    )


def _binary(name: str, package: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise ServerError(
            f"{name} is not installed: copilot up --replicas needs it "
            f"(Debian: apt-get install {package}; `make system-deps` does it)"
        )
    return found


def nginx_config(root: Path, run_dir: Path, listen: str, upstreams: Sequence[str]) -> Path:
    """``deploy/nginx/nginx.conf.template`` filled in for these replicas, in ``run_dir``."""
    template = string.Template((root / NGINX_TEMPLATE).read_text(encoding="utf-8"))
    servers = "\n        ".join(
        f"server {address} max_fails=1 fail_timeout=5s;" for address in upstreams
    )
    text = template.safe_substitute(
        NGINX_RUN_DIR=str(run_dir), NGINX_LISTEN=listen, NGINX_UPSTREAM_SERVERS=servers
    )
    if any("${" in line.split("#")[0] for line in text.splitlines()):
        raise ServerError(f"{NGINX_TEMPLATE} names a variable copilot up does not fill in")
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "nginx.conf"
    path.write_text(text, encoding="utf-8")
    return path


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _rasa(root: Path, port: int, interface: str) -> list[str]:
    model = str(model_path(root))
    return [sys.executable, "-m", "bot.rasa_server", "run", "--model", model,
            "--port", str(port), "--interface", interface,
            "--credentials", str(root / "credentials.yml"),
            "--endpoints", str(root / "endpoints.yml")]  # fmt: skip


def _plan(
    settings: Settings, root: Path, run_dir: Path, replica_ports: Sequence[int]
) -> tuple[list[_Step], list[_Step]]:
    """The processes to start at once, and those to start when they answer (nginx)."""
    actions = f"http://{LOOPBACK}:{settings.actions_port}"
    nlu = f"http://{LOOPBACK}:{settings.nlu_port}"
    scheduler_port = free_port()
    scheduler = f"http://{LOOPBACK}:{scheduler_port}"
    first = [
        _Step("the action server", "actions.log",
              [sys.executable, "-m", "bot.action_server", "--actions", "actions",
               "--port", str(settings.actions_port), "--host", LOOPBACK],
              _answers(f"{actions}/health"), f"{actions}/health"),
        _Step("the NLU service", "nlu.log",
              [sys.executable, "-m", "bot.nlu.server", "--model", str(model_path(root)),
               "--port", str(settings.nlu_port), "--host", LOOPBACK],
              _answers(f"{nlu}/health"), f"{nlu}/health"),
        # One scheduler whatever the replica count: reminders are claimed in the
        # database, so even two would send each once (bot/followups/scheduler.py).
        _Step("the follow-up scheduler", "scheduler.log",
              [sys.executable, "-m", "bot.followups.scheduler",
               "--health-port", str(scheduler_port)],
              _answers(f"{scheduler}/health"), f"{scheduler}/health"),
    ]  # fmt: skip
    if settings.replicas == 1:
        url = f"http://{LOOPBACK}:{settings.port}/webhooks/copilot/"
        first.append(
            _Step("the Rasa server", "rasa.log",
                  _rasa(root, settings.port, settings.host), _answers(url), url)
        )  # fmt: skip
        return first, []
    for number, port in enumerate(replica_ports, start=1):
        url = f"http://{LOOPBACK}:{port}/webhooks/copilot/"
        first.append(
            _Step(f"{REPLICA} {number}", f"rasa-{number}.log",
                  _rasa(root, port, LOOPBACK), _answers(url), url)
        )  # fmt: skip
    everywhere = settings.host in ("0.0.0.0", "")
    listen = str(settings.port) if everywhere else f"{settings.host}:{settings.port}"
    config = nginx_config(
        root, run_dir / "nginx", listen, [f"{LOOPBACK}:{port}" for port in replica_ports]
    )
    url = f"http://{LOOPBACK}:{settings.port}/webhooks/copilot/"
    balancer = _Step(
        "nginx", "nginx.log",
        [_binary("nginx", "nginx"), "-p", str(run_dir / "nginx"), "-c", str(config),
         "-e", "stderr", "-g", "daemon off;"],
        _answers(url), url,
    )  # fmt: skip
    return first, [balancer]


def _redis_step(run_dir: Path) -> tuple[_Step, str]:
    """A redis-server on a free loopback port, its append-only file under ``run_dir``."""
    port = free_port()
    url = f"redis://{LOOPBACK}:{port}/0"
    folder = run_dir / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    command = [_binary("redis-server", "redis-server"), "--port", str(port), "--bind", LOOPBACK,
               "--dir", str(folder), "--appendonly", "yes", "--appendfsync", "everysec",
               "--save", ""]  # fmt: skip
    return _Step("redis-server", "redis.log", command, _redis_answers(url), url), url


@contextmanager
def running(
    db_url: str,
    port: int = 5005,
    actions_port: int = 5055,
    host: str = "0.0.0.0",
    log_dir: Path | None = None,
    extra_env: dict[str, str] | None = None,
    nlu_port: int = 5056,
    *,
    replicas: int | None = None,
    replica_ports: Sequence[int] | None = None,
) -> Iterator[Servers]:
    """The servers, started together and stopped on exit, whatever happens.

    The settings come from the environment (and ``extra_env``) with the arguments
    applied; they are checked first (``bot.settings.SettingsError``). Run files
    (nginx's configuration, a local Redis's data) go beside ``log_dir``'s folder,
    under var/ by default.
    """
    root = project_root()
    log_dir = log_dir or var_dir() / "log"
    run_dir = log_dir.parent
    log_dir.mkdir(parents=True, exist_ok=True)
    base_env = {**os.environ, **(extra_env or {})}
    changes: dict[str, object] = dict(
        db_url=db_url, port=port, actions_port=actions_port, host=host, nlu_port=nlu_port
    )
    if replicas is not None:
        changes["replicas"] = replicas
    settings = Settings.from_env(base_env).replace(**changes)
    first_port = settings.replica_port
    ports = list(replica_ports or range(first_port, first_port + settings.replicas))
    early: list[_Step] = []
    if settings.needs_redis and not settings.redis_url:
        redis_step, redis_url = _redis_step(run_dir)
        early.append(redis_step)
        settings = settings.replace(redis_url=redis_url)
    first, last = _plan(settings, root, run_dir, ports)
    env = {
        **base_env,
        **settings.environment(),
        "PYTHONUNBUFFERED": "1",
        # Fresh secrets per run: only this run's Rasa servers may use the backends.
        ACTIONS_SECRET_ENV: new_secret(),
        NLU_SECRET_ENV: new_secret(),
    }
    servers = Servers(
        rasa_url=f"http://{LOOPBACK}:{settings.port}",
        actions_url=f"http://{LOOPBACK}:{settings.actions_port}",
        nlu_url=f"http://{LOOPBACK}:{settings.nlu_port}",
        log_dir=log_dir,
        db_url=settings.db_url,
        processes={},
        replica_urls=tuple(f"http://{LOOPBACK}:{p}" for p in ports if settings.replicas > 1),
        redis_url=settings.redis_url,
    )
    processes = servers.processes
    try:
        for group in (early, first, last):
            for step in group:
                processes[step.name] = subprocess.Popen(
                    step.command, cwd=root, env=env,
                    stdout=(log_dir / step.log).open("wb"), stderr=subprocess.STDOUT,
                )  # fmt: skip
            for step in group:
                _wait_for(step, processes[step.name], log_dir / step.log)
        yield servers
    finally:
        for process in reversed(processes.values()):
            _stop(process)
