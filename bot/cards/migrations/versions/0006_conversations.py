"""Durable conversations: each Rasa tracker's state as one JSON document.

Revision ID: 0006_conversations
Revises: 0005_audit
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_conversations"
down_revision = "0005_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("sender_id", sa.String(255), primary_key=True),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("conversations")
