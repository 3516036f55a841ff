"""A PostgreSQL server of a test's own: initdb in a temporary directory, started on a free
loopback port with pg_ctl, restarted, stopped and started again at the test's command, and always
removed. Never the shared server on 5432.

Owns finding the installed binaries (the PostgreSQL lib directory, newest version first), running
them as a user initdb accepts (initdb refuses root: as root they run as `postgres` via runuser),
and cleanup: `close()` stops the server immediately and deletes its directory, and is safe to
call after any failure.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

BIN_GLOB = "/usr/lib/postgresql/*/bin"


def find_binaries() -> Path | None:
    """The newest installed PostgreSQL bin directory holding initdb and pg_ctl, or None."""

    def version(path: str) -> tuple[int, ...]:
        part = Path(path).parent.name
        return tuple(int(p) for p in part.split(".") if p.isdigit())

    for candidate in sorted(glob.glob(BIN_GLOB), key=version, reverse=True):
        directory = Path(candidate)
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    return None


def unusable_reason() -> str | None:
    """Why a private server cannot be run here, or None when it can."""
    if find_binaries() is None:
        return f"no PostgreSQL binaries (initdb, pg_ctl) under {BIN_GLOB}"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run initdb as"
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing (needed to run initdb as postgres)"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PrivatePostgres:
    """One throwaway server: `start()`, `restart()`, `stop()`, `close()`."""

    def __init__(self) -> None:
        binaries = find_binaries()
        assert binaries is not None, unusable_reason()
        self.bin = binaries
        # Not pytest's tmp_path: that is private to the test's user, and the server runs as postgres.
        self.base = Path(tempfile.mkdtemp(prefix="rehearsal-pg-"))
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.port = _free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.base, owner.pw_uid, owner.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        result = subprocess.run(
            [*self._as_user, str(self.bin / tool), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{tool} {' '.join(args)} exited {result.returncode}:\n{result.stdout}"
                f"{result.stderr}\n{log}"
            )

    def _options(self) -> str:
        return (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off"
        )

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-o", self._options(), "-l", str(self.log),
                  "-w", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-o", self._options(),
                  "-l", str(self.log), "-w", "restart")  # fmt: skip

    def close(self) -> None:
        """Stop the server if it runs (immediately) and delete everything it wrote. If pg_ctl
        cannot stop it, the postmaster this object started is killed by its pid."""
        pid_file = self.data / "postmaster.pid"
        try:
            if pid_file.exists():
                pid = int(pid_file.read_text().split("\n", 1)[0])
                try:
                    self.stop(mode="immediate")
                except (RuntimeError, subprocess.TimeoutExpired):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
