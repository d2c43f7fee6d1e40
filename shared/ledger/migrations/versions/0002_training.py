"""Training: label batches, model versions and the datasets each was trained on.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "label_batches",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("uri", sa.Text, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("dataset_version", sa.String(64)),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_key", sa.String(255), nullable=False),
        sa.Column("family", sa.String(50), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("key_metric", sa.String(30), nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("slice_metrics", sa.JSON, nullable=False),
        sa.Column("gate_results", sa.JSON, nullable=False),
        sa.Column("baseline_metrics", sa.JSON, nullable=False),
        sa.Column("artifact_uri", sa.Text, nullable=False),
        sa.Column("git_commit", sa.String(64)),
        sa.Column("git_dirty", sa.Boolean),
        sa.Column("config_hash", sa.String(64), nullable=False),
        sa.Column("flow_run", sa.String(255), nullable=False),
        sa.Column("task_pathspec", sa.String(255)),
        sa.Column("trained_by", sa.String(100), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("resources", sa.JSON, nullable=False),
    )
    op.create_index(
        "ux_model_versions_run_family", "model_versions", ["run_key", "family"], unique=True
    )
    op.create_table(
        "model_datasets",
        sa.Column("model_id", sa.Integer, sa.ForeignKey("model_versions.id"), primary_key=True),
        sa.Column(
            "dataset_version", sa.String(64), sa.ForeignKey("datasets.version"), primary_key=True
        ),
    )


def downgrade() -> None:
    op.drop_table("model_datasets")
    op.drop_index("ux_model_versions_run_family", "model_versions")
    op.drop_table("model_versions")
    op.drop_table("label_batches")
