"""Trustworthy cards: preference status and history, aliases, indexed surnames.

Revision ID: 0004_trust
Revises: 0003_wecom
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_trust"
down_revision = "0003_wecom"
branch_labels = None
depends_on = None

# The lookups of bot/cards/store.py, each a LIMIT probe at a million cards.
INDEXES = {
    "ix_clients_surname_honorific": ["surname", "honorific", "updated_at"],
    "ix_clients_advisor_surname": ["advisor", "surname"],
    "ix_clients_store_surname": ["home_store", "surname"],
}


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("surname", sa.String(8), nullable=False, server_default=""))
    for name, columns in INDEXES.items():
        op.create_index(name, "clients", columns)
    with op.batch_alter_table("preferences") as batch:
        batch.add_column(sa.Column("advisor_id", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column("status", sa.String(12), nullable=False, server_default="current")
        )
        batch.add_column(sa.Column("date_value", sa.Date(), nullable=True))
        batch.add_column(sa.Column("changed_at", sa.DateTime(), nullable=True))
    op.create_table(
        "client_aliases",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "client_id",
            sa.String(64),
            sa.ForeignKey("clients.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("alias", sa.String(64), nullable=False),
        sa.Column("key", sa.String(64), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("client_id", "key"),
    )
    op.create_table(
        "preference_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "client_id",
            sa.String(64),
            sa.ForeignKey("clients.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("preference_id", sa.Integer(), nullable=True, index=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("detail", sa.String(200), nullable=False),
        sa.Column("advisor_id", sa.String(64), nullable=False),
        sa.Column("advisor_name", sa.String(64), nullable=False),
        sa.Column("store", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False, index=True),
    )
    # An advisor's last write (撤回) is found without a scan.
    op.create_index("ix_preference_events_advisor", "preference_events", ["advisor_id", "id"])
    # Existing cards get their surname from the same rule the store uses.
    from bot.nlu.vocabulary import load_vocabulary

    vocabulary = load_vocabulary()
    clients = sa.table("clients", sa.column("id", sa.String), sa.column("name", sa.String),
                       sa.column("surname", sa.String))  # fmt: skip
    connection = op.get_bind()
    for client_id, name in connection.execute(sa.select(clients.c.id, clients.c.name)).all():
        connection.execute(
            clients.update()
            .where(clients.c.id == client_id)
            .values(surname=vocabulary.surname_of(name))
        )


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, "clients")
    op.drop_table("preference_events")
    op.drop_table("client_aliases")
    with op.batch_alter_table("preferences") as batch:
        for column in ("changed_at", "date_value", "status", "advisor_id"):
            batch.drop_column(column)
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("surname")
