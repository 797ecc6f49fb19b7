"""The follow-up scheduler process: ``python -m bot.followups.scheduler``.

APScheduler runs three jobs and keeps them in the database (its SQLAlchemy job
store, table ``apscheduler_jobs``, made by migration 0013 so that schedulers
starting together do not race to create it), so a restart picks up the schedule
where it was, late runs included, instead of starting a fresh loop that forgot it:

- ``followups.sweep``: claim and send the WeCom reminders that are due;
- ``followups.generate``: make tasks from cards, visit notes and complaints;
- ``followups.lapsed``: once a day, tasks for top-tier clients gone quiet.

Several of these processes may run against one database (replicas, or a
restart overlapping the old process): APScheduler 3 does not coordinate
schedulers that share a job store, so every job may run in each of them, and
correctness comes from the database instead: tasks are unique by source and a
reminder is sent only by the process whose claim succeeded (bot.followups.reminders).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine

from bot.cards.db import (
    BUSY_TIMEOUT_MS,
    alembic_config,
    database_url,
    get_engine,
    session_scope,
    sqlite_pragmas,
)
from bot.channels.wecom.api import WeComClient
from bot.channels.wecom.settings import client_from_env
from bot.clock import utcnow
from bot.followups import reminders, tasks
from bot.followups.rules import Rules, load_rules, parse_rules

logger = logging.getLogger("bot.followups.scheduler")

JOBS_TABLE = "apscheduler_jobs"
TIMEZONE = "Asia/Shanghai"


@dataclass
class Context:
    """What the stored jobs need; jobs in the store hold only a reference to a function."""

    url: str
    rules: Rules
    worker: str
    wecom: WeComClient | None


_context: Context | None = None


def _ctx() -> Context:
    if _context is None:
        raise RuntimeError("the scheduler context is not set up")
    return _context


async def sweep_job() -> None:
    context = _ctx()
    if context.wecom is None:
        return  # reminders wait (up to expire_hours) until WeCom is configured
    result = await reminders.sweep(
        context.url, context.wecom, utcnow(), context.worker, context.rules
    )
    if result.sent or result.failed or result.retried or result.released:
        logger.info("sweep: %s", result)


def generate_job() -> None:
    context = _ctx()
    with session_scope(context.url) as session:
        result = tasks.generate(session, utcnow(), context.rules, lapsed=False)
    if result.created or result.closed or result.cancelled:
        logger.info("generate: %s", result)


def lapsed_job() -> None:
    context = _ctx()
    with session_scope(context.url) as session:
        created = tasks.sync_lapsed(session, context.rules, utcnow())
    if created:
        logger.info("lapsed: %d new tasks", created)


def job_store_engine(url: str) -> Engine:
    """APScheduler 3 speaks SQLAlchemy's 1.x API (engine.execute), so its store gets a
    classic engine of its own; SQLite waits for a lock instead of failing at once."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", sqlite_pragmas(BUSY_TIMEOUT_MS))
        return engine
    return create_engine(url, pool_pre_ping=True)


def schema_is_current(url: str) -> bool:
    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    with get_engine(url).connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return current == heads


def build(url: str, rules: Rules, sweep_seconds: int, generate_minutes: int) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(
        jobstores={
            "default": SQLAlchemyJobStore(engine=job_store_engine(url), tablename=JOBS_TABLE)
        },
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        timezone=TIMEZONE,
    )
    scheduler.add_job(
        sweep_job, "interval", seconds=sweep_seconds, id="followups.sweep", replace_existing=True
    )
    scheduler.add_job(
        generate_job, "interval", minutes=generate_minutes, id="followups.generate",
        replace_existing=True,
    )  # fmt: skip
    scheduler.add_job(
        lapsed_job, "cron", hour=max(rules.remind_hour - 1, 0), minute=30, id="followups.lapsed",
        replace_existing=True,
    )  # fmt: skip
    return scheduler


async def _health(port: int) -> Any:
    """``GET /health`` on 127.0.0.1, so ``copilot up`` can wait for this process like the others."""
    from aiohttp import web

    async def ok(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/health", ok)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def serve(args: argparse.Namespace) -> int:
    global _context
    url = database_url()
    if not schema_is_current(url):
        print(
            f"error: the schema at {url} is not up to date; run `copilot db upgrade`",
            file=sys.stderr,
        )
        return 2
    rules = parse_rules(Path(args.rules)) if args.rules else load_rules()
    wecom = client_from_env()
    _context = Context(url, rules, reminders.worker_id(), wecom)
    if wecom is None:
        logger.warning("WeCom is not configured (WECOM_CORP_ID, WECOM_SECRET): reminders wait")
    sweep_seconds = args.sweep_seconds or rules.scheduling.sweep_seconds
    generate_minutes = args.generate_minutes or rules.scheduling.generate_minutes
    # Catch up at once: tasks made while no scheduler ran, and lapsed clients.
    await asyncio.get_running_loop().run_in_executor(None, generate_job)
    await asyncio.get_running_loop().run_in_executor(None, lapsed_job)
    scheduler = build(url, rules, sweep_seconds, generate_minutes)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    scheduler.start()
    health = await _health(args.health_port) if args.health_port else None
    logger.info(
        "scheduler %s: sweep every %ss, generate every %s min", _context.worker, sweep_seconds,
        generate_minutes,
    )  # fmt: skip
    await stop.wait()
    scheduler.shutdown(wait=False)
    if health is not None:
        await health.cleanup()
    if wecom is not None:
        await wecom.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the follow-up scheduler (WeCom reminders)")
    parser.add_argument("--sweep-seconds", type=int, help="override rules.yml sweep_seconds")
    parser.add_argument("--generate-minutes", type=int, help="override rules.yml generate_minutes")
    parser.add_argument("--health-port", type=int, help="serve GET /health on 127.0.0.1:PORT")
    parser.add_argument("--rules", help="a rules file instead of data/followups/rules.yml")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return asyncio.run(serve(args))


if __name__ == "__main__":
    sys.exit(main())
