"""Applies the Alembic migrations in `service/db/migrations` to head, programmatically.

Runs on start of the service and of the standalone relay. Uses the async engine's connection via
`run_sync` (Alembic's documented pattern for asyncio), so one code path serves SQLite and
PostgreSQL. Concurrent starters serialize: SQLite through `BEGIN IMMEDIATE`, PostgreSQL through a
transaction-scoped advisory lock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from service.db.database import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_ADVISORY_LOCK_ID = 0x5E4EA5A1  # any constant shared by every process that migrates this schema


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


async def upgrade_to_head(database: Database) -> None:
    config = alembic_config()
    async with database.write() as conn:
        if not database.is_sqlite:
            await conn.execute(text(f"SELECT pg_advisory_xact_lock({_ADVISORY_LOCK_ID})"))
        await conn.run_sync(_upgrade, config)


def _upgrade(sync_connection: Any, config: Config) -> None:
    config.attributes["connection"] = sync_connection
    command.upgrade(config, "head")
