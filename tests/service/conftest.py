"""Fixtures of the service's tests: child processes (reaped by PID), databases, request bodies."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.service.live_stack import (
    ProcessReaper,
    Provider,
    Service,
    start_provider,
    start_service,
)

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
SLOT_BASE = dt.datetime(2031, 3, 3, 8, 0, tzinfo=dt.UTC)


def appointment_body(resource_id: str, slot: int = 0, **overrides: Any) -> dict[str, Any]:
    """A valid create body for 30-minute slot number `slot` of `resource_id`."""
    start = SLOT_BASE + dt.timedelta(minutes=30 * slot)
    body: dict[str, Any] = {
        "customer_id": str(uuid.uuid4()),
        "resource_id": resource_id,
        "slot": {
            "start_time": start.isoformat().replace("+00:00", "Z"),
            "end_time": (start + dt.timedelta(minutes=30)).isoformat().replace("+00:00", "Z"),
        },
        "service_type": "consultation",
        "title": "checkup",
        "owner": {"name": "Zebulon Quartermaine", "email": "zebulon.q@example.org"},
        "location": "room 4",
        "metadata": {"source": "tests"},
    }
    body.update(overrides)
    return body


def new_resource() -> str:
    return f"res-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def session_reaper() -> Iterator[ProcessReaper]:
    reaper = ProcessReaper()
    try:
        yield reaper
    finally:
        reaper.close()


@pytest.fixture
def reaper() -> Iterator[ProcessReaper]:
    """Processes a single test starts; killed when the test ends, pass or fail."""
    reaper = ProcessReaper()
    try:
        yield reaper
    finally:
        reaper.close()


@pytest.fixture(scope="session")
def session_provider(
    session_reaper: ProcessReaper, tmp_path_factory: pytest.TempPathFactory
) -> Provider:
    return start_provider(session_reaper, tmp_path_factory.mktemp("provider"))


@pytest.fixture
def provider(session_provider: Provider) -> Provider:
    """The shared fake provider, reset (no events, no faults) for this test."""
    session_provider.reset()
    return session_provider


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'service.db'}"


async def _pg_admin(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _pg_admin_sync(statement: str) -> None:
    """Run an admin statement on its own thread and loop (callers may be inside a running loop)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(lambda: asyncio.run(_pg_admin(statement))).result()


@contextlib.contextmanager
def scratch_postgres() -> Iterator[str]:
    """A fresh PostgreSQL database on the shared server, dropped afterwards; skips when
    unreachable. For fixtures of any scope."""
    name = f"rehearsal_svc_{uuid.uuid4().hex[:12]}"
    try:
        _pg_admin_sync(f"CREATE DATABASE {name}")
    except Exception as exc:  # no server, no permission: say why and skip
        pytest.skip(f"PostgreSQL not usable at 127.0.0.1:5432 ({type(exc).__name__}: {exc})")
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        _pg_admin_sync(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test, dropped afterwards; skips when unreachable."""
    with scratch_postgres() as url:
        yield url


API_KEYS = {"key-alpha": "tenant-alpha", "key-beta": "tenant-beta"}


@pytest.fixture(scope="session")
def shared_service(
    session_reaper: ProcessReaper,
    session_provider: Provider,
    tmp_path_factory: pytest.TempPathFactory,
) -> Service:
    """One service (SQLite, two tenants) for the tests that do not need a fresh one. Tests use
    their own resource ids, so they never meet each other's slots."""
    directory = tmp_path_factory.mktemp("shared-service")
    return start_service(
        session_reaper,
        db_url=f"sqlite+aiosqlite:///{directory / 'service.db'}",
        calendar_url=session_provider.url,
        log_path=directory / "service.log",
        api_keys=API_KEYS,
    )
