"""Role-play assignments (copilot roleplay assign) and trainers' check overrides.

Revision ID: 0007_roleplay_assignments
Revises: 0008_followups
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_roleplay_assignments"
down_revision = "0008_followups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "roleplay_assignments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("advisor_id", sa.String(64), nullable=False),
        sa.Column("persona_id", sa.String(64), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("assigned_by", sa.String(64), nullable=True),
        sa.Column("assigned_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_roleplay_assignments_advisor_id", "roleplay_assignments", ["advisor_id"])
    op.create_table(
        "roleplay_check_overrides",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "roleplay_id",
            sa.Integer(),
            sa.ForeignKey("roleplays.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("check_id", sa.String(64), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("trainer_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
    )
    op.create_index(
        "ix_roleplay_check_overrides_roleplay_id", "roleplay_check_overrides", ["roleplay_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_roleplay_check_overrides_roleplay_id", "roleplay_check_overrides")
    op.drop_table("roleplay_check_overrides")
    op.drop_index("ix_roleplay_assignments_advisor_id", "roleplay_assignments")
    op.drop_table("roleplay_assignments")
