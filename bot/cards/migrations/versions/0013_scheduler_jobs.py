"""The follow-up scheduler's job table, made by the migrations.

APScheduler's SQLAlchemy job store creates ``apscheduler_jobs`` when it starts,
by checking whether the table exists and then creating it: two schedulers that
start together on a new database (replicas, or a restart overlapping the old
process) both see no table, and the second CREATE fails, so that scheduler
exits. Made here, with the job store's own columns, the table exists before any
scheduler starts and the job store's check finds it. A database where a
scheduler already made it keeps it as it is.

Revision ID: 0013_scheduler_jobs
Revises: 0012_surname_backfill
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_scheduler_jobs"
down_revision = "0012_surname_backfill"
branch_labels = None
depends_on = None

TABLE = "apscheduler_jobs"


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table(TABLE):
        return
    # The columns of apscheduler.jobstores.sqlalchemy.SQLAlchemyJobStore (APScheduler 3).
    op.create_table(
        TABLE,
        sa.Column("id", sa.Unicode(191), primary_key=True),
        sa.Column("next_run_time", sa.Float(25)),
        sa.Column("job_state", sa.LargeBinary, nullable=False),
    )
    op.create_index(f"ix_{TABLE}_next_run_time", TABLE, ["next_run_time"])


def downgrade() -> None:
    op.drop_index(f"ix_{TABLE}_next_run_time", table_name=TABLE)
    op.drop_table(TABLE)
