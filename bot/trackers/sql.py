"""Conversations in the card database: the single-machine default.

One row per conversation in ``conversations`` (migration 0006), written in the
same database as the cards, through the same engine (SQLite with WAL, or
PostgreSQL). A read is one primary-key query that returns the document only
when its version is not the one cached; a save is one UPDATE of the version it
read (an INSERT the first time). Both run in a worker thread, so the event loop
goes on with other advisors' turns while a commit waits for the disk (SQLite
syncs its log on every commit) or a PostgreSQL on another machine answers.

``endpoints.yml``::

    tracker_store:
      type: bot.trackers.sql.SqlTrackerStore
      url: ${COPILOT_DB_URL}      # optional: the card database by default
      max_event_history: 20

The schema is created by the migrations every ``copilot`` command runs first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.shared.core.domain import Domain
from sqlalchemy import bindparam, case, insert, null, select, update
from sqlalchemy.exc import IntegrityError

from bot.cards.db import database_url, get_engine
from bot.clock import utcnow
from bot.trackers.store import DEFAULT_CACHE_SIZE, DEFAULT_MAX_EVENTS, DurableTrackerStore
from bot.trackers.table import Conversation

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
        self.engine = get_engine(host or database_url())

    async def _fetch(self, sender_id: str, known_version: str) -> tuple[str, Any] | None:
        return await asyncio.to_thread(self._fetch_now, sender_id, known_version)

    async def _write(
        self, sender_id: str, document: str, version: str, expected: str | None
    ) -> bool:
        return await asyncio.to_thread(self._write_now, sender_id, document, version, expected)

    async def _senders(self) -> Iterable[str]:
        return await asyncio.to_thread(self._senders_now)

    def _fetch_now(self, sender_id: str, known_version: str) -> tuple[str, Any] | None:
        with self.engine.connect() as connection:
            row = connection.execute(_FETCH, {"known": known_version, "sender": sender_id}).first()
        return (row[0], row[1]) if row is not None else None

    def _write_now(self, sender_id: str, document: str, version: str, expected: str | None) -> bool:
        values = {"sender": sender_id, "new_version": version, "document": document,
                  "now": utcnow()}  # fmt: skip
        if expected is None:
            try:
                with self.engine.begin() as connection:
                    connection.execute(_INSERT, values)
            except IntegrityError:
                return False  # already stored
            return True
        with self.engine.begin() as connection:
            return bool(connection.execute(_UPDATE, {**values, "expected": expected}).rowcount)

    def _senders_now(self) -> list[str]:
        with self.engine.connect() as connection:
            return list(connection.execute(select(TABLE.c.sender_id)).scalars())
