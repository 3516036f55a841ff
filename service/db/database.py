"""The database handle: one async engine, read and write transactions, dialect quirks.

Owns the engine and how transactions begin. SQLite runs in WAL mode through
`service.db.sqlite_on_loop` (statements on the loop thread: no thread hop per statement), and every
write transaction starts with `BEGIN IMMEDIATE`, so the overlap check and the insert it guards can
never interleave with another writer (a deferred transaction would only take the write lock at its
first write, after both had read). Writers of this process also queue on an asyncio lock first:
SQLite's own busy handler polls with sleeps, which is slow and unfair under a hundred writers.
PostgreSQL (asyncpg) uses READ COMMITTED; the constraints do the guarding there.

Also the classification of database errors the API layer answers by: out of reach (503, retry),
a value refused as data (422, a retry cannot help), and the conflicts the flows retry themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

import asyncpg.exceptions
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from service.db.prepared import SqliteStatements
from service.db.sqlite_checkpoints import Checkpointer
from service.db.sqlite_on_loop import read_transaction, sync_sqlite_engine, write_transaction

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
        self._sqlite: Engine | None = None
        self._checkpointer: Checkpointer | None = None
        self._checkpointing = False
        self._writer: Connection | None = None  # SQLite: the one writer connection, see write()
        if self.is_sqlite:
            self._sqlite = sync_sqlite_engine(url, pool_size)
            self._statements = SqliteStatements(self._sqlite.dialect)
            path = self._sqlite.url.database
            if path and path != ":memory:" and not path.startswith("file:"):
                self._checkpointer = Checkpointer(path)
        else:
            kwargs["pool_pre_ping"] = True
            self.engine = create_async_engine(url, **kwargs)
            self._write_engine = self.engine.execution_options(**{_WRITE_OPTION: True})
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: commits on success, rolls back on any exception."""
        if self._sqlite is not None:
            assert self._write_lock is not None
            if self._checkpointer is not None and not self._checkpointing:
                self._checkpointing = True  # from the first write: the file exists by then
                self._checkpointer.start()
            async with self._write_lock:
                if self._writer is None or self._writer.invalidated:
                    self._writer = self._sqlite.connect()
                async with write_transaction(self._writer, self._statements) as loop_conn:
                    # The stores are written against AsyncConnection's interface, which
                    # LoopConnection provides (execute, exec_driver_sql, run_sync).
                    yield cast(AsyncConnection, loop_conn)
            return
        async with self._write_engine.begin() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        if self._sqlite is not None:
            async with read_transaction(self._sqlite, self._statements) as loop_conn:
                yield cast(AsyncConnection, loop_conn)
            return
        async with self.engine.begin() as conn:
            yield conn

    async def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        async with self.read() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self._sqlite is not None:
            if self._checkpointer is not None:
                self._checkpointer.stop()
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            self._sqlite.dispose()
        else:
            await self.engine.dispose()


# What escapes unwrapped when a connection cannot be had: SQLAlchemy wraps only the driver's own
# errors, so a refused or reset socket (OSError, TimeoutError among them), asyncpg's connect-time
# refusals (a server starting or shutting down, too many connections) and the pool's own timeout
# arrive as themselves. In a request, the database is the only I/O whose errors are not already
# turned into outcomes (the calendar gateway does that for the provider), so an OSError there is
# the database's.
UNREACHABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.exceptions.PostgresConnectionError,  # class 08, ConnectionDoesNotExistError among them
    asyncpg.exceptions.OperatorInterventionError,  # 57P01-03: shutting down, starting up
    asyncpg.exceptions.InsufficientResourcesError,  # 53300 too many connections, ...
    PoolTimeoutError,
)


def is_unreachable(exc: BaseException) -> bool:
    """Could the database not be reached or not serve the connection (refused, reset, timed out,
    shutting down, out of connections)? Such a request can succeed when retried."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        code = _sqlstate(exc) or ""
        return code.startswith(("08", "53", "57P")) or (
            exc.orig is not None and is_unreachable(exc.orig)
        )
    return isinstance(exc, UNREACHABLE_ERRORS)


def is_data_exception(exc: DBAPIError) -> bool:
    """Did the database refuse a value as data (SQLSTATE class 22: NUL in text, a string longer
    than its column, ...)? The same request will be refused again: it is the client's to change."""
    return (_sqlstate(exc) or "").startswith("22")


def is_overlap_violation(exc: IntegrityError) -> bool:
    """Did the database refuse a row because its slot overlaps a booked one?"""
    return _sqlstate(exc) == "23P01" or "appointment_overlap" in str(exc.orig)


def is_transient_conflict(exc: DBAPIError) -> bool:
    """Did PostgreSQL abort the transaction to break a deadlock or a serialization conflict?
    Concurrent inserts of conflicting rows under an exclusion constraint can deadlock (the
    PostgreSQL manual says so); the victim's whole transaction is safe to run again."""
    return _sqlstate(exc) in ("40P01", "40001")


def is_unique_violation(exc: IntegrityError) -> bool:
    return _sqlstate(exc) == "23505" or "UNIQUE constraint failed" in str(exc.orig)


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code is None and orig is not None and orig.__cause__ is not None:
        code = getattr(orig.__cause__, "sqlstate", None)
    return code
