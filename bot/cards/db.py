"""Database engine, sessions and schema migrations (Alembic).

Every entry point calls :func:`upgrade` before it works, so a fresh SQLite file
or an older PostgreSQL schema is brought up to date without a separate step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from bot.settings import current

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def database_url() -> str:
    """``COPILOT_DB_URL``, else a SQLite file under var/ (see bot.settings)."""
    return current().db_url


# How long a SQLite statement waits for another connection's write lock before
# it fails with "database is locked".
BUSY_TIMEOUT_MS = 5000


def sqlite_pragmas(busy_timeout_ms: int) -> Callable[[Any, Any], None]:
    """The ``connect`` listener every engine on a SQLite file gets."""

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Several processes share a file (the action server, the scheduler, copilot
        # commands): WAL lets one read while another writes, and the busy timeout
        # waits (or with 0 fails at once) instead of failing at the first conflict.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    return on_connect


def is_sqlite_file(url: str) -> bool:
    """A SQLite database in a file (shared by processes), not one in memory."""
    return url.startswith("sqlite") and ":memory:" not in url


@cache
def get_engine(url: str | None = None, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Engine:
    """The engine (and pool) for ``url``; one per URL and SQLite busy timeout.

    ``busy_timeout_ms`` applies to SQLite only: 0 makes a statement fail at once
    when another connection holds the write lock (see bot.trackers.sql).
    """
    url = url or database_url()
    if is_sqlite_file(url):
        # SQLAlchemy 1.4 opens a new SQLite connection per session by default;
        # a small pool saves the connect and the pragmas on every turn.
        engine = create_engine(
            url,
            future=True,
            poolclass=QueuePool,
            pool_size=4,
            connect_args={"check_same_thread": False},
        )
        event.listen(engine, "connect", sqlite_pragmas(busy_timeout_ms))
        return engine
    engine = create_engine(url, future=True)
    _ping_when_idle(engine)
    return engine


# A pooled connection used this recently is taken to be alive.
PING_AFTER_IDLE_SECONDS = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use only if it has been idle a while.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: 0.27 ms of a turn's
    3 ms name resolution on PostgreSQL over loopback, spent on connections the
    last turn used a moment ago. This is SQLAlchemy's documented custom
    pessimistic check: a connection idle for longer than PING_AFTER_IDLE_SECONDS
    is pinged, and a dead one is replaced (DisconnectionError makes the pool
    retry with a new connection). A server that goes away within those seconds
    fails the statements in flight once; SQLAlchemy then invalidates the pool.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is not None and time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        if not engine.dialect.do_ping(dbapi_connection):
            raise exc.DisconnectionError("the pooled connection is gone")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str | None = None) -> None:
    """Bring the schema to the newest migration."""
    url = url or database_url()
    engine = get_engine(url)
    with engine.begin() as connection:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@cache
def _sessions(url: str) -> sessionmaker:
    return sessionmaker(get_engine(url), future=True, expire_on_commit=False)


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A transaction: committed when the block ends, rolled back on any error."""
    session: Session = _sessions(url or database_url())()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
