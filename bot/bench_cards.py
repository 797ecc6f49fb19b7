"""``copilot bench --cards N``: the card store at brand scale, beside the demo store.

A brand's store holds hundreds of thousands of cards, and the copilot must find
the client a message names as fast as in the twenty-card demo. This builds a
synthetic store of N cards (``bot.cards.synthetic``: realistic surname
frequencies, shared surnames and honorifics, compound surnames, English names;
the CSV is kept under var/bench/cards/ and reused), imports it as an operator
would (``copilot cards import``: checks, staging, bulk upserts, one transaction),
then measures in one run:

- import rows/s;
- resolution in process (``bot.cards.resolution_bench``: every kind of message,
  timed as an action runs the resolver) for the demo store and the big one;
- whole lookup turns through the copilot channel: two complete copilot set-ups
  run side by side, one on each store, and the turns alternate between them so
  the machine's drift hits both alike; p50/p95 for each and their ratio;
- each process's resident memory with each store.

The big store is a fresh SQLite file by default, or a throwaway PostgreSQL
server (``--cards-db postgresql``). Nothing is asserted: timings depend on the
machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path

import aiohttp

from bot import demo
from bot.advisors import AdvisorIdentity, issue_token, upsert_advisor
from bot.bench_topologies import Measured, Send, copilot_sender, local_postgres, timed
from bot.cards import bulk, db, synthetic
from bot.cards.importer import import_file
from bot.cards.resolution_bench import (
    LOOKUP_TEMPLATES,
    Timing,
    peak_memory_mb,
    percentile,
    sample_messages,
    time_resolution,
)
from bot.demo import demo_dir
from bot.paths import var_dir
from bot.server import Servers, free_port, running
from bot.settings import LOOPBACK

RESOLUTION_MESSAGES = 1_000
LOOKUP_TURNS = 200
WARM_UP_TURNS = 10
SEED = 1
# A demo advisor who also has clients in the synthetic store (A001, 上海恒隆店): the
# resolver's first probe, the advisor's own clients, has something to find.
ADVISOR = AdvisorIdentity("A001", "李娜", "上海恒隆店", "advisor")


def synthetic_csv(count: int) -> Path:
    """The synthetic cards for ``count``, written once and kept for the next run."""
    folder = var_dir() / "bench" / "cards"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"synthetic-{count}-seed{SEED}.csv"
    if not path.exists():
        print(f"Writing {count:,} synthetic cards to {path} (once) ...", flush=True)
        partial = path.with_suffix(".partial")
        synthetic.write_file(partial, count, SEED, progress=count >= 10_000)
        partial.rename(path)
    return path


def _fresh_sqlite(name: str) -> str:
    """The URL of a new SQLite file under var/bench/cards/ (an old one, with its -wal
    and -shm, is removed)."""
    path = var_dir() / "bench" / "cards" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f"{path.name}*"):
        stale.unlink()
    return f"sqlite:///{path}"


@contextmanager
def big_store(kind: str, count: int) -> Iterator[str]:
    """The URL of an empty database for the big store: SQLite, PostgreSQL or a URL."""
    if kind == "postgresql":
        with local_postgres() as url:
            yield url
        return
    if kind != "sqlite":
        yield kind
        return
    yield _fresh_sqlite(f"cards-{count}.db")


def small_store() -> str:
    """A fresh SQLite file holding the demo cards, as `copilot up` starts with."""
    url = _fresh_sqlite("demo.db")
    db.upgrade(url)
    with db.session_scope(url) as session:
        demo.load_if_empty(session)
    return url


def import_cards(url: str, path: Path, count: int) -> float:
    """Import the synthetic file into the empty store; rows per second, commit (and
    PostgreSQL's VACUUM after it) included."""
    db.upgrade(url)
    with db.session_scope(url) as session:
        demo.load_advisors(session, demo_dir() / "advisors.csv")
    started = time.perf_counter()
    with db.session_scope(url) as session:
        result = import_file(session, path, progress=True)
    bulk.settle(db.get_engine(url))
    seconds = time.perf_counter() - started
    print(
        f"Imported {result.rows:,} cards ({result.preferences_added:,} preferences, "
        f"{result.aliases_added:,} aliases) in {seconds:.1f} s: {count / seconds:,.0f} rows/s",
        flush=True,
    )
    return count / seconds


def _servers(url: str, log_dir: Path) -> AbstractContextManager[Servers]:
    """A whole copilot set-up on free loopback ports, on this store."""
    return running(
        url, free_port(), free_port(), LOOPBACK, log_dir, nlu_port=free_port(), replicas=1
    )


def _token(url: str) -> str:
    with db.session_scope(url) as session:
        advisor = upsert_advisor(session, ADVISOR.id, ADVISOR.name, ADVISOR.store, ADVISOR.role)
        return issue_token(session, advisor)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _memory(servers: Servers) -> str:
    return ", ".join(f"{name} {_rss_mb(p.pid):,.0f}" for name, p in servers.processes.items())


async def _lookups(senders: list[Send], messages: list[list[str]]) -> list[Measured]:
    """Each store's lookup turns, alternating between the stores turn by turn."""
    measured = [Measured("lookup") for _ in senders]
    warm_up = Measured("warm-up")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        for turn in range(len(messages[0])):
            for store, send in enumerate(senders):
                into = measured[store] if turn >= WARM_UP_TURNS else warm_up
                await timed(http, send, 0, messages[store][turn], into)
    return measured


def _print_resolution(label: str, timings: list[Timing]) -> None:
    print(f"Resolution in process, {label} (ms):")
    for timing in timings:
        print(
            f"  {timing.kind:<10} {timing.count:>5}  p50 {timing.p50_ms:>6.2f}  "
            f"p95 {timing.p95_ms:>6.2f}"
        )


def _resolution(url: str) -> tuple[Timing, list[Timing]]:
    """Resolution over all messages in a first pass (other messages, straight after
    the import: the database's caches cold), then per kind once it has served a
    while, as a store in service has."""
    cold = time_resolution(url, sample_messages(url, RESOLUTION_MESSAGES, seed=3), ADVISOR)
    first = next(timing for timing in cold if timing.kind == "all")
    return first, time_resolution(url, sample_messages(url, RESOLUTION_MESSAGES), ADVISOR)


def run_cards(args: argparse.Namespace) -> int:
    count = args.cards
    path = synthetic_csv(count)
    small = small_store()
    small_cold, small_timings = _resolution(small)
    with big_store(args.cards_db, count) as big:
        rate = import_cards(big, path, count)
        big_cold, big_timings = _resolution(big)
        print(f"bench process peak memory after resolving: {peak_memory_mb():,.0f} MB")
        for label, cold, timings in (("demo store", small_cold, small_timings),
                                     (f"{count:,} cards", big_cold, big_timings)):  # fmt: skip
            _print_resolution(label, timings)
            print(f"  first pass after the import, all messages: p50 {cold.p50_ms:.2f}  "
                  f"p95 {cold.p95_ms:.2f}")  # fmt: skip
        turns = LOOKUP_TURNS + WARM_UP_TURNS
        stores = [("demo store", small), (f"{count:,} cards", big)]
        messages = [
            [text for _, text in sample_messages(url, turns, seed=11, templates=LOOKUP_TEMPLATES)]
            for _, url in stores
        ]
        tokens = [_token(url) for _, url in stores]
        log_root = var_dir() / "bench" / "cards" / "run"
        with ExitStack() as stack:
            servers = [
                stack.enter_context(_servers(url, log_root / str(n) / "log"))
                for n, (_, url) in enumerate(stores)
            ]
            senders = [copilot_sender(s.webhook, [t]) for s, t in zip(servers, tokens, strict=True)]
            lookups = asyncio.run(_lookups(senders, messages))
            memory = [_memory(s) for s in servers]
    print(f"Lookup turns through the copilot channel, alternating ({LOOKUP_TURNS} each):")
    p95s = []
    for (label, _), measured, rss in zip(stores, lookups, memory, strict=True):
        values = measured.latencies_ms
        p95s.append(percentile(values, 0.95))
        print(
            f"  {label:<16} p50 {percentile(values, 0.5):>6.1f} ms  p95 {p95s[-1]:>6.1f} ms  "
            f"errors {measured.errors}  memory MB: {rss}"
        )
    print(f"  p95 ratio, {count:,} cards / demo store: {p95s[1] / p95s[0]:.2f}")
    print(f"Import: {rate:,.0f} rows/s; database: {args.cards_db}; pid {os.getpid()}")
    return 1 if any(m.errors for m in lookups) else 0
