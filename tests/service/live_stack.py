"""Real processes on loopback for the service's integration tests: the service, the fake provider.

Owns starting `python -m service` and `python -m fakes.calendar` as child processes on free ports
(`--port 0`; the ready line says which), waiting for them, and ending them by PID. Every process
started here is registered with a `ProcessReaper`, whose `close()` (called from fixtures' finally
blocks) kills whatever is still alive, so a failing test never leaks a process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 30.0


class ProcessReaper:
    """Remembers child processes and kills the live ones on close (TERM, then KILL)."""

    def __init__(self) -> None:
        self._children: list[subprocess.Popen[bytes]] = []

    def track(self, child: subprocess.Popen[bytes]) -> None:
        self._children.append(child)

    def close(self) -> None:
        for child in self._children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in self._children:
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=5)
        self._children.clear()


def _start(
    reaper: ProcessReaper, argv: list[str], env: Mapping[str, str], log_path: Path
) -> tuple[subprocess.Popen[bytes], str]:
    """Start a child; return it and its first stdout line (its ready line)."""
    log = log_path.open("ab")
    child = subprocess.Popen(
        argv, cwd=REPO, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=log
    )
    reaper.track(child)
    assert child.stdout is not None
    os.set_blocking(child.stdout.fileno(), False)
    deadline = time.monotonic() + READY_TIMEOUT_S
    buffer = b""
    while time.monotonic() < deadline:
        chunk = child.stdout.read()
        if chunk:
            buffer += chunk
            if b"\n" in buffer:
                return child, buffer.split(b"\n", 1)[0].decode()
        if child.poll() is not None:
            raise RuntimeError(
                f"{argv[2]} exited with {child.returncode} before it was ready:\n"
                + log_path.read_text()[-3000:]
            )
        time.sleep(0.02)
    raise RuntimeError(
        f"{argv[2]} not ready within {READY_TIMEOUT_S} s:\n" + log_path.read_text()[-3000:]
    )


@dataclass
class Provider:
    """The fake calendar provider (DESIGN §4) and its control API."""

    url: str
    process: subprocess.Popen[bytes]

    def control(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)

    def set_faults(self, **profile: Any) -> None:
        with self.control() as client:
            client.put("/_control/faults", json=profile).raise_for_status()

    def reset(self) -> None:
        with self.control() as client:
            client.post("/_control/reset").raise_for_status()

    def events(self) -> list[dict[str, Any]]:
        with self.control() as client:
            response = client.get("/_control/events")
            response.raise_for_status()
            events: list[dict[str, Any]] = response.json()["events"]
            return events

    def calls(self) -> list[dict[str, Any]]:
        with self.control() as client:
            response = client.get("/_control/calls")
            response.raise_for_status()
            calls: list[dict[str, Any]] = response.json()["calls"]
            return calls


def start_provider(reaper: ProcessReaper, log_dir: Path, seed: int = 7) -> Provider:
    argv = [sys.executable, "-m", "fakes.calendar", "--port", "0", "--seed", str(seed)]
    child, line = _start(reaper, argv, {}, log_dir / "provider.log")
    return Provider(url=line.rsplit(" ", 1)[-1].strip(), process=child)


# Fast schedules so the relay and breaker act within a test's patience.
FAST_ENV = {
    "REHEARSAL_OUTBOX_SCHEDULE_S": "0.2,0.4,0.8",
    "REHEARSAL_OUTBOX_MAX_ATTEMPTS": "3",
    "REHEARSAL_RELAY_POLL_S": "0.1",
    "REHEARSAL_RELAY_BUDGET_S": "1.0",
    "REHEARSAL_RELAY_ATTEMPT_TIMEOUT_S": "0.5",
    "REHEARSAL_RELAY_LEASE_S": "1.5",
    "REHEARSAL_BREAKER_COOLDOWN_S": "0.5",
    "REHEARSAL_IDEMPOTENCY_LEASE_S": "2.0",
    "REHEARSAL_RECONCILE_INTERVAL_S": "0",
    "REHEARSAL_RECONCILE_GRACE_S": "0.5",
    "REHEARSAL_LOG_LEVEL": "INFO",
}


@dataclass
class Service:
    """One `python -m service` process."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    api_key: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def client(self, api_key: str | None = None, **kwargs: Any) -> httpx.Client:
        key = api_key or self.api_key
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=15, **kwargs)

    def async_client(self, **kwargs: Any) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30, **kwargs)

    def wait_exit(self, timeout_s: float) -> int:
        return self.process.wait(timeout=timeout_s)

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for raw in self.log_path.read_text().splitlines():
            if raw.startswith("{"):
                lines.append(json.loads(raw))
        return lines


def start_service(
    reaper: ProcessReaper,
    *,
    db_url: str,
    calendar_url: str,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    api_keys: Mapping[str, str] | None = None,
) -> Service:
    """Start the service on a free port with the fast test schedules (overridable via `env`)."""
    full_env = dict(FAST_ENV)
    if api_keys:
        full_env["REHEARSAL_API_KEYS"] = ",".join(f"{k}:{t}" for k, t in api_keys.items())
    full_env.update(env or {})
    argv = [
        sys.executable, "-m", "service", "--port", "0",
        "--db-url", db_url, "--calendar-url", calendar_url,
    ]  # fmt: skip
    child, line = _start(reaper, argv, full_env, log_path)
    ready = json.loads(line)
    first_key = next(iter(api_keys)) if api_keys else None
    return Service(url=ready["url"], process=child, log_path=log_path, api_key=first_key)


def wait_until(predicate: Any, timeout_s: float = 15.0, interval_s: float = 0.1) -> Any:
    """Poll `predicate` until it returns something truthy; fail with its last value."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s} s (last value: {last!r})")
