"""Card access log: who read or changed which client's card, when, from which store.

Revision ID: 0005_audit
Revises: 0004_trust
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_audit"
down_revision = "0004_trust"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "card_access",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("advisor_id", sa.String(64), nullable=False),
        sa.Column("advisor_name", sa.String(64), nullable=False),
        sa.Column("advisor_store", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("detail", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_card_access_client_id", "card_access", ["client_id"])
    op.create_index("ix_card_access_at", "card_access", ["at"])
    # An advisor's recent clients (记在哪位客户的卡上？ offers them) without a scan.
    op.create_index("ix_card_access_advisor", "card_access", ["advisor_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_card_access_advisor", table_name="card_access")
    op.drop_index("ix_card_access_at", table_name="card_access")
    op.drop_index("ix_card_access_client_id", table_name="card_access")
    op.drop_table("card_access")
