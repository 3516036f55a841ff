"""The database handle: one async engine, read and write transactions, dialect quirks.

Owns the engine and how transactions begin. SQLite (aiosqlite) runs in WAL mode, and every write
transaction starts with `BEGIN IMMEDIATE`, so the overlap check and the insert it guards can never
interleave with another writer (a deferred transaction would only take the write lock at its first
write, after both had read). Writers of this process also queue on an asyncio lock first: SQLite's
own busy handler polls with sleeps, which is slow and unfair under a hundred concurrent writers.
PostgreSQL (asyncpg) uses READ COMMITTED; the constraints do the guarding there.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

_WRITE_OPTION = "rehearsal_write"


class Database:
    def __init__(self, url: str, pool_size: int = 10) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        # hide_parameters: SQL errors must not carry row values (owner names, e-mails) into logs.
        kwargs: dict[str, Any] = {
            "pool_size": pool_size,
            "max_overflow": pool_size,
            "hide_parameters": True,
        }
        if self.is_sqlite:
            # busy timeout: writers of other processes (the standalone relay) wait, not fail.
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine = create_async_engine(url, **kwargs)
        self._write_engine = self.engine.execution_options(**{_WRITE_OPTION: True})
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None
        if self.is_sqlite:
            _install_sqlite_events(self.engine.sync_engine)

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: commits on success, rolls back on any exception."""
        lock = self._write_lock or contextlib.nullcontext()
        async with lock, self._write_engine.begin() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.begin() as conn:
            yield conn

    async def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


def _install_sqlite_events(sync_engine: Any) -> None:
    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to the "begin" hook below (pysqlite's own BEGIN is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a process crash (the crash points) without an fsync per
        # commit; only a power loss may drop the last transactions.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def is_overlap_violation(exc: IntegrityError) -> bool:
    """Did the database refuse a row because its slot overlaps a booked one?"""
    return _sqlstate(exc) == "23P01" or "appointment_overlap" in str(exc.orig)


def is_unique_violation(exc: IntegrityError) -> bool:
    return _sqlstate(exc) == "23505" or "UNIQUE constraint failed" in str(exc.orig)


def _sqlstate(exc: IntegrityError) -> str | None:
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code is None and orig is not None and orig.__cause__ is not None:
        code = getattr(orig.__cause__, "sqlstate", None)
    return code
