"""Fixtures for the fake calendar tests: an in-process client (ASGI) and real provider processes.

`running_fake_calendar` starts `python -m fakes.calendar --port 0` (the process picks a free port
and prints it), waits a bounded time for the ready line, and always stops the process by its PID,
even when the test fails. Tests reach these through fixtures, never `import conftest`: another
conftest.py elsewhere in tests/ could shadow that name.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from fakes.calendar.app import create_app

REPO_ROOT = Path(__file__).resolve().parents[3]
READY_PREFIX = "fake calendar listening on "
READY_TIMEOUT_S = 20.0


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """A client talking to a fresh in-process fake (seed 1) through httpx's ASGI transport."""
    transport = httpx.ASGITransport(app=create_app(seed=1))
    async with httpx.AsyncClient(transport=transport, base_url="http://fake") as http:
        yield http


@dataclass
class ProviderProcess:
    process: subprocess.Popen[str]
    url: str
    lines: queue.Queue[str]

    def stop(self, signum: int = signal.SIGTERM, timeout_s: float = 10.0) -> int:
        """Signal the process by PID and wait for it; kill it if it does not stop in time."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signum)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=timeout_s)
        return self.process.returncode

    def output_after_ready(self) -> str:
        """Everything the process printed to stdout after the ready line (call once it exited)."""
        text = []
        while not self.lines.empty():
            text.append(self.lines.get_nowait())
        return "".join(text)


def fake_calendar_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "fakes.calendar", *args]


def subprocess_env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO_ROOT)}


@contextmanager
def running_fake_calendar(*args: str) -> Iterator[ProviderProcess]:
    """A real fake provider process on 127.0.0.1 and a free port, stopped on exit whatever happens."""
    process = subprocess.Popen(
        fake_calendar_command("--host", "127.0.0.1", "--port", "0", *args),
        cwd=REPO_ROOT,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        try:
            first = lines.get(timeout=READY_TIMEOUT_S)
        except queue.Empty:
            pytest.fail(f"fake calendar printed no ready line within {READY_TIMEOUT_S}s")
        assert first.startswith(READY_PREFIX), f"unexpected first line: {first!r}"
        yield ProviderProcess(process, first.removeprefix(READY_PREFIX).strip(), lines)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def provider_process() -> Iterator[ProviderProcess]:
    """One real provider process shared by a module's tests (reset them between tests yourself)."""
    with running_fake_calendar("--seed", "1") as provider:
        yield provider


@pytest.fixture
def start_fake_calendar() -> Callable[..., AbstractContextManager[ProviderProcess]]:
    """`with start_fake_calendar("--seed", "4") as provider:` a provider process of its own."""
    return running_fake_calendar


@pytest.fixture
def run_fake_calendar_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `python -m fakes.calendar ARGS` to completion (bounded) and return what it printed."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            fake_calendar_command(*args),
            cwd=REPO_ROOT,
            env=subprocess_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run
