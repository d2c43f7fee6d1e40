"""Alembic environment: runs on the connection the ledger hands over (no URL of its own)."""

from alembic import context

from shared.ledger.tables import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
