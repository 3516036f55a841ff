"""Statements built once, parameters apart — and on SQLite, run straight on the driver.

Why: a create runs about ten statements, and SQLAlchemy's execution path (cache key, parameter
construction, execution context, result set-up) cost more CPU per statement than SQLite takes to
run it — a quarter of the service's CPU per create, measured with py-spy under load
(`benchmarks/stack_cpu.py`). A statement marked with `prepared(...)` is compiled once per set of
parameter names with SQLAlchemy's own compiler, and then runs with one `cursor.execute` on the
sqlite3 connection, its values passed through the same bind and result processors SQLAlchemy
would apply (so `UtcDateTime`, `Boolean` etc. read and write exactly as before). Errors come back
wrapped as SQLAlchemy's (`IntegrityError`, `OperationalError`, parameters hidden), so the stores'
handlers see what they always saw.

Anything this path does not know — an unmarked statement, several parameter sets, a Python-side
column default, an expanding `IN` — goes the ordinary SQLAlchemy way. PostgreSQL always does: the
marker is only a hint there.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, NoResultFound, StatementError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

S = TypeVar("S", bound=ClauseElement)

# id → the statement itself: statements are module-level and live as long as the process, and
# holding them here keeps an id from being reused by another object.
_MARKED: dict[int, ClauseElement] = {}


def prepared(statement: S) -> S:
    """Mark a module-level statement (values only as `bindparam`s) for the driver fast path."""
    _MARKED[id(statement)] = statement
    return statement


def is_prepared(statement: object) -> bool:
    return _MARKED.get(id(statement)) is statement


def sqlalchemy_error(sql: str, exc: sqlite3.Error) -> StatementError:
    """The driver's error as SQLAlchemy would raise it (`IntegrityError`, `OperationalError`...),
    parameters hidden as the engines are configured: rows carry owner names."""
    return DBAPIError.instance(sql, None, exc, sqlite3.Error, hide_parameters=True)


class FastResult:
    """The part of SQLAlchemy's `Result` the stores use, over rows already fetched."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def all(self) -> list[Any]:
        return self._rows

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        if len(self._rows) != 1:
            raise NoResultFound(f"expected one row, got {len(self._rows)}")
        return self._rows[0][0]


class _Plan:
    """One statement compiled for one set of parameter names."""

    __slots__ = ("sql", "binds", "row", "processors", "returns_rows")

    def __init__(self, statement: ClauseElement, keys: list[str], dialect: Dialect) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect, column_keys=keys))
        if compiled.insert_prefetch or compiled.update_prefetch or compiled.positiontup is None:
            raise _Unsupported
        if any(b.expanding for b in compiled.binds.values()):
            raise _Unsupported
        processors = compiled._bind_processors  # noqa: SLF001 - SQLAlchemy's own, for fidelity
        defaults = compiled.construct_params(_check=False) or {}
        self.sql = compiled.string
        self.binds: list[tuple[str, Any, Callable[[Any], Any] | None]] = []
        for name in compiled.positiontup:
            process = processors.get(name)
            if process is not None and not callable(process):
                raise _Unsupported  # a tuple-valued bind: per-element processors
            self.binds.append((name, defaults.get(name), process))
        columns = compiled._result_columns or []  # noqa: SLF001
        self.returns_rows = bool(columns)
        self.row: Any = namedtuple("Row", [c.keyname for c in columns]) if columns else None  # noqa: PYI024
        self.processors = [c.type._cached_result_processor(dialect, None) for c in columns]  # noqa: SLF001

    def values(self, params: Mapping[str, Any]) -> list[Any]:
        out = []
        for name, default, process in self.binds:
            value = params[name] if name in params else default
            out.append(process(value) if process is not None and value is not None else value)
        return out

    def rows(self, raw: Sequence[tuple[Any, ...]]) -> list[Any]:
        make = self.row._make
        processors = self.processors
        if not any(processors):
            return [make(r) for r in raw]
        return [
            make([p(v) if p is not None else v for p, v in zip(processors, r, strict=True)])
            for r in raw
        ]


class _Unsupported(Exception):
    pass


class SqliteStatements:
    """Compiled plans of the marked statements for one SQLite engine's dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._plans: dict[tuple[int, tuple[str, ...]], _Plan | None] = {}

    def plan(self, statement: ClauseElement, params: Mapping[str, Any]) -> _Plan | None:
        key = (id(statement), tuple(params))
        try:
            return self._plans[key]
        except KeyError:
            pass
        try:
            plan: _Plan | None = _Plan(statement, list(params), self.dialect)
        except _Unsupported:
            plan = None
        self._plans[key] = plan
        return plan

    @staticmethod
    def run(raw: sqlite3.Connection, plan: _Plan, params: Mapping[str, Any]) -> FastResult:
        values = plan.values(params)
        try:
            cursor = raw.execute(plan.sql, values)
            fetched = cursor.fetchall() if plan.returns_rows else []
        except sqlite3.Error as exc:
            raise sqlalchemy_error(plan.sql, exc) from exc
        return FastResult(plan.rows(fetched) if fetched else [], cursor.rowcount)
