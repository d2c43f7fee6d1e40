"""Trust: signatures of decisions (approvals, alias moves) and hashed API tokens.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "signatures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(20), nullable=False),  # approval | alias_move
        sa.Column("ref_id", sa.Integer, nullable=False),  # approvals.id | alias_history.id
        sa.Column("signer", sa.String(100), nullable=False),
        sa.Column("identity", sa.String(20), nullable=False),  # verified | unverified
        sa.Column("provider", sa.String(20), nullable=False),  # local | aws | oidc | dev
        sa.Column("login", sa.String(255), nullable=False),
        sa.Column("key_name", sa.String(100), nullable=False),  # member or service key
        sa.Column("statement", sa.Text, nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("public_key", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("kind", "ref_id", name="ux_signatures_kind_ref"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("revoked_by", sa.String(100), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("api_tokens")
    op.drop_table("signatures")
