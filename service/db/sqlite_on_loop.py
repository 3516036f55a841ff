"""SQLite for the service: a synchronous engine whose statements run on the event loop's thread.

Why: SQLite answers in microseconds, while aiosqlite sends every statement to a worker thread and
back through the event loop. Under load those hops, not SQL, set how long a write transaction
holds the database's single write lock — measured here at ~5–6 ms per transaction at 150 RPS,
which capped the service near 85 creates/s with write-lock waits of ~500 ms. Run inline, a
transaction holds the lock for well under a millisecond.

Owns `LoopConnection` (the async connection interface the stores use — `execute`,
`exec_driver_sql`, `run_sync` — over a sync SQLAlchemy connection) and the write transaction's
`BEGIN IMMEDIATE`, retried with asyncio sleeps when another process (the standalone relay) holds
the lock, so the loop never blocks waiting for a lock: the busy timeout is 0 on purpose.
The cost: SQL runs on the loop thread. A statement is tens of microseconds; a WAL checkpoint
(every ~1000 pages) may take a few milliseconds. PostgreSQL keeps the asyncpg path.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url

from service.db.prepared import SqliteStatements, is_prepared, sqlalchemy_error
from service.db.sqlite_checkpoints import BACKSTOP_PAGES

BUSY_RETRY_FOR_S = 30.0  # as long as the old busy timeout: another writer gets this long


class LoopConnection:
    """What the stores need of an `AsyncConnection`, over a sync connection, without thread hops.

    The coroutines never suspend, so a transaction runs start to finish without yielding.
    Statements marked `prepared` run straight on the sqlite3 connection (`service.db.prepared`).
    """

    def __init__(
        self, sync_connection: Connection, statements: SqliteStatements, raw: sqlite3.Connection
    ) -> None:
        self.sync_connection = sync_connection
        self._statements = statements
        self._raw = raw

    async def execute(self, statement: Any, parameters: Any = None, **kwargs: Any) -> Any:
        if (
            not kwargs
            and is_prepared(statement)
            and (parameters is None or type(parameters) is dict)
        ):
            params = parameters or {}
            plan = self._statements.plan(statement, params)
            if plan is not None:
                return self._statements.run(self._raw, plan, params)
        return self.sync_connection.execute(statement, parameters, **kwargs)

    async def exec_driver_sql(self, statement: str, parameters: Any = None) -> Any:
        return self.sync_connection.exec_driver_sql(statement, parameters)

    async def run_sync(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return fn(self.sync_connection, *args, **kwargs)


def sync_sqlite_engine(url: str, pool_size: int) -> Engine:
    """A pysqlite engine for an `sqlite+aiosqlite://` URL, in WAL mode, with manual BEGIN."""
    sync_url = make_url(url).set(drivername="sqlite+pysqlite")
    engine = create_engine(
        sync_url,
        pool_size=pool_size,
        max_overflow=-1,  # never block the loop waiting for a pooled connection
        hide_parameters=True,  # SQL errors must not carry row values (owner names) into logs
        connect_args={"timeout": 0, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions begin where we say, see below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a process crash (the crash points) without an fsync per
        # commit; only a power loss may drop the last transactions.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=0")
        # Checkpoints run on a thread of their own (`service.db.sqlite_checkpoints`); this is
        # only the backstop should that thread fall behind.
        cursor.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
        cursor.close()

    return engine


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _driver(connection: Connection) -> sqlite3.Connection:
    raw = connection.connection.driver_connection
    assert isinstance(raw, sqlite3.Connection)
    return raw


def _driver_sql(raw: sqlite3.Connection, sql: str) -> None:
    """One transaction-control statement on the driver (SQLAlchemy's execution path costs more
    than the statement); errors wrapped as SQLAlchemy's, as they always were."""
    try:
        raw.execute(sql)
    except sqlite3.Error as exc:
        raise sqlalchemy_error(sql, exc) from exc


def _rollback(raw: sqlite3.Connection) -> None:
    # SQLite itself rolls back on some errors (a full disk, an I/O error); a second ROLLBACK
    # would then fail and hide the error that matters.
    if raw.in_transaction:
        _driver_sql(raw, "ROLLBACK")


@contextlib.asynccontextmanager
async def write_transaction(
    connection: Connection, statements: SqliteStatements
) -> AsyncIterator[LoopConnection]:
    """BEGIN IMMEDIATE (the write lock, taken up front so a check and the insert it guards never
    interleave with another writer), then commit, or roll back on any exception.

    `connection` is the process's one writer connection (the caller serialises its writers): the
    same connection every time keeps SQLite's page cache warm, where a pool hands out connections
    in turn and each must re-read the pages the others changed."""
    raw = _driver(connection)
    delay = 0.001
    waited = 0.0
    while True:
        try:
            raw.execute("BEGIN IMMEDIATE")
            break
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or waited >= BUSY_RETRY_FOR_S:
                raise sqlalchemy_error("BEGIN IMMEDIATE", exc) from exc
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 0.05)
    try:
        try:
            yield LoopConnection(connection, statements, raw)
        except BaseException:
            _rollback(raw)
            raise
        # Alembic (`run_sync` in the migration) commits through SQLAlchemy's own transaction,
        # which ends ours too; then there is nothing left to commit.
        if raw.in_transaction:
            _driver_sql(raw, "COMMIT")
    finally:
        # Statements that went SQLAlchemy's way left it thinking a transaction is open (its
        # autobegin); end that bookkeeping — at the driver there is nothing left to end.
        if connection.in_transaction():
            connection.rollback()


@contextlib.asynccontextmanager
async def read_transaction(
    engine: Engine, statements: SqliteStatements
) -> AsyncIterator[LoopConnection]:
    """A deferred read transaction: in WAL mode readers never wait for the writer."""
    connection = engine.connect()
    try:
        raw = _driver(connection)
        _driver_sql(raw, "BEGIN")
        try:
            yield LoopConnection(connection, statements, raw)
        finally:
            _rollback(raw)
    finally:
        connection.close()
