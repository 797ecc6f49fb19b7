"""Name lookups at brand scale: ranking probes on the full name, near-miss names.

Many clients share a full name (hundreds of 王伟 in a million cards), and the
resolver ranks them by the advisor's own clients, their store's, then recent
activity, each a LIMIT probe (bot/cards/store.py). With only an index on the
name, SQLite's planner may walk a whole store's clients for 王伟 in 上海恒隆店;
indexes led by the name make each probe a few index entries. The one on
(name, updated_at) also answers what the plain name index did. A popular alias
(David, held by thousands) is ranked from two covering indexes, (key,
client_id) and (id, advisor, home_store, updated_at), without reading the rows.

On PostgreSQL a name that matches no card is also looked up among near misses
(王建华 typed, 王建国 on file) by pg_trgm, a trusted extension shipped with
PostgreSQL, through a trigram index instead of comparing every name. SQLite has
no such index and offers none.

Revision ID: 0009_name_lookups
Revises: 0007_roleplay_assignments
Create Date: 2026-11-29
"""

from alembic import op

revision = "0009_name_lookups"
down_revision = "0007_roleplay_assignments"
branch_labels = None
depends_on = None

RANKING = {
    "ix_clients_name_updated": ["name", "updated_at"],
    "ix_clients_name_advisor": ["name", "advisor"],
    "ix_clients_name_store": ["name", "home_store"],
    "ix_clients_ranking": ["id", "advisor", "home_store", "updated_at"],
}


def upgrade() -> None:
    op.drop_index("ix_clients_name", table_name="clients")
    op.drop_index("ix_client_aliases_key", table_name="client_aliases")
    for name, columns in RANKING.items():
        op.create_index(name, "clients", columns)
    op.create_index("ix_client_aliases_key_client", "client_aliases", ["key", "client_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX ix_clients_name_trgm ON clients USING gin (name gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_clients_name_trgm")
    op.drop_index("ix_client_aliases_key_client", table_name="client_aliases")
    for name in RANKING:
        op.drop_index(name, table_name="clients")
    op.create_index("ix_client_aliases_key", "client_aliases", ["key"])
    op.create_index("ix_clients_name", "clients", ["name"])
