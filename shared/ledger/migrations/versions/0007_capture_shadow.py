"""Online capture: a label can be joined to an online answer (by its request id) instead of
a row of a scoring batch. (Shadow challengers need no table: they are aliases.)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feedback") as t:
        t.add_column(sa.Column("request_id", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feedback") as t:
        t.drop_column("request_id")
