"""Conversation locks that hand over at once: one turn per conversation at a time, in order.

Rasa runs each turn inside ``async with lock_store.lock(sender_id)`` (Agent,
MessageProcessor and the HTTP API all use only that). Its own lock stores make
a waiting turn sleep and re-check once a second, so three messages sent at once
by one advisor took two seconds; and its RedisLockStore reads, changes and
writes the ticket queue in separate commands, so two replicas can both believe
they hold the same conversation (RasaHQ/rasa#9213). Here:

- :class:`InProcessLockStore` (one Rasa process): a FIFO queue of futures per
  conversation; releasing hands the lock straight to the next waiter.
- :class:`RedisLockStore` (several replicas): a FIFO ticket queue per
  conversation in Redis, changed only by Lua scripts (atomic: no two replicas
  can both be at the head), a lease on each ticket that the holder renews
  while its turn runs, and a blocking wait: the releaser pushes a wake-up onto
  the next ticket's own list, which that waiter is blocked on with BLPOP. A
  replica killed while holding the lock stops renewing; the next waiter takes
  over when the lease runs out.

``endpoints.yml``::

    lock_store:
      type: bot.locks.InProcessLockStore

    lock_store:
      type: bot.locks.RedisLockStore
      url: ${COPILOT_REDIS_URL}   # redis://host:6379/0
      lock_lifetime: 10           # seconds a dead replica can hold a conversation
      wait_timeout: 60            # a turn waiting longer fails with LockError

A waiter that gives up (timeout, or its request was cancelled) leaves the queue
at once, so it never blocks the turns behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

DEFAULT_URL = "redis://127.0.0.1:6379/0"
DEFAULT_KEY_PREFIX = "copilot:lock:"
DEFAULT_LEASE_S = 10.0
# Rasa's own lock lifetime (TICKET_LOCK_LIFETIME, 60 s): how long a turn may wait.
DEFAULT_WAIT_TIMEOUT_S = float(LOCK_LIFETIME)


def _options(endpoint_config: EndpointConfig | None) -> dict[str, Any]:
    if endpoint_config is None:
        return {}
    options = dict(endpoint_config.kwargs)
    if endpoint_config.url:
        options["url"] = endpoint_config.url
    return options


@dataclass
class _Queue:
    """One conversation's holder flag and waiters, in arrival order."""

    held: bool = False
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)


class InProcessLockStore(LockStore):
    """Per-conversation FIFO locks within one Rasa process (one event loop).

    Waiting turns are futures in arrival order; releasing passes the lock to
    the first one still waiting without letting a newcomer in between.
    """

    def __init__(
        self,
        endpoint_config: EndpointConfig | None = None,
        wait_timeout: float = DEFAULT_WAIT_TIMEOUT_S,
    ) -> None:
        options = _options(endpoint_config)
        self.wait_timeout = float(options.get("wait_timeout", wait_timeout))
        self._queues: dict[str, _Queue] = {}
        super().__init__()

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = 1,
    ) -> AsyncGenerator[TicketLock, None]:
        """Hold ``conversation_id``'s lock for the block; turns run in arrival order.

        ``wait_time_in_seconds`` (Rasa's polling interval) is not used: nothing polls.
        Raises LockError when the lock is not free within the store's ``wait_timeout``.
        """
        await self._acquire(conversation_id)
        try:
            yield TicketLock(conversation_id)  # Rasa's callers do not use what is yielded
        finally:
            self._release(conversation_id)

    async def _acquire(self, conversation_id: str) -> None:
        queue = self._queues.setdefault(conversation_id, _Queue())
        if not queue.held:
            queue.held = True
            return
        loop = asyncio.get_running_loop()
        turn: asyncio.Future[None] = loop.create_future()
        queue.waiters.append(turn)

        def give_up() -> None:
            if not turn.done():
                message = (
                    f"conversation '{conversation_id}' stayed locked for {self.wait_timeout:g} s"
                )
                turn.set_exception(LockError(message))

        timer = loop.call_later(self.wait_timeout, give_up)
        try:
            await turn
        except BaseException:
            if turn.done() and not turn.cancelled() and turn.exception() is None:
                self._release(conversation_id)  # handed over just as this task was cancelled
            with contextlib.suppress(ValueError):
                queue.waiters.remove(turn)
            raise
        finally:
            timer.cancel()

    def _release(self, conversation_id: str) -> None:
        queue = self._queues[conversation_id]
        while queue.waiters:
            turn = queue.waiters.popleft()
            if not turn.done():
                turn.set_result(None)  # the lock passes straight to this waiter
                return
        queue.held = False
        del self._queues[conversation_id]


# Lua scripts of the Redis lock. Every one runs atomically in Redis; times are
# Redis's own clock (TIME), so replicas' clocks do not matter.
# KEYS[1]: the queue (a list of tickets, oldest first); KEYS[2]: each ticket's
# deadline (a hash, ms); ARGV[1]: the ticket; ARGV[2]: lease in ms; ARGV[3]: the
# prefix of wake-up lists (a ticket's list is prefix .. ticket).
_PRELUDE = """
local queue, deadlines, ticket = KEYS[1], KEYS[2], ARGV[1]
local lease, wake = tonumber(ARGV[2]), ARGV[3]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

-- Drop tickets at the head whose lease ran out (their replica died); the first
-- live one is the holder. Returns it, its deadline and whether any was dropped.
local function settle()
  local dropped = false
  while true do
    local head = redis.call('LINDEX', queue, 0)
    if not head then return nil, 0, dropped end
    local deadline = tonumber(redis.call('HGET', deadlines, head) or '0')
    if deadline > now then return head, deadline, dropped end
    redis.call('LPOP', queue)
    redis.call('HDEL', deadlines, head)
    dropped = true
  end
end

local function extend(which)
  redis.call('HSET', deadlines, which, string.format('%d', now + lease))
  redis.call('PEXPIRE', queue, 3 * lease)
  redis.call('PEXPIRE', deadlines, 3 * lease)
end

local function wake_up(head)
  if head and head ~= ticket then
    redis.call('RPUSH', wake .. head, '1')
    redis.call('PEXPIRE', wake .. head, lease)
  end
end
"""

# Join the queue (or stay in it) and renew this ticket's deadline. Returns 0 if
# this ticket now holds the lock, else the ms until the holder's lease ends.
_ACQUIRE = (
    _PRELUDE
    + """
if not redis.call('HGET', deadlines, ticket) then redis.call('RPUSH', queue, ticket) end
extend(ticket)
local head, deadline, dropped = settle()
if head == ticket then return 0 end
if dropped then wake_up(head) end
return math.max(deadline - now, 1)
"""
)

# The holder extends its lease. Returns 1, or 0 if it no longer holds the lock.
_RENEW = (
    _PRELUDE
    + """
if redis.call('LINDEX', queue, 0) ~= ticket or not redis.call('HGET', deadlines, ticket) then
  return 0
end
extend(ticket)
return 1
"""
)

# Leave the queue (done, or gave up waiting) and wake the next holder if it changed.
_RELEASE = (
    _PRELUDE
    + """
local before = redis.call('LINDEX', queue, 0)
redis.call('LREM', queue, 1, ticket)
redis.call('HDEL', deadlines, ticket)
redis.call('DEL', wake .. ticket)
local head = settle()
if head and head ~= before then wake_up(head) end
if not head then redis.call('DEL', queue, deadlines) end
return 1
"""
)


class RedisLockStore(LockStore):
    """Per-conversation FIFO locks shared by every replica using the same Redis.

    Keys (``{...}`` keeps a conversation's keys on one Redis Cluster slot):
    ``{prefix}{conversation}:queue``, ``...:deadlines`` and ``...:wake:{ticket}``.
    """

    def __init__(
        self,
        endpoint_config: EndpointConfig | None = None,
        url: str = DEFAULT_URL,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        lock_lifetime: float = DEFAULT_LEASE_S,
        wait_timeout: float = DEFAULT_WAIT_TIMEOUT_S,
    ) -> None:
        """``lock_lifetime``: the lease in seconds, renewed every third of it while a
        turn runs, so only a dead replica holds a conversation that long."""
        options = _options(endpoint_config)
        self.redis = aioredis.Redis.from_url(str(options.get("url", url)))
        self.key_prefix = str(options.get("key_prefix", key_prefix))
        self.lease = float(options.get("lock_lifetime", lock_lifetime))
        self.wait_timeout = float(options.get("wait_timeout", wait_timeout))
        self._acquire_script = self.redis.register_script(_ACQUIRE)
        self._renew_script = self.redis.register_script(_RENEW)
        self._release_script = self.redis.register_script(_RELEASE)
        super().__init__()

    def _call(
        self, script: Callable[..., Awaitable[Any]], conversation_id: str, ticket: str
    ) -> Awaitable[Any]:
        base = f"{self.key_prefix}{{{conversation_id}}}"
        keys = [f"{base}:queue", f"{base}:deadlines"]
        return script(keys=keys, args=[ticket, int(self.lease * 1000), f"{base}:wake:"])

    def _wake_key(self, conversation_id: str, ticket: str) -> str:
        return f"{self.key_prefix}{{{conversation_id}}}:wake:{ticket}"

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = 1,
    ) -> AsyncGenerator[TicketLock, None]:
        """Hold ``conversation_id``'s lock across replicas for the block, in arrival order.

        The lease is the store's ``lock_lifetime`` (renewed while the block runs),
        not the argument; ``wait_time_in_seconds`` is not used: waiters are woken.
        Raises LockError when the lock is not ours within ``wait_timeout``.
        """
        ticket = secrets.token_hex(8)
        try:
            await self._acquire(conversation_id, ticket)
            renewal = asyncio.create_task(self._renew(conversation_id, ticket))
            try:
                yield TicketLock(conversation_id)  # Rasa's callers do not use it
            finally:
                renewal.cancel()
        finally:
            # Shielded: a cancelled turn must still leave the queue, or it would
            # hold up the turns behind it until its lease ran out.
            await asyncio.shield(self._call(self._release_script, conversation_id, ticket))

    async def _acquire(self, conversation_id: str, ticket: str) -> None:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.wait_timeout
        wake_key = self._wake_key(conversation_id, ticket)
        while True:
            wait_ms = await self._call(self._acquire_script, conversation_id, ticket)
            if wait_ms == 0:
                return
            left = give_up - loop.time()
            if left <= 0:
                raise LockError(
                    f"conversation '{conversation_id}' stayed locked for {self.wait_timeout:g} s"
                )
            # Until woken by the releaser, the holder's lease runs out, or our own
            # deadline needs renewing (a third of the lease), whichever is first.
            timeout = min(wait_ms / 1000, self.lease / 3, left)
            await self.redis.blpop([wake_key], timeout=max(timeout, 0.001))

    async def _renew(self, conversation_id: str, ticket: str) -> None:
        while True:
            await asyncio.sleep(self.lease / 3)
            if not await self._call(self._renew_script, conversation_id, ticket):
                logger.error(
                    "Lost the lock of conversation '%s' while its turn was still running "
                    "(the lease of %g s ran out); another replica may run a turn now.",
                    conversation_id,
                    self.lease,
                )
                return

    async def close(self) -> None:
        """Close the connections (Rasa does not close lock stores; tests do)."""
        await self.redis.close()
        await self.redis.connection_pool.disconnect()
