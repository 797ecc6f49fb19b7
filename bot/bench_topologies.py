"""``copilot bench --topologies``: turn latency of each way to run the copilot, in one run.

Three set-ups are started one after another on this machine, each measured the
same way and stopped before the next:

- **bare Rasa**: the anchor. The project ``rasa init`` creates (copied from
  Rasa's own package, nothing downloaded), trained once and kept under
  ``var/bench/anchor/``, served by plain ``rasa run`` on the REST channel with
  Rasa's in-memory conversations and locks: what Rasa itself costs here.
- **single machine**: ``copilot up`` as shipped: cards in a fresh SQLite file
  with the demo cards, conversations in SQLite beside it, in-process locks.
- **--replicas 2**: two Rasa replicas behind nginx, conversations and locks in
  Redis (a redis-server started for the run), cards in PostgreSQL (a throwaway
  server in a temporary folder; Debian's postgresql package).

For each: one advisor, sixteen advisors at once (scripted service
conversations, no pause between turns; ``bot.bench.SCRIPT``), and bursts of
three messages sent at once by one advisor (the widget and the toolbar page
together, fast typing). Every turn's latency is measured at the client; the
table gives p50 and p95 and the errors, and for the copilot the CPU time each of
its processes spent per turn (what sizing rests on). Nothing is asserted:
timings depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bot import demo
from bot.advisors import issue_token, upsert_advisor
from bot.bench import SCRIPT
from bot.cards import db
from bot.paths import var_dir
from bot.server import ServerError, free_port, running
from bot.settings import LOOPBACK

BURST = ("查一下张雅琴", "记一下,王建国喜欢靠窗", "看下周晓雯的档案")
ANCHOR_SCRIPT = ("hello", "I am sad", "yes", "great", "goodbye", "hi", "I am very happy", "bye")
ANCHOR_BURST = ("hello", "I am sad", "goodbye")
START_TIMEOUT_S = 300.0

# How one message goes out: (session, sender number, text) → a reply arrived (True) or not.
Send = Callable[[aiohttp.ClientSession, int, str], Awaitable[bool]]


@dataclass
class Measured:
    """Latencies of one load on one set-up."""

    load: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


@dataclass(frozen=True)
class Load:
    advisors: int
    rounds: int
    bursts: int


async def timed(
    http: aiohttp.ClientSession, send: Send, who: int, text: str, into: Measured
) -> None:
    started = time.perf_counter()
    try:
        ok = await send(http, who, text)
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
        ok = False
    into.latencies_ms.append((time.perf_counter() - started) * 1000)
    into.errors += not ok


async def _measure(
    send: Send, script: tuple[str, ...], burst: tuple[str, ...], load: Load
) -> list[Measured]:
    """1 advisor, ``load.advisors`` at once, then bursts of ``len(burst)`` from one advisor."""
    results = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        warm_up = Measured("warm-up")
        for who in range(load.advisors):  # every conversation exists before timing starts
            await timed(http, send, who, script[0], warm_up)

        async def conversation(who: int, rounds: int, into: Measured) -> None:
            for _ in range(rounds):
                for text in script:
                    await timed(http, send, who, text, into)

        # One advisor alone goes through three times the conversations: its turns are
        # quick, and a p95 needs a few dozen of them.
        for advisors, rounds in ((1, 3 * load.rounds), (load.advisors, load.rounds)):
            measured = Measured(f"{advisors} advisor{'s' if advisors > 1 else ''}")
            await asyncio.gather(*(conversation(who, rounds, measured) for who in range(advisors)))
            results.append(measured)
        measured = Measured(f"burst of {len(burst)}")
        for _ in range(load.bursts):
            await asyncio.gather(*(timed(http, send, 0, text, measured) for text in burst))
            await asyncio.sleep(0.2)  # an advisor reads the answers before the next burst
        results.append(measured)
    return results


# -- the copilot --------------------------------------------------------------------------------


def copilot_sender(webhook: str, tokens: list[str]) -> Send:
    async def send(http: aiohttp.ClientSession, who: int, text: str) -> bool:
        headers = {"Authorization": f"Bearer {tokens[who]}"}
        async with http.post(webhook, json={"message": text}, headers=headers) as answer:
            body = await answer.json(content_type=None)
            return answer.status == 200 and bool(body) and "custom" in body[-1]

    return send


def _prepare_database(url: str, advisors: int) -> list[str]:
    db.upgrade(url)
    with db.session_scope(url) as session:
        demo.load_if_empty(session)
        return [
            issue_token(
                session,
                upsert_advisor(session, f"TOPO{n:02d}", f"拓扑{n:02d}", "压测门店", "advisor"),
            )
            for n in range(1, advisors + 1)
        ]


def _cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children now (Linux /proc; nginx works in a child)."""
    ticks = os.sysconf("SC_CLK_TCK")

    def own(stat: str) -> tuple[int, float]:
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (name) "
        return int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks

    total = 0.0
    for path in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent, seconds = own(path.read_text())
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        if path.parent.name == str(pid) or parent == pid:
            total += seconds
    return total


def _copilot(url: str, folder: Path, load: Load, replicas: int) -> tuple[list[Measured], str]:
    """The measurements, and each process's CPU time per turn (what sizing needs)."""
    tokens = _prepare_database(url, load.advisors)
    ports = [free_port() for _ in range(replicas)] if replicas > 1 else None
    with running(
        url, free_port(), free_port(), LOOPBACK, folder / "log", nlu_port=free_port(),
        replicas=replicas, replica_ports=ports,
    ) as servers:  # fmt: skip
        before = {name: _cpu_seconds(p.pid) for name, p in servers.processes.items()}
        results = asyncio.run(
            _measure(copilot_sender(servers.webhook, tokens), SCRIPT, BURST, load)
        )
        turns = load.advisors + sum(len(m.latencies_ms) for m in results)  # with the warm-up
        used = {
            name: (_cpu_seconds(p.pid) - before[name]) * 1000 / turns
            for name, p in servers.processes.items()
        }
    cpu = ", ".join(f"{name} {ms:.1f}" for name, ms in used.items() if ms >= 0.05)
    return results, f"CPU ms per turn: {cpu}; all {sum(used.values()):.1f}"


def _postgres_binary(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        raise ServerError(f"{name} is not installed (Debian: apt-get install postgresql)")
    return found


@contextmanager
def local_postgres() -> Iterator[str]:
    """A throwaway PostgreSQL server on a free loopback port; the URL of its database."""
    initdb, pg_ctl = _postgres_binary("initdb"), _postgres_binary("pg_ctl")
    as_root = os.geteuid() == 0  # initdb refuses root: run it as Debian's postgres user
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    # Its own folder straight under /tmp: the server's user must be able to reach it.
    folder = Path(tempfile.mkdtemp(prefix="copilot-bench-pg-"))
    if as_root:
        shutil.chown(folder, "postgres")
    data, port = folder / "data", free_port()

    def run(*command: str) -> None:
        subprocess.run([*prefix, *command], check=True, capture_output=True)

    try:
        run(initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        # Shared buffers that hold a million cards' lookup tables and indexes (~320 MB),
        # as a production server would be given (PostgreSQL's default is 128 MB).
        options = f"-p {port} -k {folder} -c listen_addresses={LOOPBACK} -c shared_buffers=512MB"
        run(pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start")
        try:
            run(_postgres_binary("createdb"), "-h", LOOPBACK, "-p", str(port), "-U", "postgres",
                "copilot")  # fmt: skip
            yield f"postgresql+psycopg2://postgres@{LOOPBACK}:{port}/copilot"
        finally:
            subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "fast", "stop"],
                           capture_output=True)  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- the bare Rasa anchor -----------------------------------------------------------------------


def _anchor_project(folder: Path) -> Path:
    """The ``rasa init`` project, copied from Rasa's package."""
    import rasa.cli

    source = Path(rasa.cli.__file__).parent / "initial_project"
    project = folder / "anchor"
    shutil.copytree(source, project, ignore=shutil.ignore_patterns("__pycache__"))
    return project


def _anchor_model(project: Path) -> Path:
    """The anchor's trained model, trained the first time only (kept under var/bench/)."""
    import rasa

    digest = hashlib.sha256(rasa.__version__.encode())
    for path in sorted(project.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(project)).encode() + path.read_bytes())
    kept = var_dir() / "bench" / "anchor" / f"{digest.hexdigest()[:16]}.tar.gz"
    if not kept.exists():
        print(
            "Training the bare Rasa anchor (once; rasa init's project and default config) ...",
            flush=True,
        )
        out = project / "models"
        command = [sys.executable, "-m", "rasa", "train", "--out", str(out),
                   "--fixed-model-name", "anchor"]  # fmt: skip
        kept.parent.mkdir(parents=True, exist_ok=True)
        log = kept.parent / "train.log"
        with log.open("wb") as output:
            trained = subprocess.run(command, cwd=project, stdout=output, stderr=subprocess.STDOUT)
        if trained.returncode:
            raise ServerError(f"training the bare Rasa anchor failed; see {log}")
        shutil.copy(out / "anchor.tar.gz", kept)
    return kept


def _anchor(folder: Path, load: Load) -> list[Measured]:
    project = _anchor_project(folder)
    model = _anchor_model(project)
    port = free_port()
    log = folder / "anchor.log"
    command = [sys.executable, "-m", "rasa", "run", "--model", str(model), "--port", str(port),
               "--interface", LOOPBACK, "--credentials", "credentials.yml"]  # fmt: skip
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=project, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        _wait_until_up(f"http://{LOOPBACK}:{port}/", process, log)
        webhook = f"http://{LOOPBACK}:{port}/webhooks/rest/webhook"

        async def send(http: aiohttp.ClientSession, who: int, text: str) -> bool:
            async with http.post(
                webhook, json={"sender": f"anchor{who}", "message": text}
            ) as answer:
                return answer.status == 200 and isinstance(await answer.json(), list)

        return asyncio.run(_measure(send, ANCHOR_SCRIPT, ANCHOR_BURST, load))
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"the bare Rasa bot exited with code {process.returncode}; see {log}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise ServerError(f"the bare Rasa bot did not answer within {START_TIMEOUT_S:.0f} s; see {log}")


# -- the table ----------------------------------------------------------------------------------


def _print(name: str, results: list[Measured]) -> None:
    for measured in results:
        print(
            f"{name:<42} {measured.load:<12} {len(measured.latencies_ms):>6} "
            f"{measured.percentile(50):>8.1f} {measured.percentile(95):>8.1f} {measured.errors:>6}",
            flush=True,
        )


def run_topologies(args: argparse.Namespace) -> int:
    load = Load(advisors=16, rounds=args.rounds, bursts=args.bursts)
    print(
        f"Turn latency by set-up, measured at the client: 1 advisor ({3 * load.rounds} scripted "
        f"conversations), {load.advisors} at once ({load.rounds} each), {load.bursts} bursts of 3"
    )
    print(
        f"{'set-up':<42} {'load':<12} {'turns':>6} {'p50 ms':>8} {'p95 ms':>8} {'errors':>6}",
        flush=True,
    )
    errors = 0
    with tempfile.TemporaryDirectory(prefix="copilot-bench-") as temporary:
        folder = Path(temporary)
        plan: list[tuple[str, Callable[[Path], tuple[list[Measured], str]]]] = []
        if not args.no_anchor:
            plan.append(
                ("bare Rasa (rasa init, REST, in memory)", lambda f: (_anchor(f, load), ""))
            )
        plan.append(
            ("single machine (SQLite, in-process locks)",
             lambda f: _copilot(f"sqlite:///{f / 'copilot.db'}", f, load, replicas=1))
        )  # fmt: skip

        def scaled(f: Path) -> tuple[list[Measured], str]:
            with local_postgres() as url:
                return _copilot(url, f, load, replicas=2)

        plan.append(("--replicas 2 (PostgreSQL, Redis, nginx)", scaled))
        for number, (name, measure) in enumerate(plan):
            part = folder / str(number)
            part.mkdir()
            results, cpu = measure(part)
            errors += sum(m.errors for m in results)
            _print(name, results)
            if cpu:
                print(f"  {cpu}", flush=True)
    return 1 if errors else 0
