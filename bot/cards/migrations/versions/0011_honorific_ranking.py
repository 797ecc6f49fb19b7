"""The honorific in the indexes that rank 王先生's holders by advisor and store.

王先生 among a million cards is ranked by index probes: the advisor's own 王 clients
recorded as 先生, then their store's. With (advisor, surname) alone, the probe for
the advisor's own read every 王 client of theirs (1,572 in the synthetic million)
and filtered on the honorific: 0.43 ms of a 0.7 ms query. With the honorific in
the index it is a probe of five entries; an index led by (advisor, surname) still
serves a lookup without the honorific (王总). SQLite keeps its planner's
statistics per index, so a store that has them gathers them for the new indexes
(bounded, as the importer does); without them it walked a broad index instead.

Revision ID: 0011_honorific_ranking
Revises: 0010_alias_ranking
Create Date: 2026-11-29
"""

from alembic import op

from bot.cards.bulk import SQLITE_ANALYSIS_ROWS

revision = "0011_honorific_ranking"
down_revision = "0010_alias_ranking"
branch_labels = None
depends_on = None

_REPLACED = {
    "ix_clients_advisor_surname": ("ix_clients_advisor_surname_honorific", "advisor"),
    "ix_clients_store_surname": ("ix_clients_store_surname_honorific", "home_store"),
}


def upgrade() -> None:
    for old, (new, lead) in _REPLACED.items():
        # IF EXISTS: a store made during development may lack the old index.
        op.execute(f"DROP INDEX IF EXISTS {old}")
        op.create_index(new, "clients", [lead, "surname", "honorific"])
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"PRAGMA analysis_limit = {SQLITE_ANALYSIS_ROWS}")
        op.execute("ANALYZE clients")


def downgrade() -> None:
    for old, (new, lead) in _REPLACED.items():
        op.drop_index(new, table_name="clients")
        op.create_index(old, "clients", [lead, "surname"])
