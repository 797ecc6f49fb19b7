"""Role-play history.

Revision ID: 0002_roleplays
Revises: 0001_cards
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_roleplays"
down_revision = "0001_cards"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "roleplays",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("advisor_id", sa.String(64), nullable=False, index=True),
        sa.Column("persona_id", sa.String(64), nullable=False),
        sa.Column("transcript", sa.JSON(), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("roleplays")
