"""Crash points in virtual time: which point is armed, for which passage, and the crash itself.

The twin of `service/crash_points.py`: the fault timeline arms a point (`scenarios.spec`
`CRASH_POINTS`) for its nth passage after `at_s`; the flows call `ServiceHost.crash_point(name)`
at the same seams as the service. The armed passage raises `ServiceCrashed` in the process that
reached it (nothing after the point runs, as with `kill -9`), and the switch disarms, as the
restarted service starts disarmed. Pure state; no clock, no randomness.
"""

from __future__ import annotations


class ServiceCrashed(Exception):
    """Raised in the process that reached an armed crash point: it dies on the spot."""


class CrashSwitch:
    """The armed crash point and how often it has been passed since it was armed."""

    def __init__(self) -> None:
        self.armed: str | None = None
        self.nth = 1
        self.hits = 0

    def arm(self, point: str, nth: int) -> None:
        self.armed, self.nth, self.hits = point, nth, 0

    def hit(self, point: str) -> bool:
        """Passed `point`: True when this passage is the armed one (the switch then disarms).

        >>> switch = CrashSwitch()
        >>> switch.arm("relay_after_claim", 2)
        >>> switch.hit("relay_after_claim"), switch.hit("relay_after_claim"), switch.armed
        (False, True, None)
        """
        if point != self.armed:
            return False
        self.hits += 1
        if self.hits < self.nth:
            return False
        self.armed = None
        return True
