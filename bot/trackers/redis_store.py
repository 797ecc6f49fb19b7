"""Conversations in Redis: for several Rasa replicas on several machines.

Each conversation is one hash, ``{key_prefix}{sender_id}`` with fields ``v``
(version), ``d`` (the JSON document, see :mod:`bot.trackers.snapshot`) and
``u`` (last save, Unix ms). A read and a save are one Lua script each, so the
version check and the write are atomic, and both use redis-py's asyncio client:
a Redis on another machine does not stall the event loop for its round trip.

``endpoints.yml``::

    tracker_store:
      type: bot.trackers.redis_store.RedisTrackerStore
      url: ${COPILOT_REDIS_URL}   # redis://host:6379/0
      max_event_history: 20
      record_exp: 604800          # optional: forget conversations idle for a week

Durability is Redis's own: run it with ``appendonly yes`` (``appendfsync
everysec`` loses at most a second if the Redis machine itself fails).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import redis.asyncio as aioredis
from rasa.core.brokers.broker import EventBroker
from rasa.shared.core.domain import Domain

from bot.trackers.store import DEFAULT_CACHE_SIZE, DEFAULT_MAX_EVENTS, DurableTrackerStore

DEFAULT_URL = "redis://127.0.0.1:6379/0"
DEFAULT_KEY_PREFIX = "copilot:tracker:"

# KEYS[1] the conversation; ARGV[1] the version the caller has cached ("" for none).
FETCH = """
local version = redis.call('HGET', KEYS[1], 'v')
if not version then return false end
if version == ARGV[1] then return {version} end
return {version, redis.call('HGET', KEYS[1], 'd')}
"""

# KEYS[1] the conversation; ARGV: expected version ("" if it must not exist yet),
# new version, document, now in ms, expiry in ms ("0" for none).
WRITE = """
local stored = redis.call('HGET', KEYS[1], 'v')
if ARGV[1] == '' then
  if stored then return 0 end
elseif stored ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3], 'u', ARGV[4])
if ARGV[5] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
return 1
"""


class RedisTrackerStore(DurableTrackerStore):
    """Trackers as Redis hashes, shared by every replica that points at the same Redis."""

    def __init__(
        self,
        domain: Domain | None = None,
        host: str | None = None,
        event_broker: EventBroker | None = None,
        max_event_history: int = DEFAULT_MAX_EVENTS,
        cache_size: int = DEFAULT_CACHE_SIZE,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        record_exp: float | None = None,
        **kwargs: Any,
    ) -> None:
        """``host`` is the Redis URL (Rasa passes the endpoint's ``url`` as ``host``);
        ``record_exp`` forgets a conversation that many seconds after its last save."""
        super().__init__(domain, event_broker, max_event_history, cache_size, **kwargs)
        self.redis = aioredis.Redis.from_url(host or DEFAULT_URL)
        self.key_prefix = key_prefix
        self.expiry_ms = int(float(record_exp) * 1000) if record_exp else 0
        self._fetch_script = self.redis.register_script(FETCH)
        self._write_script = self.redis.register_script(WRITE)

    async def _fetch(self, sender_id: str, known_version: str) -> tuple[str, Any] | None:
        found = await self._fetch_script(keys=[self.key_prefix + sender_id], args=[known_version])
        if not found:
            return None
        version = found[0].decode()
        return version, (found[1] if len(found) > 1 else None)

    async def _write(
        self, sender_id: str, document: str, version: str, expected: str | None
    ) -> bool:
        now_ms = int(time.time() * 1000)
        args = [expected or "", version, document, now_ms, self.expiry_ms]
        return bool(await self._write_script(keys=[self.key_prefix + sender_id], args=args))

    async def _senders(self) -> Iterable[str]:
        start = len(self.key_prefix)
        return [key.decode()[start:] async for key in self.redis.scan_iter(self.key_prefix + "*")]

    async def close(self) -> None:
        """Close the connections (Rasa does not close tracker stores; tests do)."""
        await self.redis.close()
        await self.redis.connection_pool.disconnect()
