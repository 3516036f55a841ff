"""WAL checkpoints for SQLite on a thread of their own, off the event loop.

Why: in WAL mode SQLite copies the log back into the database file (a checkpoint) from inside
whichever COMMIT pushes the log past `wal_autocheckpoint` pages. Our statements run on the event
loop's thread (`service.db.sqlite_on_loop`), so that COMMIT — a few megabytes written and, with
`synchronous=NORMAL`, an fsync — stalled every in-flight request; under load the commits with a
checkpoint were the slowest by far. Here a daemon thread with its own connection runs a PASSIVE
checkpoint every `INTERVAL_S` (it never takes the writer's lock, so writers never wait for it,
and sqlite3 releases the GIL while it copies). The connections of the loop keep a high
auto-checkpoint threshold (`BACKSTOP_PAGES`) only as a backstop should this thread fall behind.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger("service.db")

INTERVAL_S = 0.2
BACKSTOP_PAGES = 20_000  # ~80 MB of log at 4 KiB pages


class Checkpointer:
    def __init__(self, path: str, interval_s: float = INTERVAL_S) -> None:
        self.path = path
        self.interval_s = interval_s
        self.checkpoints = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoints", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            connection = sqlite3.connect(self.path, timeout=0, check_same_thread=False)
        except sqlite3.Error as exc:
            log.warning("no background WAL checkpoints", extra={"detail": str(exc)})
            return
        try:
            while not self._stop.wait(self.interval_s):
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                except sqlite3.OperationalError:
                    continue  # busy with another checkpoint (the backstop): try next time
        finally:
            connection.close()
