"""A fresh PostgreSQL database per scenario, so one scenario's rows never judge another's.

Given the user's `--db-url postgresql+asyncpg://user@host:port/db`, creates
`<db>_<run>_<scenario>` on the same server before the scenario's service starts and drops it
afterwards. I/O: one asyncpg connection to the server per call.
"""

from __future__ import annotations

import asyncio
import re

import asyncpg
from sqlalchemy.engine import make_url


def is_postgres(url: str | None) -> bool:
    return bool(url) and url.startswith("postgresql")


def scenario_database_url(base_url: str, run_id: str, scenario: str) -> str:
    url = make_url(base_url)
    raw = f"{url.database or 'rehearsal'}_{run_id}_{scenario}".lower()
    name = re.sub(r"[^a-z0-9_]", "_", raw)[:63]  # PostgreSQL identifiers: 63 bytes
    return url.set(database=name).render_as_string(hide_password=False)


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(base_url: str, sql: str) -> None:
    connection = await asyncpg.connect(_dsn(base_url), timeout=10)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def create_database(base_url: str, scenario_url: str) -> None:
    name = make_url(scenario_url).database
    asyncio.run(_admin(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_admin(base_url, f'CREATE DATABASE "{name}"'))


def drop_database(base_url: str, scenario_url: str) -> None:
    name = make_url(scenario_url).database
    asyncio.run(_admin(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
