"""Follow-ups and their WeCom reminders, purchases, and WeCom sign-in sessions.

Revision ID: 0008_followups
Revises: 0006_conversations
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_followups"
down_revision = "0006_conversations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "followups",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "client_id",
            sa.String(64),
            sa.ForeignKey("clients.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("store", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("event_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("source", sa.String(120), nullable=False, unique=True),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("preference_id", sa.Integer(), nullable=True),
        sa.Column("note_id", sa.Integer(), nullable=True, index=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("done_by", sa.String(64), nullable=True),
        sa.Column("postponed", sa.Integer(), nullable=False),
        sa.Column("first_due_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_followups_owner_status_due", "followups", ["owner_id", "status", "due_at"])
    op.create_index("ix_followups_store_status_due", "followups", ["store", "status", "due_at"])
    op.create_table(
        "followup_reminders",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "followup_id",
            sa.Integer(),
            sa.ForeignKey("followups.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("sent_to", sa.String(200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(200), nullable=False),
        sa.UniqueConstraint("followup_id", "kind", "due_at"),
    )
    op.create_index("ix_followup_reminders_status_due", "followup_reminders", ["status", "due_at"])
    op.create_table(
        "followup_focus",
        sa.Column("advisor_id", sa.String(64), primary_key=True),
        sa.Column("task_ids", sa.JSON(), nullable=False),
        sa.Column("listed_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "purchases",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "client_id",
            sa.String(64),
            sa.ForeignKey("clients.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("purchased_on", sa.Date(), nullable=False),
        sa.Column("store", sa.String(64), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("nps", sa.Integer(), nullable=True),
        sa.Column("benefit_cost_fen", sa.BigInteger(), nullable=True),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_purchases_client_date", "purchases", ["client_id", "purchased_on"])
    op.create_index("ix_purchases_store_date", "purchases", ["store", "purchased_on"])
    op.create_table(
        "advisor_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("advisor_id", sa.String(64), nullable=False, index=True),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False, index=True),
    )
    # Follow-ups look notes up by their follow-up date and complaints by their age.
    op.create_index("ix_visit_notes_follow_up_on", "visit_notes", ["follow_up_on"])
    op.create_index("ix_visit_notes_kind_created", "visit_notes", ["kind", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_visit_notes_kind_created", table_name="visit_notes")
    op.drop_index("ix_visit_notes_follow_up_on", table_name="visit_notes")
    op.drop_table("advisor_sessions")
    op.drop_index("ix_purchases_store_date", table_name="purchases")
    op.drop_index("ix_purchases_client_date", table_name="purchases")
    op.drop_table("purchases")
    op.drop_table("followup_focus")
    op.drop_index("ix_followup_reminders_status_due", table_name="followup_reminders")
    op.drop_table("followup_reminders")
    op.drop_index("ix_followups_store_status_due", table_name="followups")
    op.drop_index("ix_followups_owner_status_due", table_name="followups")
    op.drop_table("followups")
