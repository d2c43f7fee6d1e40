"""Integrity: each deployment records the sha256 of its (immutable) bundle.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # deployments made before this revision have none: loading them is refused until the
    # version is promoted again (shared.guard.bundle.load_verified)
    with op.batch_alter_table("deployments") as t:
        t.add_column(sa.Column("bundle_sha256", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deployments") as t:
        t.drop_column("bundle_sha256")
