"""Conversations in SQL: the single-machine default.

One row per conversation in ``conversations`` (migration 0006): in the card
database on PostgreSQL; on one machine, in a SQLite file of its own beside the
card file (``Settings.conversations_url`` says why). A read is one primary-key
query that returns the document only when its version is not the one cached; a
save is one UPDATE of the version it read (an INSERT the first time).

Where they run:

- PostgreSQL: in a worker thread, so the event loop goes on with other
  advisors' turns while the server (perhaps on another machine) answers; the
  driver waits with the GIL released.
- SQLite: in the event loop. A read or commit of the local file takes tens of
  microseconds, and SQLAlchemy's and the driver's Python work holds the GIL
  anyway, so a worker thread added only the hand-over: the thread waits for the
  GIL the loop holds (up to the 5 ms switch interval) and the answer waits
  again to come back. Measured with 16 advisors, A/B in one server, four pairs:
  p95 200-242 ms in threads against 157-186 ms in the loop, and the Rasa
  server's CPU a turn 6.2 against 5.3 ms (means). These statements go through
  a pool whose busy timeout is 0: when another connection holds the file's
  write lock (another process on the file), the statement fails at once,
  nothing is committed, and it runs again in a worker thread through the pool
  that waits for the lock. The loop never sleeps in SQLite's busy handler.

``endpoints.yml``::

    tracker_store:
      type: bot.trackers.sql.SqlTrackerStore
      url: ${COPILOT_TRACKER_STORE_URL}   # Settings.conversations_url
      max_event_history: 20

The schema is the card database's (the same migrations): every ``copilot``
command brings the card database up to date first, and the store brings its
own SQLite file up to date when it opens it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from rasa.core.brokers.broker import EventBroker
from rasa.shared.core.domain import Domain
from sqlalchemy import bindparam, case, insert, null, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.cards.db import database_url, get_engine, is_sqlite_file, upgrade
from bot.clock import utcnow
from bot.trackers.store import DEFAULT_CACHE_SIZE, DEFAULT_MAX_EVENTS, DurableTrackerStore
from bot.trackers.table import Conversation

T = TypeVar("T")
TABLE = Conversation.__table__
# Built once with bound parameters: a turn reads and writes its conversation, and
# building and keying these statements anew each time cost more than running them.
_FETCH = select(
    TABLE.c.version,
    case((TABLE.c.version == bindparam("known"), null()), else_=TABLE.c.state),
).where(TABLE.c.sender_id == bindparam("sender"))
_INSERT = insert(TABLE).values(
    sender_id=bindparam("sender"),
    version=bindparam("new_version"),
    state=bindparam("document"),
    updated_at=bindparam("now"),
)
_UPDATE = (
    update(TABLE)
    .where(TABLE.c.sender_id == bindparam("sender"), TABLE.c.version == bindparam("expected"))
    .values(version=bindparam("new_version"), state=bindparam("document"),
            updated_at=bindparam("now"))
)  # fmt: skip


class SqlTrackerStore(DurableTrackerStore):
    """Trackers in the ``conversations`` table of the card database."""

    def __init__(
        self,
        domain: Domain | None = None,
        host: str | None = None,
        event_broker: EventBroker | None = None,
        max_event_history: int = DEFAULT_MAX_EVENTS,
        cache_size: int = DEFAULT_CACHE_SIZE,
        **kwargs: Any,
    ) -> None:
        """``host`` is the SQLAlchemy URL (Rasa passes the endpoint's ``url`` as ``host``)."""
        super().__init__(domain, event_broker, max_event_history, cache_size, **kwargs)
        url = host or database_url()
        self.engine = get_engine(url)
        # A SQLite file: the pool for statements run in the event loop (module docstring).
        self._in_loop = get_engine(url, busy_timeout_ms=0) if is_sqlite_file(url) else None
        if self._in_loop is not None:
            upgrade(url)  # the conversations' own file, which no copilot command migrates

    async def _run(self, work: Callable[..., T], *args: Any) -> T:
        """``work(engine, *args)`` in the loop if SQLite's lock is free, else in a thread."""
        if self._in_loop is not None:
            try:
                return work(self._in_loop, *args)
            except OperationalError as error:
                if not _locked(error):
                    raise
        return await asyncio.to_thread(work, self.engine, *args)

    async def _fetch(self, sender_id: str, known_version: str) -> tuple[str, Any] | None:
        return await self._run(_fetch_now, sender_id, known_version)

    async def _write(
        self, sender_id: str, document: str, version: str, expected: str | None
    ) -> bool:
        return await self._run(_write_now, sender_id, document, version, expected)

    async def _senders(self) -> Iterable[str]:
        return await asyncio.to_thread(_senders_now, self.engine)


def _locked(error: OperationalError) -> bool:
    """SQLite's "database is locked": another connection holds the write lock."""
    return isinstance(error.orig, sqlite3.OperationalError) and "locked" in str(error.orig)


def _fetch_now(engine: Engine, sender_id: str, known_version: str) -> tuple[str, Any] | None:
    with engine.connect() as connection:
        row = connection.execute(_FETCH, {"known": known_version, "sender": sender_id}).first()
    return (row[0], row[1]) if row is not None else None


def _write_now(
    engine: Engine, sender_id: str, document: str, version: str, expected: str | None
) -> bool:
    """The INSERT or UPDATE in one transaction: on any error nothing is committed."""
    values = {"sender": sender_id, "new_version": version, "document": document,
              "now": utcnow()}  # fmt: skip
    if expected is None:
        try:
            with engine.begin() as connection:
                connection.execute(_INSERT, values)
        except IntegrityError:
            return False  # already stored
        return True
    with engine.begin() as connection:
        return bool(connection.execute(_UPDATE, {**values, "expected": expected}).rowcount)


def _senders_now(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(select(TABLE.c.sender_id)).scalars())
