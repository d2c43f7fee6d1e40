"""Adaptive intervals: each update of an alias's interval quantile from arriving labels
(shared.model.adaptive, shared.ledger.intervals).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "interval_updates",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alias", sa.String(100), nullable=False),
        sa.Column("deployment_id", sa.Integer, sa.ForeignKey("deployments.id"), nullable=False),
        sa.Column("model_id", sa.Integer, nullable=False),
        sa.Column("feedback_batch_id", sa.Integer),
        sa.Column("labels", sa.Integer, nullable=False),
        sa.Column("covered", sa.Integer, nullable=False),
        sa.Column("old_factor", sa.Float, nullable=False),
        sa.Column("new_factor", sa.Float, nullable=False),
        sa.Column("old_quantile", sa.Float, nullable=False),
        sa.Column("new_quantile", sa.Float, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_interval_updates_alias", "interval_updates", ["alias", "deployment_id"])


def downgrade() -> None:
    op.drop_index("ix_interval_updates_alias", "interval_updates")
    op.drop_table("interval_updates")
