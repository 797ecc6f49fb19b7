"""The advisor and home store of an alias's card, kept on the alias for ranking.

A popular English name (David) may be held by thousands of cards; ranking them
(the advisor's own first, then their store's) read every holder's card. With
the card's advisor and store copied onto the alias row and indexed with the
key, each is an index probe. The importer keeps the copies in step when a card
changes advisor or store; an alias added by the copilot copies them on insert.

Revision ID: 0010_alias_ranking
Revises: 0009_name_lookups
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_alias_ranking"
down_revision = "0009_name_lookups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for column in ("advisor", "home_store"):
        op.add_column(
            "client_aliases",
            sa.Column(column, sa.String(64), nullable=False, server_default=""),
        )
    op.execute(
        "UPDATE client_aliases SET "
        "advisor = (SELECT c.advisor FROM clients c WHERE c.id = client_aliases.client_id), "
        "home_store = (SELECT c.home_store FROM clients c WHERE c.id = client_aliases.client_id)"
    )
    op.create_index("ix_client_aliases_key_advisor", "client_aliases", ["key", "advisor"])
    op.create_index("ix_client_aliases_key_store", "client_aliases", ["key", "home_store"])


def downgrade() -> None:
    op.drop_index("ix_client_aliases_key_store", table_name="client_aliases")
    op.drop_index("ix_client_aliases_key_advisor", table_name="client_aliases")
    with op.batch_alter_table("client_aliases") as batch:
        batch.drop_column("home_store")
        batch.drop_column("advisor")
