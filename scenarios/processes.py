"""Child processes of a run: start, wait until ready, stop — and never leave one behind.

Owns: `ManagedProcess` (one child, its log file, its readiness probe) and `ProcessGroup` (every
child of a run, stopped in reverse order on success, failure, SIGTERM and Ctrl-C). Children run in
their own session so a terminal's Ctrl-C reaches only the runner, which then ends them by PID.
I/O: subprocesses, log files, loopback HTTP probes. Time: the wall clock, for bounds only.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx


class HarnessError(RuntimeError):
    """The harness itself could not run (exit code 2): a port taken, a process that did not start."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago on `host` (the child binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


class ManagedProcess:
    """One child process with its log file and an HTTP readiness probe."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        ready_url: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.ready_url = ready_url
        self.env = dict(os.environ if env is None else env)
        self.cwd = cwd
        self._popen: subprocess.Popen[bytes] | None = None
        self._log = None

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen else None

    @property
    def returncode(self) -> int | None:
        return self._popen.poll() if self._popen else None

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._popen = subprocess.Popen(
            self.argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
        )
        return self

    def wait_ready(self, timeout_s: float = 20.0) -> None:
        """Poll the readiness URL until it answers 200; fail fast if the child exits first."""
        if self.ready_url is None:
            return
        deadline = time.monotonic() + timeout_s
        last_error = "no answer yet"
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                code = self.returncode
                if code is not None:
                    raise HarnessError(
                        f"{self.name} exited with code {code} before it was ready; "
                        f"last lines of {self.log_path}:\n{self.log_tail()}"
                    )
                try:
                    response = client.get(self.ready_url)
                    if response.status_code == 200:
                        return
                    last_error = f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    last_error = type(exc).__name__
                time.sleep(0.05)
        raise HarnessError(
            f"{self.name} was not ready at {self.ready_url} within {timeout_s:.0f} s ({last_error}); "
            f"last lines of {self.log_path}:\n{self.log_tail()}"
        )

    def wait_exit(self, timeout_s: float) -> int | None:
        """The exit code, or None if it is still running after `timeout_s`."""
        if self._popen is None:
            return None
        try:
            return self._popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout_s: float = 5.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout_s`; by PID, only our own child."""
        popen = self._popen
        if popen is not None and popen.poll() is None:
            try:
                popen.send_signal(signal.SIGTERM)
                popen.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait(timeout=timeout_s)
            except ProcessLookupError:
                pass
        if self._log is not None:
            self._log.close()
            self._log = None
        return popen.returncode if popen else None

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


class ProcessGroup:
    """Every child of a run; `with ProcessGroup() as group:` stops them all on the way out."""

    def __init__(self) -> None:
        self.processes: list[ManagedProcess] = []

    def add(self, process: ManagedProcess) -> ManagedProcess:
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()


class TerminationRequested(BaseException):
    """SIGTERM arrived: unwind like Ctrl-C so every `finally` and `with` cleans up."""


def install_sigterm_handler() -> None:
    """Turn SIGTERM into an exception in the main thread, so teardown code runs."""

    def _raise(signum: int, frame: object) -> None:
        raise TerminationRequested(f"signal {signum}")

    signal.signal(signal.SIGTERM, _raise)
