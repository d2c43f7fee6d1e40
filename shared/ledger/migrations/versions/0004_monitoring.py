"""Close the loop: feedback (delayed labels) and monitoring reports.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "feedback_batches",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("accepted", sa.Integer, nullable=False),
        sa.Column("late", sa.Integer, nullable=False),
        sa.Column("duplicates", sa.Integer, nullable=False),
        sa.Column("unknown", sa.Integer, nullable=False),
        sa.Column("invalid", sa.Integer, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "feedback_batch_id", sa.Integer, sa.ForeignKey("feedback_batches.id"), nullable=False
        ),
        sa.Column("row_id", sa.String(255), nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("scoring_batch_id", sa.Integer),
        sa.Column("flagged", sa.Boolean, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_feedback_row_id", "feedback", ["row_id"])
    op.create_table(
        "monitoring_reports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("flow_run", sa.String(255)),
        sa.Column("model_id", sa.Integer, nullable=False),
        sa.Column("batches", sa.JSON, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("label_coverage", sa.Float, nullable=False),
        sa.Column("checks", sa.JSON, nullable=False),
        sa.Column("retrain", sa.Boolean, nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("retrain_run", sa.String(255)),
        sa.Column("created_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("monitoring_reports")
    op.drop_index("ix_feedback_row_id", "feedback")
    op.drop_table("feedback")
    op.drop_table("feedback_batches")
