"""When each request of the load is due: the offered rate made exact, steps included.

The n-th request of the whole load (0-based) is due when the offered rate, integrated from the
start, reaches n. User k of U sends requests n = k, k + U, k + 2U, ... so the users together offer
exactly the scenario's rate — at every step of a shape, from the step's first instant — and start
spread out instead of all at once. A user that falls behind (a slow service) sends its next
request at once: at most U requests are ever in flight, as with real clients. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence


def arrival_time_s(n: float, steps: Sequence[tuple[float, float]]) -> float:
    """Seconds from the start at which the cumulative offered count reaches `n`.

    `steps`: (at_s, rate_rps) in time order, the first at 0; the last step's rate holds forever.

    >>> arrival_time_s(15, [(0.0, 10.0), (1.0, 50.0)])
    1.1
    """
    done = 0.0
    for index, (at_s, rate) in enumerate(steps):
        end = steps[index + 1][0] if index + 1 < len(steps) else float("inf")
        in_step = rate * (end - at_s)
        if n <= done + in_step:
            return at_s + (n - done) / rate
        done += in_step
    raise ValueError("unreachable: the last step never ends")  # pragma: no cover


def user_request_due_s(
    user: int, users: int, sent: int, steps: Sequence[tuple[float, float]]
) -> float:
    """When user `user` (of `users`) should send its request number `sent` (0-based)."""
    return arrival_time_s(sent * users + user, steps)
