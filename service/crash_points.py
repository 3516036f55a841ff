"""Named crash points: `REHEARSAL_CRASH_AT=name[:nth]` ends the process there with exit code 137.

Owns the arming, the count of passages and the exit; must not decide where points sit (the flows
call `hit(name)` at their seams). Free when disarmed: `hit` is one comparison. The twin counts
passages with the same `reached` and models the exit itself (`sim.sim_ports.SimCrash`). 137 is what a shell reports for a
process killed by SIGKILL, so the runner treats an armed crash like `kill -9`. Logs are flushed
first so the last line before the crash is on disk; nothing else runs (no finally blocks, no
atexit, no database commit), which is the point.
"""

from __future__ import annotations

import logging
import os
import sys

POINTS = frozenset(
    {
        "after_db_commit_before_calendar",
        "after_calendar_before_db_update",
        "relay_after_claim",
        "relay_after_calendar_before_mark",
    }
)
CRASH_EXIT_CODE = 137

log = logging.getLogger("service.crash_points")


class CrashPoints:
    """The armed point (if any) and how many times it has been reached."""

    def __init__(self, spec: str | None) -> None:
        self.armed: str | None = None
        self.nth = 1
        self._hits = 0
        self.arm(spec)

    def arm(self, spec: str | None) -> None:
        """Arm `name[:nth]` from now on (hits before this call do not count); None disarms."""
        self.armed, self.nth, self._hits = None, 1, 0
        if spec:
            name, _, nth = spec.partition(":")
            if name not in POINTS:
                raise ValueError(
                    f"REHEARSAL_CRASH_AT names an unknown crash point {name!r}; "
                    f"use one of {sorted(POINTS)} (optionally name:nth)"
                )
            if nth and (not nth.isdigit() or int(nth) < 1):
                raise ValueError(f"REHEARSAL_CRASH_AT nth must be an integer >= 1 (got {nth!r})")
            self.armed = name
            self.nth = int(nth) if nth else 1

    def reached(self, name: str) -> bool:
        """A flow passes point `name`: True when this is the armed passage (the point then
        disarms, as a restarted process starts disarmed).

        >>> points = CrashPoints("relay_after_claim:2")
        >>> points.reached("relay_after_claim"), points.reached("relay_after_claim"), points.armed
        (False, True, None)
        """
        if name != self.armed:
            return False
        self._hits += 1
        if self._hits < self.nth:
            return False
        self.armed = None
        return True

    def hit(self, name: str) -> None:
        """Reached point `name`: exit with 137 if it is armed and this is its nth hit."""
        if name != self.armed:
            return
        hits = self._hits + 1
        if self.reached(name):
            log.warning("crash point reached; exiting", extra={"crash_point": name, "hit": hits})
            for handler in logging.getLogger().handlers:
                handler.flush()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(CRASH_EXIT_CODE)
