"""Conversation locks: in order, handed over at once, never held by two replicas.

The Redis tests run against a throwaway redis-server on a free loopback port;
"replicas" are separate processes, each with its own lock store and connections.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlparse

import pytest
import redis
from rasa.core.lock_store import LockError, LockStore
from rasa.utils.endpoints import EndpointConfig

from bot.locks import InProcessLockStore, RedisLockStore
from bot.paths import project_root
from tests.throwaway_servers import redis_url  # noqa: F401  (fixture)

ROOT = project_root()
CONVERSATION = "A001"
Lock = Callable[[str], AbstractAsyncContextManager[object]]


@dataclass(frozen=True)
class RedisServer:
    url: str
    client: redis.Redis


@pytest.fixture()
def redis_server(request: pytest.FixtureRequest) -> Iterator[RedisServer]:
    """The module's throwaway Redis, emptied before each test."""
    url = request.getfixturevalue("redis_url")
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield RedisServer(url, client)
    client.close()


async def hold_in_turn(lock: Lock, holders: int, hold_s: float, stagger_s: float) -> list[tuple]:
    """``holders`` turns of one conversation arriving ``stagger_s`` apart, each holding
    the lock for ``hold_s``: (turn, entered, left) in the order they ran."""
    ran: list[tuple[int, float, float]] = []

    async def turn(number: int) -> None:
        await asyncio.sleep(number * stagger_s)
        async with lock(CONVERSATION):
            entered = time.perf_counter()
            await asyncio.sleep(hold_s)
            ran.append((number, entered, time.perf_counter()))

    await asyncio.gather(*(turn(n) for n in range(holders)))
    return ran


def hand_overs_ms(ran: list[tuple]) -> list[float]:
    """From one turn leaving its critical section to the next one entering it."""
    return [(after[1] - before[2]) * 1000 for before, after in itertools.pairwise(ran)]


# --- in one process ---------------------------------------------------------------------------


def test_in_process_burst_runs_in_order_and_hands_over_at_once() -> None:
    store = InProcessLockStore()
    ran = asyncio.run(hold_in_turn(store.lock, holders=3, hold_s=0.02, stagger_s=0.002))
    assert [number for number, _, _ in ran] == [0, 1, 2]
    for before, after in itertools.pairwise(ran):
        assert after[1] >= before[2]  # never two turns at once
    hand_overs = hand_overs_ms(ran)
    print(f"in-process lock hand-over: {', '.join(f'{ms:.3f}' for ms in hand_overs)} ms")
    assert max(hand_overs) < 20  # Rasa's InMemoryLockStore: ~1000 ms (it polls once a second)
    assert store._queues == {}  # nothing left behind


def test_in_process_other_conversations_do_not_wait() -> None:
    store = InProcessLockStore()

    async def scenario() -> float:
        async with store.lock("A001"):
            started = time.perf_counter()
            async with store.lock("A002"):
                return time.perf_counter() - started

    assert asyncio.run(scenario()) < 0.01


def test_in_process_waiter_gives_up_and_a_cancelled_one_leaves_the_queue() -> None:
    store = InProcessLockStore(wait_timeout=0.05)

    async def scenario() -> list[str]:
        events: list[str] = []
        async with store.lock(CONVERSATION):
            with pytest.raises(LockError, match="stayed locked"):
                async with store.lock(CONVERSATION):
                    events.append("must not run")

            async def waiter(name: str) -> None:
                async with store.lock(CONVERSATION):
                    events.append(name)

            cancelled = asyncio.create_task(waiter("cancelled"))
            patient = asyncio.create_task(waiter("patient"))
            await asyncio.sleep(0.01)
            cancelled.cancel()
            await asyncio.sleep(0)
        await patient
        return events

    assert asyncio.run(scenario()) == ["patient"]
    assert store._queues == {}


def test_in_process_store_from_endpoints_config() -> None:
    config = EndpointConfig(type="bot.locks.InProcessLockStore", wait_timeout=5)
    store = LockStore.create(config)
    assert isinstance(store, InProcessLockStore) and store.wait_timeout == 5


# --- across replicas, through Redis -----------------------------------------------------------


async def critical_sections(lock: Lock, log: Callable[[str], Awaitable[object]], name: str,
                            rounds: int) -> None:  # fmt: skip
    """``rounds`` turns that each log their start and end with an await in between."""
    for round_number in range(rounds):
        async with lock(CONVERSATION):
            await log(f"start {name}:{round_number}")
            await asyncio.sleep(0.001 * (round_number % 3))
            await log(f"end {name}:{round_number}")


async def replica(url: str, name: str, tasks: int, rounds: int) -> None:
    """One replica (run in its own process): waits for the go, then ``tasks`` concurrent
    senders each run ``rounds`` turns of the same conversation."""
    from redis import asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    store = RedisLockStore(url=url)
    await client.rpush("ready", name)
    await client.blpop(["go"], timeout=60)

    async def log(entry: str) -> None:
        await client.rpush("log", entry)

    await asyncio.gather(
        *(critical_sections(store.lock, log, f"{name}.{n}", rounds) for n in range(tasks))
    )
    await store.close()
    await client.close()


def start_replica(url: str, name: str, tasks: int, rounds: int) -> subprocess.Popen[bytes]:
    code = (
        "import asyncio; from tests.test_locks import replica; "
        f"asyncio.run(replica({url!r}, {name!r}, {tasks}, {rounds}))"
    )
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)


def strictly_alternating(entries: list[str]) -> bool:
    """Every start is followed by the end of the same turn, before anything else."""
    if len(entries) % 2:
        return False
    pairs = zip(entries[::2], entries[1::2], strict=True)
    return all(a.startswith("start ") and b == "end " + a[len("start ") :] for a, b in pairs)


def test_unlocked_control_does_interleave() -> None:
    """The check below can fail: without a lock the same turns do interleave."""

    @asynccontextmanager
    async def no_lock(_: str) -> AsyncIterator[None]:
        yield

    entries: list[str] = []

    async def log(entry: str) -> None:
        entries.append(entry)
        await asyncio.sleep(0)

    async def scenario() -> None:
        await asyncio.gather(*(critical_sections(no_lock, log, str(n), 10) for n in range(3)))

    asyncio.run(scenario())
    assert len(entries) == 60 and not strictly_alternating(entries)


def test_two_replicas_never_interleave_turns(redis_server: RedisServer) -> None:
    tasks, rounds = 3, 25
    replicas = [start_replica(redis_server.url, name, tasks, rounds) for name in ("r1", "r2")]
    try:
        for _ in replicas:
            ready = redis_server.client.blpop(["ready"], timeout=120)
            assert ready is not None, "a replica did not start"
        redis_server.client.rpush("go", "1", "1")
        for process in replicas:
            assert process.wait(timeout=180) == 0
    finally:
        for process in replicas:
            if process.poll() is None:
                process.kill()
    entries = [entry.decode() for entry in redis_server.client.lrange("log", 0, -1)]
    assert len(entries) == 2 * tasks * rounds * 2
    assert strictly_alternating(entries), entries
    # The replicas really competed: the lock went back and forth between them.
    holders = [entry.split()[1].split(".")[0] for entry in entries[::2]]
    switches = sum(a != b for a, b in itertools.pairwise(holders))
    assert switches >= 10, holders
    assert not redis_server.client.keys("copilot:lock:*")  # queues cleaned up


def test_redis_burst_of_three_hands_over_in_milliseconds(redis_server: RedisServer) -> None:
    """Three messages at once from one advisor, landing on two replicas."""

    async def scenario() -> list[tuple]:
        replicas = [RedisLockStore(url=redis_server.url), RedisLockStore(url=redis_server.url)]
        turns = 0

        def lock(conversation_id: str) -> AbstractAsyncContextManager[object]:
            nonlocal turns
            turns += 1
            return replicas[turns % 2].lock(conversation_id)

        await hold_in_turn(lock, holders=3, hold_s=0.01, stagger_s=0.005)  # connections up
        ran: list[tuple] = []
        for _ in range(10):  # bursts, one after another
            ran += await hold_in_turn(lock, holders=3, hold_s=0.01, stagger_s=0.005)
        for store in replicas:
            await store.close()
        return ran

    ran = asyncio.run(scenario())
    bursts = [ran[i : i + 3] for i in range(0, len(ran), 3)]
    assert all([number for number, _, _ in burst] == [0, 1, 2] for burst in bursts)
    hand_overs = [ms for burst in bursts for ms in hand_overs_ms(burst)]
    assert min(hand_overs) >= 0
    median = statistics.median(hand_overs)
    print(f"Redis lock hand-over: median {median:.2f} ms, max {max(hand_overs):.2f} ms")
    assert median < 50  # Rasa's RedisLockStore polls once a second


def test_lock_of_a_killed_replica_is_released_after_its_lease(redis_server: RedisServer) -> None:
    lease = 1.0
    code = (
        "import asyncio, redis\n"
        "from bot.locks import RedisLockStore\n"
        "async def main():\n"
        f"    store = RedisLockStore(url={redis_server.url!r}, lock_lifetime={lease})\n"
        f"    async with store.lock({CONVERSATION!r}):\n"
        f"        redis.Redis.from_url({redis_server.url!r}).rpush('held', '1')\n"
        "        await asyncio.sleep(3600)\n"
        "asyncio.run(main())\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    try:
        held = redis_server.client.blpop(["held"], timeout=120)
        assert held is not None, "the holder did not start"

        async def scenario() -> tuple[bool, float]:
            # A waiter with little patience gives up rather than run alongside the holder.
            impatient = RedisLockStore(url=redis_server.url, lock_lifetime=lease, wait_timeout=0.3)
            with pytest.raises(LockError):
                async with impatient.lock(CONVERSATION):
                    pass
            store = RedisLockStore(url=redis_server.url, lock_lifetime=lease)

            async def take() -> float:
                async with store.lock(CONVERSATION):
                    return time.perf_counter()

            waiting = asyncio.create_task(take())
            # The holder renews its lease while it lives: 2.5 leases later it still holds.
            await asyncio.sleep(2.5 * lease)
            still_held = not waiting.done()
            os.kill(holder.pid, signal.SIGKILL)
            killed = time.perf_counter()
            taken = await waiting
            for each in (impatient, store):
                await each.close()
            return still_held, taken - killed

        still_held, taken_after = asyncio.run(scenario())
    finally:
        holder.kill()
        holder.wait()
    assert still_held
    print(f"lock of a SIGKILLed replica taken over {taken_after:.2f} s after the kill")
    assert taken_after <= lease + 0.5


def test_redis_waiter_that_gives_up_does_not_hold_up_the_queue(redis_server: RedisServer) -> None:
    async def scenario() -> list[str]:
        first = RedisLockStore(url=redis_server.url)
        impatient = RedisLockStore(url=redis_server.url, wait_timeout=0.05)
        events: list[str] = []

        async def waiter(name: str) -> None:
            async with first.lock(CONVERSATION):
                events.append(name)

        async with first.lock(CONVERSATION):
            with pytest.raises(LockError, match="stayed locked"):
                async with impatient.lock(CONVERSATION):
                    events.append("must not run")
            cancelled = asyncio.create_task(waiter("cancelled"))
            patient = asyncio.create_task(waiter("patient"))
            await asyncio.sleep(0.05)
            cancelled.cancel()
            await asyncio.sleep(0.05)
            released = time.perf_counter()
        await patient
        waited = time.perf_counter() - released
        for store in (first, impatient):
            await store.close()
        assert waited < 0.5  # woken, not left to the lease of the abandoned tickets
        return events

    assert asyncio.run(scenario()) == ["patient"]
    assert not redis_server.client.keys("copilot:lock:*")


def test_redis_store_from_endpoints_config(redis_server: RedisServer) -> None:
    config = EndpointConfig(
        url=redis_server.url, type="bot.locks.RedisLockStore", lock_lifetime=5, wait_timeout=30
    )
    store = LockStore.create(config)
    assert isinstance(store, RedisLockStore)
    assert (store.lease, store.wait_timeout) == (5, 30)
    assert store.redis.connection_pool.connection_kwargs["port"] == urlparse(redis_server.url).port
