"""Release: approvals, deployments, aliases with append-only history, scoring batches.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("model_versions.id"), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("role", sa.String(100), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "deployments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("model_versions.id"), nullable=False),
        sa.Column("alias", sa.String(50), nullable=False),
        sa.Column("rules_hash", sa.String(64), nullable=False),
        sa.Column("rules_version", sa.String(100), nullable=False),
        sa.Column("code_commit", sa.String(64)),
        sa.Column("bundle_uri", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "aliases",
        sa.Column("alias", sa.String(50), primary_key=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("model_versions.id"), nullable=False),
        sa.Column("deployment_id", sa.Integer, sa.ForeignKey("deployments.id"), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "alias_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alias", sa.String(50), nullable=False),
        sa.Column("model_id", sa.Integer, nullable=False),
        sa.Column("previous_model_id", sa.Integer),
        sa.Column("deployment_id", sa.Integer, nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", TS, nullable=False),
    )
    op.create_table(
        "scoring_batches",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("flow_run", sa.String(255)),
        sa.Column("input_source", sa.Text, nullable=False),
        sa.Column("input_uri", sa.Text, nullable=False),
        sa.Column("input_sha256", sa.String(64), nullable=False),
        sa.Column("deployment_id", sa.Integer, sa.ForeignKey("deployments.id"), nullable=False),
        sa.Column("model_id", sa.Integer, nullable=False),
        sa.Column("rules_version", sa.String(100), nullable=False),
        sa.Column("output_uri", sa.Text, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("decisions", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )


def downgrade() -> None:
    for t in ("scoring_batches", "alias_history", "aliases", "deployments", "approvals"):
        op.drop_table(t)
