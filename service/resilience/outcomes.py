"""How one call to the calendar provider ended, in the terms the retry plan decides on.

Pure: classification only looks at what the caller observed (a status code, or whether the request
may have reached the provider before the transport failed).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class OutcomeKind(Enum):
    OK = "ok"
    RETRYABLE = "retryable"  # the provider did not act; trying again is safe
    PERMANENT = "permanent"  # the provider refused; trying again cannot help
    AMBIGUOUS = "ambiguous"  # the provider may have committed; only safe to retry with a key


# Statuses that say "not now" without having done anything.
_RETRYABLE_STATUSES = frozenset({408, 425, 429, 502, 503, 504})


@dataclass(frozen=True)
class Outcome:
    """What an attempt came to, and when (`now`) the caller saw it."""

    kind: OutcomeKind
    now: float
    retry_after_s: float | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.kind is OutcomeKind.OK


def classify_status(status: int) -> OutcomeKind:
    """Classify an HTTP status from the provider.

    2xx is OK; 408/425/429/502/503/504 are retryable; any other 5xx (a 500 above all) is
    ambiguous, since the provider may have written before failing; other 4xx are permanent.

    >>> classify_status(503), classify_status(500), classify_status(400)
    (<OutcomeKind.RETRYABLE: 'retryable'>, <OutcomeKind.AMBIGUOUS: 'ambiguous'>, \
<OutcomeKind.PERMANENT: 'permanent'>)
    """
    if 200 <= status < 300:
        return OutcomeKind.OK
    if status in _RETRYABLE_STATUSES:
        return OutcomeKind.RETRYABLE
    if status >= 500:
        return OutcomeKind.AMBIGUOUS
    return OutcomeKind.PERMANENT


def classify_transport_error(request_sent: bool) -> OutcomeKind:
    """Classify a failure with no response: a connect failure is retryable; once the request
    may have been sent (read timeout, reset, dropped connection) it is ambiguous."""
    return OutcomeKind.AMBIGUOUS if request_sent else OutcomeKind.RETRYABLE
