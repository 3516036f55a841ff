"""Alembic environment: runs migrations on the connection `service.db.migrate` hands over.

Online only, on a connection the caller already opened (the async engine's, via `run_sync`), so
the same code path serves SQLite and PostgreSQL. Offline (`--sql`) mode is not supported.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations with service.db.migrate.upgrade_to_head(), which passes a connection; "
        "the alembic CLI is not wired to this environment"
    )
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
