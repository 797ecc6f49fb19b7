"""Alembic environment: runs on the connection handed over by bot.cards.db.upgrade."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

# Every module that defines tables, so the metadata (and autogenerate) knows them all.
from bot import sessions  # noqa: F401
from bot.cards import audit  # noqa: F401
from bot.cards.models import Base
from bot.followups import models as followup_models  # noqa: F401
from bot.purchases import models as purchase_models  # noqa: F401
from bot.trackers import table  # noqa: F401

config = context.config
connection = config.attributes.get("connection")


def run(connection_to_use: object) -> None:
    context.configure(
        connection=connection_to_use,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite needs batch mode to alter tables
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:
    engine = engine_from_config(
        config.get_section(config.config_ini_section) or {},
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
        future=True,
    )
    with engine.connect() as new_connection:
        run(new_connection)
