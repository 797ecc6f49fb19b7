"""Surnames for cards that were stored without one.

Name lookups by surname and honorific (王先生, 欧阳小jie) read the ``surname``
column. 0004 filled it for the cards that existed then, and every card written
since gets it from the store; but a database created while 0004 was being
written kept its cards with an empty surname, and there 宋总 or 徐老师 found
nobody. This fills every empty surname by the same rule the store uses. The
rows are found through the index led by ``surname``, so a store that is already
right does no more than one index probe.

Revision ID: 0012_surname_backfill
Revises: 0011_honorific_ranking
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_surname_backfill"
down_revision = "0011_honorific_ranking"
branch_labels = None
depends_on = None

_BATCH = 1000


def upgrade() -> None:
    from bot.nlu.vocabulary import load_vocabulary

    vocabulary = load_vocabulary()
    clients = sa.table("clients", sa.column("id", sa.String), sa.column("name", sa.String),
                       sa.column("surname", sa.String))  # fmt: skip
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(clients.c.id, clients.c.name).where(clients.c.surname == "")
    ).all()
    filled = [
        {"row_id": client_id, "filled": surname}
        for client_id, name in rows
        if (surname := vocabulary.surname_of(name))
    ]
    update = (
        clients.update()
        .where(clients.c.id == sa.bindparam("row_id"))
        .values(surname=sa.bindparam("filled"))
    )
    for start in range(0, len(filled), _BATCH):
        connection.execute(update, filled[start : start + _BATCH])


def downgrade() -> None:
    """Nothing to undo: a filled surname is what the store writes for every new card."""
