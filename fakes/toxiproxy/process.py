"""Start `python -m fakes.toxiproxy` as a child process and wait until it is ready.

For code that wants the proxy out of its own process (its own GIL, its own crash domain): the
scenario runner under load, tests of the command line. Owns the child's lifecycle: start on a
free port (`--port 0`), read the ready line for the URL, stop with SIGTERM (then SIGKILL if it
does not exit in time). It must not talk to the API; `client.py` does.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType

__all__ = ["ToxiproxyProcess"]

_READY = re.compile(r"listening on (http://\S+)")
_REPO_ROOT = Path(__file__).resolve().parents[2]


class ToxiproxyProcess:
    """The embedded server as a child process; `url` is known once `start()` returns."""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, seed: int = 0, loop: str = "auto"
    ) -> None:
        self.args = [
            sys.executable,
            "-m",
            "fakes.toxiproxy",
            "--host",
            host,
            "--port",
            str(port),
            "--seed",
            str(seed),
            "--loop",
            loop,
        ]
        self.url = ""
        self.popen: subprocess.Popen[str] | None = None
        self._stderr: list[str] = []
        self._stderr_reader: threading.Thread | None = None

    def start(self, timeout_s: float = 15.0) -> ToxiproxyProcess:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_REPO_ROOT), env.get("PYTHONPATH")]))
        self.popen = subprocess.Popen(
            self.args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=_REPO_ROOT,
        )
        self._stderr_reader = threading.Thread(target=self._drain_stderr, daemon=True)
        self._stderr_reader.start()
        line = _readline_with_timeout(self.popen, timeout_s)
        match = _READY.search(line or "")
        if match is None:
            self.stop()
            detail = "".join(self._stderr).strip() or line or "no output"
            raise RuntimeError(f"toxiproxy process did not start: {detail}")
        self.url = match.group(1)
        return self

    @property
    def stderr_text(self) -> str:
        """What the child wrote to stderr so far (its log)."""
        return "".join(self._stderr)

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """SIGTERM, wait, SIGKILL if needed; returns the exit code. Idempotent."""
        popen = self.popen
        if popen is None:
            return None
        if popen.poll() is None:
            popen.terminate()
            try:
                popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait(timeout_s)
        if self._stderr_reader is not None:
            self._stderr_reader.join(timeout_s)  # it sees EOF once the child is gone
        for stream in (popen.stdout, popen.stderr):
            if stream is not None:
                stream.close()
        return popen.returncode

    def __enter__(self) -> ToxiproxyProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _drain_stderr(self) -> None:
        assert self.popen is not None and self.popen.stderr is not None
        for line in self.popen.stderr:
            self._stderr.append(line)


def _readline_with_timeout(popen: subprocess.Popen[str], timeout_s: float) -> str | None:
    result: list[str] = []

    def read() -> None:
        assert popen.stdout is not None
        result.append(popen.stdout.readline())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout_s)
    return result[0] if result else None
