"""WeCom: advisors' WeCom user ids and the MsgIds already processed.

Revision ID: 0003_wecom
Revises: 0002_roleplays
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_wecom"
down_revision = "0002_roleplays"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("advisors") as batch:
        batch.add_column(sa.Column("wecom_userid", sa.String(64), nullable=True))
        batch.create_unique_constraint("uq_advisors_wecom_userid", ["wecom_userid"])
    op.create_table(
        "wecom_messages",
        sa.Column("msg_id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("wecom_messages")
    with op.batch_alter_table("advisors") as batch:
        batch.drop_constraint("uq_advisors_wecom_userid", type_="unique")
        batch.drop_column("wecom_userid")
