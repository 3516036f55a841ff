"""PostgreSQL may abort one of two racing inserts to break a deadlock (exclusion constraints do
this under concurrent conflicting inserts); the create flow runs such a transaction again."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from service.db.database import is_transient_conflict


class _DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def _error(sqlstate: str) -> DBAPIError:
    return DBAPIError("INSERT ...", None, _DriverError(sqlstate))


def test_deadlocks_and_serialization_failures_are_transient() -> None:
    assert is_transient_conflict(_error("40P01"))
    assert is_transient_conflict(_error("40001"))


def test_other_database_errors_are_not() -> None:
    assert not is_transient_conflict(_error("23P01"))  # an overlap: a real 409
    assert not is_transient_conflict(_error("08006"))  # connection failure
